/**
 * The command-line conventions a newcomer expects: the connection from a flag, `-c`, the
 * environment (`PGTRICKLE_DATABASE_URL`, `DATABASE_URL`, libpq's `PG*`), the config file or pg's
 * defaults, in that order; `--json` on every command, errors as `{"error":{code,message,hint}}`;
 * `NO_COLOR` and non-terminals respected by the progress line; each command's help listing the
 * global options and an example; `status --watch`; every hint naming a command that exists.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { useTestDatabase } from '@pgtrickle/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  connectionString,
  describeConnectionSource,
  EXAMPLES,
  errorJson,
  hasOwnDatabase,
  type LineSink,
  loadConfig,
  main,
  startProgress,
} from '../src/index.js';
import { captureIo } from './support/io.js';
import { repoRoot, startCli } from './support/process.js';

const db = useTestDatabase();
const dir = mkdtempSync(path.join(os.tmpdir(), 'pgt-conventions-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const FILE_URL = 'postgres://file@file-host:5432/file_db';
const configFile = path.join(dir, 'pgtrickle.toml');
writeFileSync(configFile, `[connection]\nurl = "${FILE_URL}"\n`);

/** The connection string resolved from flags and environment, with the config file present. */
function resolve(env: Record<string, string>, flags: Record<string, string> = {}): string {
  return connectionString(loadConfig({ env, flags, configPath: configFile, cwd: dir }), env);
}

