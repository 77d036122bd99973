/**
 * Configuration without a database: precedence (defaults < TOML < PGTRICKLE_* < flags, key by
 * key), validation errors with stable codes naming the key and the source, the file rules, the
 * URL-or-parts connection, and the CLI's exit codes for configuration and usage errors.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, connectionString, describeConfig, loadConfig, main, redactUrl } from '../src/index.js';
import { captureIo } from './support/io.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'pgt-sidecar-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, content: string): string {
  const p = path.join(dir, name);
  writeFileSync(p, content);
  return p;
}

function error(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

const TOML = `
[connection]
url = "postgres://file@db.example:5432/app"

[scheduler]
poll_interval_ms = 500
concurrency = 2

[refresh]
auto_full_ratio = 0.3
max_consecutive_errors = 5
fuse_default_ceiling = 5000

[leader]
lease_ms = 20000
holder = "from-file"

[log]
level = "warn"
format = "json"
`;

describe('precedence', () => {
  it('uses the built-in defaults when nothing is given', () => {
    const { config, sources, file: f } = loadConfig({ env: {}, cwd: dir });
    expect(f).toBeNull();
    expect(config.scheduler).toEqual({
      pollIntervalMs: 1000,
      concurrency: 4,
      tickBound: true,
      debounceMs: 25,
      minWakeIntervalMs: 50,
      maintenanceIntervalMs: 10_000,
      watermarkHoldbackTimeoutMs: 0,
    });
    expect(config.refresh).toEqual({
      autoFullRatio: 0.15,
      maxConsecutiveErrors: 3,
      maxPinnedRows: 100_000,
      fuseDefaultCeiling: 0,
    });
    expect(config.retention).toEqual({
      historyMaxAgeHours: 168,
      historyMaxRows: 10_000,
      requestsMaxAgeHours: 24,
    });
    expect(config.connection.startRetryS).toBe(0);
    expect(config.leader).toEqual({ leaseMs: 10_000, holder: null });
    expect(config.log).toEqual({ level: 'info', format: 'auto' });
    expect(config.connection.url).toBeNull();
    expect(sources['scheduler.poll_interval_ms']).toEqual({ kind: 'default' });
  });

  it('layers file < environment < flags, key by key', () => {
    const f = file('layers.toml', TOML);
    const loaded = loadConfig({
      configPath: f,
      env: { PGTRICKLE_POLL_INTERVAL_MS: '250', PGTRICKLE_LOG_LEVEL: 'debug', PGTRICKLE_CONCURRENCY: '8' },
      flags: { 'poll-interval-ms': '100' },
      cwd: dir,
    });
    const { config, sources } = loaded;
    expect(config.scheduler.pollIntervalMs).toBe(100); // flag beats env beats file
    expect(sources['scheduler.poll_interval_ms']).toEqual({ kind: 'flag', name: 'poll-interval-ms' });
    expect(config.scheduler.concurrency).toBe(8); // env beats file
    expect(sources['scheduler.concurrency']).toEqual({ kind: 'env', name: 'PGTRICKLE_CONCURRENCY' });
    expect(config.log.level).toBe('debug');
    expect(config.log.format).toBe('json'); // file beats default
    expect(sources['log.format']).toEqual({ kind: 'file', path: f });
    expect(config.refresh).toEqual({
      autoFullRatio: 0.3,
      maxConsecutiveErrors: 5,
      maxPinnedRows: 100_000,
      fuseDefaultCeiling: 5000,
    });
    expect(config.leader).toEqual({ leaseMs: 20_000, holder: 'from-file' });
    expect(config.scheduler.debounceMs).toBe(25); // nobody set it
    expect(describeConfig(loaded)).toContain('scheduler.poll_interval_ms = 100  (flag --poll-interval-ms)');
  });

  it('finds the file through PGTRICKLE_CONFIG, else ./pgtrickle.toml, --config first', () => {
    const named = file('named.toml', '[scheduler]\nconcurrency = 3\n');
    const sub = mkdtempSync(path.join(dir, 'cwd-'));
    writeFileSync(path.join(sub, 'pgtrickle.toml'), '[scheduler]\nconcurrency = 5\n');
    expect(loadConfig({ env: {}, cwd: sub }).config.scheduler.concurrency).toBe(5);
    expect(loadConfig({ env: { PGTRICKLE_CONFIG: named }, cwd: sub }).config.scheduler.concurrency).toBe(3);
    const other = file('other.toml', '[scheduler]\nconcurrency = 7\n');
    expect(
      loadConfig({ env: { PGTRICKLE_CONFIG: named }, configPath: other, cwd: sub }).config.scheduler
        .concurrency,
    ).toBe(7);
  });

  it('takes the connection from the highest-precedence source: URL or parts', () => {
    const parts = file(
      'parts.toml',
      '[connection]\nhost = "db.internal"\nport = 6432\ndatabase = "shop"\nuser = "app"\n',
    );
    const fromFile = loadConfig({ configPath: parts, env: {}, cwd: dir });
    expect(connectionString(fromFile, {})).toBe('postgres://app@db.internal:6432/shop');
    const envUrl = loadConfig({
      configPath: parts,
      env: { PGTRICKLE_DATABASE_URL: 'postgres://u:p@elsewhere/x' },
      cwd: dir,
    });
    expect(connectionString(envUrl, {})).toBe('postgres://u:p@elsewhere/x');
    const urlFile = file('url.toml', TOML);
    const flagHost = loadConfig({ configPath: urlFile, flags: { host: 'flaghost' }, env: {}, cwd: dir });
    expect(connectionString(flagHost, {})).toMatch(/^postgres:\/\/[^@]+@flaghost:5432\//);
  });

  it('reads the password from the variable named by password_env, never from the file', () => {
    const f = file(
      'pw.toml',
      '[connection]\nhost = "h"\nuser = "app"\ndatabase = "d"\npassword_env = "APP_DB_PASSWORD"\n',
    );
    const loaded = loadConfig({ configPath: f, env: {}, cwd: dir });
    expect(connectionString(loaded, { APP_DB_PASSWORD: 's3cr:t' })).toBe('postgres://app:s3cr%3At@h:5432/d');
    const missing = error(() => connectionString(loaded, {}));
    expect(missing.code).toBe('PGT_CONFIG_INVALID');
    expect(missing.message).toContain('APP_DB_PASSWORD, which is not set');
    expect(missing.message).toContain(`config file ${f}`);
    const url = loadConfig({
      env: { PGTRICKLE_DATABASE_URL: 'postgres://app:old@h/d', PGTRICKLE_DB_PASSWORD_ENV: 'PW' },
      cwd: dir,
    });
    expect(connectionString(url, { PW: 'new' })).toBe('postgres://app:new@h/d');
    expect(redactUrl('postgres://app:new@h/d')).toBe('postgres://app:***@h/d');
  });
});

describe('validation', () => {
  it('names the key, the expected value and the source', () => {
    const env = error(() => loadConfig({ env: { PGTRICKLE_POLL_INTERVAL_MS: 'fast' }, cwd: dir }));
    expect(env.code).toBe('PGT_CONFIG_INVALID');
    expect(env.key).toBe('scheduler.poll_interval_ms');
    expect(env.source).toEqual({ kind: 'env', name: 'PGTRICKLE_POLL_INTERVAL_MS' });
    expect(env.message).toBe(
      'scheduler.poll_interval_ms must be an integer ≥ 10, got "fast" (from environment variable PGTRICKLE_POLL_INTERVAL_MS).',
    );
    expect(env.exitCode).toBe(1);

    const flag = error(() => loadConfig({ flags: { 'auto-full-ratio': '1.5' }, env: {}, cwd: dir }));
    expect(flag.message).toContain(
      'refresh.auto_full_ratio must be a number greater than 0 and at most 1, got "1.5"',
    );
    expect(flag.message).toContain('(from flag --auto-full-ratio)');
    expect(flag.exitCode).toBe(2); // a bad flag is a usage error

    const f = file('bad-type.toml', '[scheduler]\nconcurrency = "four"\n');
    const typed = error(() => loadConfig({ configPath: f, env: {}, cwd: dir }));
    expect(typed.message).toContain(
      `scheduler.concurrency must be an integer from 1 to 256, got "four" (from config file ${f})`,
    );

    const level = error(() => loadConfig({ env: { PGTRICKLE_LOG_LEVEL: 'loud' }, cwd: dir }));
    expect(level.message).toContain(
      'log.level must be one of trace, debug, info, warn, error, fatal, silent',
    );
    const url = error(() => loadConfig({ flags: { 'database-url': 'mysql://x' }, env: {}, cwd: dir }));
    expect(url.message).toContain('connection.url must be a postgres:// or postgresql:// URL');
    const fraction = error(() => loadConfig({ env: { PGTRICKLE_LEASE_MS: '1.5' }, cwd: dir }));
    expect(fraction.key).toBe('leader.lease_ms');
  });

  it('refuses unknown keys and sections in the file, and says what is known', () => {
    const typo = error(() =>
      loadConfig({ configPath: file('typo.toml', '[scheduler]\npoll_interval = 5\n'), env: {}, cwd: dir }),
    );
    expect(typo.code).toBe('PGT_CONFIG_UNKNOWN_KEY');
    expect(typo.key).toBe('scheduler.poll_interval');
    expect(typo.message).toContain(
      'known keys of [scheduler]: scheduler.poll_interval_ms, scheduler.concurrency, scheduler.tick_bound, scheduler.debounce_ms, scheduler.min_wake_interval_ms',
    );
    const section = error(() =>
      loadConfig({ configPath: file('sect.toml', '[metrics]\nport = 1\n'), env: {}, cwd: dir }),
    );
    expect(section.code).toBe('PGT_CONFIG_UNKNOWN_KEY');
    expect(section.message).toContain('Unknown section "metrics"');
  });

  it('reports a missing named file and invalid TOML', () => {
    const missing = error(() => loadConfig({ configPath: path.join(dir, 'nope.toml'), env: {}, cwd: dir }));
    expect(missing.code).toBe('PGT_CONFIG_FILE');
    expect(missing.message).toContain('it does not exist');
    expect(missing.message).toContain('(named by flag --config)');
    const viaEnv = error(() =>
      loadConfig({ env: { PGTRICKLE_CONFIG: path.join(dir, 'gone.toml') }, cwd: dir }),
    );
    expect(viaEnv.message).toContain('named by environment variable PGTRICKLE_CONFIG');
    const broken = error(() =>
      loadConfig({ configPath: file('broken.toml', '[scheduler\nx = 1'), env: {}, cwd: dir }),
    );
    expect(broken.code).toBe('PGT_CONFIG_FILE');
    expect(broken.message).toContain('is not valid TOML');
  });

  it("falls back to pg's defaults when no connection is configured", () => {
    const loaded = loadConfig({ env: {}, cwd: dir });
    expect(connectionString(loaded, { USER: 'alice' })).toBe('postgres://alice@localhost:5432/alice');
  });
});

describe('the CLI on configuration and usage errors', () => {
  it('prints one line with the code and exits 1 for a bad environment value, 2 for a bad flag', async () => {
    const env = captureIo({ env: { PGTRICKLE_POLL_INTERVAL_MS: '0' }, cwd: dir });
    expect(await main(['status'], env)).toBe(1);
    expect(env.stderrText()).toBe(
      'pgtrickle status: PGT_CONFIG_INVALID: scheduler.poll_interval_ms must be an integer ≥ 10, got "0" (from environment variable PGTRICKLE_POLL_INTERVAL_MS).\n',
    );
    const flag = captureIo({ env: {}, cwd: dir });
    expect(await main(['status', '--concurrency', '0'], flag)).toBe(2);
    expect(flag.stderrText()).toMatch(
      /^pgtrickle status: PGT_CONFIG_INVALID: scheduler\.concurrency .*\(from flag --concurrency\)\.\n$/,
    );
  });

  it('exits 2 for an unknown command or option and a missing argument, 0 for --help', async () => {
    for (const argv of [['frobnicate'], ['status', '--no-such-flag'], ['create', 'x'], ['drop']]) {
      const io = captureIo({ env: {}, cwd: dir });
      expect(await main(argv, io), argv.join(' ')).toBe(2);
      expect(io.stderrText()).toMatch(/PGT_USAGE: /);
      expect(io.stderrText().trim().split('\n')).toHaveLength(1);
    }
    const help = captureIo({ env: {}, cwd: dir });
    expect(await main(['--help'], help)).toBe(0);
    expect(help.stdoutText()).toContain('Usage: pgtrickle');
    for (const cmd of [
      'run',
      'create',
      'drop',
      'refresh',
      'status',
      'explain',
      'migrate',
      'plan',
      'doctor',
      'demo',
    ])
      expect(help.stdoutText()).toContain(`  ${cmd}`);
    const none = captureIo({ env: {}, cwd: dir });
    expect(await main([], none)).toBe(2);
  });

  it("says that pg's defaults were used when a command has no connection configured", async () => {
    const io = captureIo({ env: {}, cwd: dir });
    expect(await main(['status'], io)).toBe(1);
    expect(io.stderrText()).toMatch(
      /^pgtrickle status: PGT_CONNECTION: Cannot connect to postgres:\/\/.*@localhost:5432\//,
    );
    expect(io.stderrText()).toContain("so pg's defaults were used: pass --database-url or -c");
  });
});