describe('where the connection comes from', () => {
  it('flag > PGTRICKLE_DATABASE_URL > DATABASE_URL > PG* > config file > pg defaults', () => {
    const all = {
      PGTRICKLE_DATABASE_URL: 'postgres://pgt@pgt-host/pgt_db',
      DATABASE_URL: 'postgres://du@du-host/du_db',
      PGHOST: 'pg-host',
      PGUSER: 'pg_user',
      PGDATABASE: 'pg_db',
      PGPORT: '6543',
    };
    expect(resolve(all, { 'database-url': 'postgres://flag@flag-host/flag_db' })).toBe(
      'postgres://flag@flag-host/flag_db',
    );
    expect(resolve(all)).toBe('postgres://pgt@pgt-host/pgt_db');
    const { PGTRICKLE_DATABASE_URL: _a, ...noPgt } = all;
    expect(resolve(noPgt)).toBe('postgres://du@du-host/du_db');
    const { DATABASE_URL: _b, ...onlyPg } = noPgt;
    expect(resolve(onlyPg)).toBe('postgres://pg_user@pg-host:6543/pg_db');
    expect(resolve({})).toBe(FILE_URL);
    const none = loadConfig({ env: {}, cwd: mkdtempSync(path.join(dir, 'empty-')) });
    expect(connectionString(none, { USER: 'bob' })).toBe('postgres://bob@localhost:5432/bob');
    expect(describeConnectionSource(none)).toMatch(/^pg's defaults/);
  });

  it('names the source, fills the password from PGPASSWORD and sslmode from PGSSLMODE', () => {
    const env = { PGHOST: 'h', PGUSER: 'u', PGPASSWORD: 's3cret', PGSSLMODE: 'require' };
    const loaded = loadConfig({ env, cwd: dir, configPath: configFile });
    expect(connectionString(loaded, env)).toBe('postgres://u:s3cret@h:5432/u?sslmode=require');
    expect(describeConnectionSource(loaded)).toBe('environment variable PGHOST, environment variable PGUSER');
    // A password in the URL is kept; a Unix-socket directory goes in the host parameter.
    expect(resolve({ DATABASE_URL: 'postgres://a:inline@x/db', PGPASSWORD: 'other' })).toBe(
      'postgres://a:inline@x/db',
    );
    expect(resolve({ PGHOST: '/var/run/postgresql', PGUSER: 'u' })).toBe(
      'postgres://u@localhost:5432/u?host=%2Fvar%2Frun%2Fpostgresql',
    );
  });

  it('an invalid conventional variable is an error naming it', () => {
    expect(() => loadConfig({ env: { PGPORT: 'abc' }, cwd: dir })).toThrow(
      /connection\.port must be an integer from 1 to 65535, got "abc" \(from environment variable PGPORT\)/,
    );
  });

  it('the demo uses a database only when pgtrickle itself is told of one', () => {
    const cwd = mkdtempSync(path.join(dir, 'demo-'));
    expect(hasOwnDatabase(loadConfig({ env: { DATABASE_URL: 'postgres://x/y' }, cwd }))).toBe(false);
    expect(hasOwnDatabase(loadConfig({ env: { PGHOST: 'x' }, cwd }))).toBe(false);
    expect(hasOwnDatabase(loadConfig({ env: { PGTRICKLE_DATABASE_URL: 'postgres://x/y' }, cwd }))).toBe(true);
    expect(hasOwnDatabase(loadConfig({ env: {}, cwd, flags: { 'database-url': 'postgres://x/y' } }))).toBe(
      true,
    );
  });

  it('the CLI connects through DATABASE_URL, the PG* variables and -c', async () => {
    const u = new URL(db.url);
    const pgEnv = {
      PGHOST: u.hostname,
      PGPORT: u.port,
      PGDATABASE: decodeURIComponent(u.pathname.slice(1)),
      PGUSER: decodeURIComponent(u.username),
      PGPASSWORD: decodeURIComponent(u.password),
    };
    for (const [argv, env] of [
      [['migrate'], { DATABASE_URL: db.url }],
      [['migrate'], pgEnv],
      [['migrate', '-c', db.url], {}],
      [['-c', db.url, 'migrate'], { DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' }],
    ] as const) {
      const io = captureIo({ env: { ...env }, cwd: dir });
      expect(await main([...argv], io), io.stderrText()).toBe(0);
      expect(io.stdoutText()).toMatch(/pgtrickle catalog is (at|up to date)/);
    }
    const both = captureIo({ env: {}, cwd: dir });
    expect(await main(['migrate', '-c', db.url, '--database-url', db.url], both)).toBe(2);
    expect(both.stderrText()).toMatch(
      /PGT_USAGE: option '-c, --connection <url>' cannot be used with option '--database-url/,
    );
  });
});

describe('--json', () => {
  const env = () => ({ PGTRICKLE_DATABASE_URL: db.url, PGTRICKLE_LOG_LEVEL: 'warn' });
  const json = async (argv: string[]) => {
    const io = captureIo({ env: env(), cwd: dir });
    const code = await main([...argv, '--json'], io);
    return { code, out: io.stdoutText(), err: io.stderrText() };
  };

  beforeAll(async () => {
    await db.query('CREATE TABLE IF NOT EXISTS items (id int PRIMARY KEY, kind text NOT NULL)');
    await db.query(
      `INSERT INTO items SELECT g, 'k' || (g % 3) FROM generate_series(1, 30) g ON CONFLICT DO NOTHING`,
    );
  });

  it('every command prints one JSON document', async () => {
    const migrate = await json(['migrate']);
    expect(migrate.code, migrate.err).toBe(0);
    expect(JSON.parse(migrate.out)).toMatchObject({
      version: expect.any(Number),
      applied: expect.any(Array),
    });
    const plan = await json(['plan']);
    expect(JSON.parse(plan.out)).toMatchObject({
      from: expect.any(Number),
      to: expect.any(Number),
      sql: expect.any(String),
    });
    const create = await json([
      'create',
      'kinds',
      '--query',
      'SELECT kind, count(*) AS n FROM items GROUP BY kind',
    ]);
    expect(create.code, create.err).toBe(0);
    expect(JSON.parse(create.out)).toMatchObject({ name: 'public.kinds', effectiveMode: 'DIFFERENTIAL' });
    const refresh = await json(['refresh', 'kinds']);
    expect(JSON.parse(refresh.out)).toMatchObject({ name: 'public.kinds', ms: expect.any(Number) });
    const status = await json(['status']);
    expect(JSON.parse(status.out)).toEqual([expect.objectContaining({ name: 'public.kinds' })]);
    const explain = await json(['explain', 'kinds']);
    expect(JSON.parse(explain.out)).toMatchObject({ name: 'public.kinds', mode: 'DIFFERENTIAL' });
    const doctor = await json(['doctor']);
    expect(Array.isArray(JSON.parse(doctor.out).checks ?? JSON.parse(doctor.out))).toBe(true);
    const resume = await json(['resume', 'kinds']);
    expect(JSON.parse(resume.out)).toMatchObject({ name: 'public.kinds', status: 'ACTIVE' });
    const drop = await json(['drop', 'kinds']);
    expect(JSON.parse(drop.out)).toEqual({ dropped: ['public.kinds'] });
  });

  it('run logs JSON lines even on a terminal', async () => {
    const controller = new AbortController();
    let err = '';
    const io = {
      ...captureIo({ env: env(), cwd: dir }),
      env: { PGTRICKLE_DATABASE_URL: db.url, PGTRICKLE_POLL_INTERVAL_MS: '50' },
      stop: controller.signal,
      stderr: {
        isTTY: true,
        write: (chunk: string) => {
          err += chunk;
          if (err.includes('"event":"started"')) controller.abort('test');
          return true;
        },
      },
    };
    expect(await main(['run', '--json'], io)).toBe(0);
    const lines = err.trim().split('\n');
    expect(lines.length).toBeGreaterThan(1);
    for (const line of lines) expect(() => JSON.parse(line), line).not.toThrow();
    expect(lines.map((l) => (JSON.parse(l) as { event?: string }).event)).toEqual(
      expect.arrayContaining(['starting', 'started', 'stopped']),
    );
  });

  it('the demo prints JSON lines: start, status, rounds, summary', async () => {
    const io = captureIo({ env: env(), cwd: dir });
    const code = await main(['demo', '--duration', '1', '--verify-every', '1', '--rate', '2', '--json'], io);
    expect(code, io.stderrText()).toBe(0);
    const lines = io
      .stdoutText()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; failedRounds?: number });
    expect(lines[0]?.type).toBe('start');
    expect(lines.map((l) => l.type)).toEqual(expect.arrayContaining(['status', 'round']));
    expect(lines.at(-1)).toMatchObject({ type: 'summary', failedRounds: 0 });
  });

  it('errors are {"error":{code,message,hint}} on stderr, with the same exit codes', async () => {
    const missing = await json(['refresh', 'no_such_table']);
    expect(missing.code).toBe(1);
    expect(missing.out).toBe('');
    expect(JSON.parse(missing.err)).toEqual({
      error: {
        code: 'PGT_NOT_FOUND',
        message: expect.any(String),
        hint: 'list the stream tables: pgtrickle status',
      },
    });
    const usage = captureIo({ env: {}, cwd: dir });
    expect(await main(['status', '--json', '--bogus'], usage)).toBe(2);
    expect(JSON.parse(usage.stderrText())).toEqual({
      error: { code: 'PGT_USAGE', message: "unknown option '--bogus'", hint: 'see pgtrickle status --help' },
    });
    const down = captureIo({ env: { DATABASE_URL: 'postgres://u@127.0.0.1:1/d' }, cwd: dir });
    expect(await main(['status', '--json'], down)).toBe(1);
    const e = JSON.parse(down.stderrText()).error;
    expect(e.code).toBe('PGT_CONNECTION');
    expect(e.hint).toContain('pgtrickle doctor');
    expect(e.hint).toContain('this connection came from environment variable DATABASE_URL');
    const sql = await json(['create', 'bad', '--query', 'SELECT * FROM no_such_relation']);
    expect(sql.code).toBe(1);
    expect(Object.keys(JSON.parse(sql.err).error)).toEqual(
      expect.arrayContaining(['code', 'message', 'hint']),
    );
    // A database error keeps its SQLSTATE apart from the code.
    expect(errorJson(Object.assign(new Error('boom'), { code: '42P01' }), 'x')).toEqual({
      error: { code: 'PGT_DATABASE', message: 'boom', hint: null, sqlstate: '42P01' },
    });
  });
});

describe('colours and the progress line', () => {
  const sink = (isTTY: boolean): LineSink & { text: () => string } => {
    let text = '';
    return {
      isTTY,
      write: (s: string) => {
        text += s;
        return true;
      },
      text: () => text,
    };
  };
  const ESC_COLOR = new RegExp(`${String.fromCharCode(27)}\\[(3\\d|90)m`);

  it('draws nothing when the output is not a terminal or TERM is dumb', () => {
    for (const [s, env] of [
      [sink(false), {}],
      [sink(true), { TERM: 'dumb' }],
    ] as const) {
      const p = startProgress('working', { sink: s, env });
      p.succeed('done');
      expect(s.text()).toBe('');
    }
  });

  it('pretty log lines on a terminal have colours, and none with NO_COLOR', async () => {
    const run = async (env: Record<string, string>) => {
      const err = sink(true);
      const io = {
        ...captureIo({ cwd: dir }),
        env: { PGTRICKLE_DATABASE_URL: db.url, ...env },
        stderr: err,
      };
      expect(await main(['migrate', '--log-level', 'debug', '--log-format', 'pretty'], io)).toBe(0);
      expect(err.text()).toContain('config');
      return err.text();
    };
    expect(await run({})).toMatch(ESC_COLOR);
    expect(await run({ NO_COLOR: '1' })).not.toMatch(ESC_COLOR);
  });

  it('uses colours on a terminal, and none when NO_COLOR is set', () => {
    const colored = sink(true);
    startProgress('working', { sink: colored, env: {} }).succeed('done');
    expect(colored.text()).toMatch(ESC_COLOR);
    const plain = sink(true);
    startProgress('working', { sink: plain, env: { NO_COLOR: '1' } }).fail('failed');
    expect(plain.text()).not.toMatch(ESC_COLOR);
    expect(plain.text()).toContain('✗ failed');
  });
});

describe('help', () => {
  const commands = Object.keys(EXAMPLES);

  it('every command lists the global options and an example', async () => {
    for (const cmd of commands) {
      const io = captureIo({ env: {}, cwd: dir });
      expect(await main([cmd, '--help'], io), cmd).toBe(0);
      const text = io.stdoutText();
      expect(text, cmd).toContain('Global Options:');
      for (const option of [
        '--json',
        '-c, --connection <url>',
        '--config <file>',
        '--database-url',
        '--log-level',
      ])
        expect(text, `${cmd}: ${option}`).toContain(option);
      expect(text, cmd).toMatch(new RegExp(`Examples?:\\n {2}\\$ (\\S+=\\S+ )*pgtrickle ${cmd}\\b`));
    }
  });

  it('the program help states the connection precedence; -c is the connection, --config has no short form', async () => {
    const io = captureIo({ env: {}, cwd: dir });
    expect(await main(['--help'], io)).toBe(0);
    expect(io.stdoutText()).toContain('Connection (highest first)');
    expect(io.stdoutText()).toContain('NO_COLOR');
    expect(io.stdoutText()).not.toMatch(/-c, --config/);
    for (const cmd of commands) expect(io.stdoutText()).toContain(`  ${cmd}`);
  });
});

describe('status --watch', () => {
  it('prints the status again every N seconds, --count times', async () => {
    const io = captureIo({ env: { PGTRICKLE_DATABASE_URL: db.url }, cwd: dir });
    expect(await main(['migrate'], io)).toBe(0);
    const watch = captureIo({ env: { PGTRICKLE_DATABASE_URL: db.url }, cwd: dir });
    expect(await main(['status', '--watch', '0.1', '--count', '3'], watch), watch.stderrText()).toBe(0);
    const frames = watch.stdoutText().split(/^\d{4}-\d\d-\d\dT.*every 0\.1s \(Ctrl-C to stop\)$/m);
    expect(frames).toHaveLength(4); // text before the first header, then three frames
    const lines = captureIo({ env: { PGTRICKLE_DATABASE_URL: db.url }, cwd: dir });
    expect(await main(['status', '--watch', '0.1', '--count', '2', '--json'], lines)).toBe(0);
    const updates = lines
      .stdoutText()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { update: number; tables: unknown[] });
    expect(updates.map((u) => u.update)).toEqual([1, 2]);
    const bad = captureIo({ env: { PGTRICKLE_DATABASE_URL: db.url }, cwd: dir });
    expect(await main(['status', '--count', '2'], bad)).toBe(2);
  });

  it('runs until interrupted: a real process stopped by SIGINT after its second update', async () => {
    const p = startCli(['status', '--watch', '0.2', '--json'], { env: { PGTRICKLE_DATABASE_URL: db.url } });
    for (;;) {
      if (
        p
          .stdout()
          .trim()
          .split('\n')
          .filter((l) => l.startsWith('{')).length >= 2 ||
        p.done
      )
        break;
      await new Promise((r) => setTimeout(r, 50));
    }
    p.child.kill('SIGINT');
    const { code } = await p.exited;
    expect(code, p.stderr()).toBe(0);
    const updates = p
      .stdout()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { update: number });
    expect(updates.length).toBeGreaterThanOrEqual(2);
    expect(updates.map((u) => u.update)).toEqual(updates.map((_, i) => i + 1));
  });
});

describe('hints', () => {
  /** Every `pgtrickle <word>` in the sources of the packages, as a command name. */
  function named(): Map<string, string[]> {
    const found = new Map<string, string[]>();
    const walk = (d: string): string[] =>
      readdirSync(d).flatMap((e) => {
        const f = path.join(d, e);
        return statSync(f).isDirectory() ? walk(f) : f.endsWith('.ts') ? [f] : [];
      });
    for (const pkg of readdirSync(path.join(repoRoot, 'packages'))) {
      const src = path.join(repoRoot, 'packages', pkg, 'src');
      let files: string[] = [];
      try {
        files = walk(src);
      } catch {
        continue;
      }
      for (const f of files) {
        // Quoted as a command: `pgtrickle x`, 'pgtrickle x', "pgtrickle x", or after ": " / "run ".
        for (const m of readFileSync(f, 'utf8').matchAll(/(?:[`'"]|: |run )pgtrickle ([a-z][a-z-]*)/g)) {
          const word = m[1] as string;
          found.set(word, [...(found.get(word) ?? []), path.relative(repoRoot, f)]);
        }
      }
    }
    return found;
  }

  it('every command a hint names exists', async () => {
    const io = captureIo({ env: {}, cwd: dir });
    await main(['--help'], io);
    const commands = new Set([...io.stdoutText().matchAll(/^ {2}([a-z]+)\b/gm)].map((m) => m[1] as string));
    expect(commands.has('status')).toBe(true);
    // Words that follow "pgtrickle" in prose and names, not commands.
    const prose = new Set([
      'catalog',
      'cli',
      'is',
      'listener',
      'internal',
      'leader',
      'version',
      'needs',
      'creates',
    ]);
    const missing = [...named()].filter(([w]) => !commands.has(w) && !prose.has(w));
    expect(missing).toEqual([]);
  });
});
