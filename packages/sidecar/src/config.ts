/**
 * Configuration. Rule: built-in defaults < TOML file < environment < flags, key by key; the
 * environment is `PGTRICKLE_*`, and for the connection also the conventional variables below it
 * (`DATABASE_URL`, then libpq's `PGHOST`, `PGPORT`, `PGDATABASE`, `PGUSER`, `PGPASSWORD`,
 * `PGSSLMODE`); with no connection configured anywhere, pg's defaults apply (localhost:5432, the
 * OS user, the database of the user's name), as psql's would. Every value is validated where it is read, and an invalid one is a `ConfigError` naming the
 * key and the source it came from. The file is `--config`, else `$PGTRICKLE_CONFIG`, else
 * `./pgtrickle.toml` when it exists (a named file that is missing is an error; the implicit one is
 * optional). Unknown keys in the file are errors (a typo must not silently fall back to a default);
 * unknown `PGTRICKLE_*` variables are ignored (other tools share the prefix).
 *
 * The connection is either `connection.url` or its parts (`host`, `port`, `database`, `user`,
 * and `password_env`: the *name* of an environment variable holding the password, so no secret
 * sits in the file). When both are given, the one from the higher-precedence source wins.
 */
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { ConfigError, type ConfigSource, describeSource } from './errors.js';
import { formatListenAddress, parseListenAddress } from './http/address.js';

/** Log levels, most verbose first. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
/** A log level. */
export type LogLevel = (typeof LOG_LEVELS)[number];
/** Log formats: `auto` is `pretty` when stderr is a terminal, else `json`. */
export const LOG_FORMATS = ['auto', 'json', 'pretty'] as const;
/** A log format. */
export type LogFormat = (typeof LOG_FORMATS)[number];

/** The sidecar's configuration, validated. */
export interface SidecarConfig {
  readonly connection: {
    readonly url: string | null;
    readonly host: string | null;
    readonly port: number | null;
    readonly database: string | null;
    readonly user: string | null;
    /** Name of the environment variable that holds the password. */
    readonly passwordEnv: string | null;
    /** How long `run` keeps trying to reach the database at start, s (0: for ever). */
    readonly startRetryS: number;
  };
  readonly scheduler: {
    readonly pollIntervalMs: number;
    readonly concurrency: number;
    /** Bound every refresh of a tick by one snapshot taken at its start. */
    readonly tickBound: boolean;
    readonly debounceMs: number;
    readonly minWakeIntervalMs: number;
    /** Least time between two housekeeping passes of the leader (pinned buffers, retention). */
    readonly maintenanceIntervalMs: number;
    /** A watermarked, grouped source not advanced for longer than this is stuck, ms (0: never). */
    readonly watermarkHoldbackTimeoutMs: number;
  };
  readonly refresh: {
    readonly autoFullRatio: number;
    /** Consecutive (non-transient) failures that suspend a table (the service's `retry.suspendAfter`). */
    readonly maxConsecutiveErrors: number;
    /** Unconsumed rows a SUSPENDED/ERROR/failing table may hold in one buffer before it is released for a FULL rebuild. */
    readonly maxPinnedRows: number;
    /** Ceiling of fuses that set none of their own (0: none). */
    readonly fuseDefaultCeiling: number;
  };
  readonly retention: {
    readonly historyMaxAgeHours: number;
    readonly historyMaxRows: number;
    readonly requestsMaxAgeHours: number;
  };
  readonly leader: {
    readonly leaseMs: number;
    /** Who this process is in the lease row; null: `<hostname>:<pid>`. */
    readonly holder: string | null;
  };
  readonly log: {
    readonly level: LogLevel;
    readonly format: LogFormat;
  };
  readonly http: {
    /** Where `run` serves /metrics, /health, /ready and the status page (`host:port`); null: off. */
    readonly listen: string | null;
  };
}

type Value = string | number | boolean | null;
type Parser = (
  raw: unknown,
  fromText: boolean,
) => { ok: true; value: Value } | { ok: false; expected: string };

/** One configuration key: where it lives in the file, its environment variable and flag. */
export interface ConfigKeySpec {
  /** `section.key` as in the TOML file. */
  readonly key: string;
  /** The `PGTRICKLE_*` environment variable. */
  readonly env: string;
  /** Conventional variables read when `env` is not set (`DATABASE_URL`, `PGHOST`…), first wins. */
  readonly envAliases?: readonly string[];
  /** The long flag, without `--`. */
  readonly flag: string;
  /** One line for `--help` and the README. */
  readonly description: string;
  readonly default: Value;
  readonly parse: Parser;
}

function integer(min: number, max = Number.MAX_SAFE_INTEGER): Parser {
  const expected =
    max === Number.MAX_SAFE_INTEGER ? `an integer ≥ ${min}` : `an integer from ${min} to ${max}`;
  return (raw, fromText) => {
    let n: number;
    if (typeof raw === 'number' && !fromText) n = raw;
    else if (typeof raw === 'string' && /^\s*\d+\s*$/.test(raw)) n = Number(raw);
    else if (typeof raw === 'bigint') n = Number(raw);
    else return { ok: false, expected };
    return Number.isInteger(n) && n >= min && n <= max ? { ok: true, value: n } : { ok: false, expected };
  };
}

function boolean(): Parser {
  const expected = 'true or false';
  return (raw, fromText) => {
    if (typeof raw === 'boolean' && !fromText) return { ok: true, value: raw };
    if (typeof raw === 'string') {
      const v = raw.trim().toLowerCase();
      if (['true', 'on', 'yes', '1'].includes(v)) return { ok: true, value: true };
      if (['false', 'off', 'no', '0'].includes(v)) return { ok: true, value: false };
    }
    return { ok: false, expected };
  };
}

function ratio(): Parser {
  const expected = 'a number greater than 0 and at most 1';
  return (raw, fromText) => {
    let n: number;
    if (typeof raw === 'number' && !fromText) n = raw;
    else if (typeof raw === 'string' && /^\s*(\d+(\.\d*)?|\.\d+)\s*$/.test(raw)) n = Number(raw);
    else return { ok: false, expected };
    return n > 0 && n <= 1 ? { ok: true, value: n } : { ok: false, expected };
  };
}

function text(expected = 'a non-empty string'): Parser {
  return (raw) =>
    typeof raw === 'string' && raw.trim() !== '' ? { ok: true, value: raw.trim() } : { ok: false, expected };
}

function url(): Parser {
  const expected = 'a postgres:// or postgresql:// URL';
  return (raw) => {
    if (typeof raw !== 'string') return { ok: false, expected };
    const s = raw.trim();
    try {
      const u = new URL(s);
      if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') return { ok: false, expected };
    } catch {
      return { ok: false, expected };
    }
    return { ok: true, value: s };
  };
}

function oneOf(values: readonly string[]): Parser {
  const expected = `one of ${values.join(', ')}`;
  return (raw) => {
    if (typeof raw !== 'string') return { ok: false, expected };
    const s = raw.trim().toLowerCase();
    return values.includes(s) ? { ok: true, value: s } : { ok: false, expected };
  };
}

function envName(): Parser {
  const expected = 'an environment variable name (letters, digits, _)';
  return (raw) =>
    typeof raw === 'string' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(raw.trim())
      ? { ok: true, value: raw.trim() }
      : { ok: false, expected };
}

function listen(): Parser {
  const expected = 'a port, :port or host:port (a port alone binds 127.0.0.1)';
  return (raw) => {
    const text = typeof raw === 'number' ? String(raw) : raw;
    if (typeof text !== 'string') return { ok: false, expected };
    const a = parseListenAddress(text);
    return a === null ? { ok: false, expected } : { ok: true, value: formatListenAddress(a) };
  };
}

/** Every configuration key, in file order. */
export const CONFIG_KEYS: readonly ConfigKeySpec[] = [
  {
    key: 'connection.url',
    env: 'PGTRICKLE_DATABASE_URL',
    envAliases: ['DATABASE_URL'],
    flag: 'database-url',
    description: 'PostgreSQL URL (postgres://user:pass@host:5432/db)',
    default: null,
    parse: url(),
  },
  {
    key: 'connection.host',
    env: 'PGTRICKLE_DB_HOST',
    envAliases: ['PGHOST'],
    flag: 'host',
    description: 'database host (instead of a URL)',
    default: null,
    parse: text(),
  },
  {
    key: 'connection.port',
    env: 'PGTRICKLE_DB_PORT',
    envAliases: ['PGPORT'],
    flag: 'port',
    description: 'database port (default 5432)',
    default: null,
    parse: integer(1, 65535),
  },
  {
    key: 'connection.database',
    env: 'PGTRICKLE_DB_NAME',
    envAliases: ['PGDATABASE'],
    flag: 'database',
    description: 'database name',
    default: null,
    parse: text(),
  },
  {
    key: 'connection.user',
    env: 'PGTRICKLE_DB_USER',
    envAliases: ['PGUSER'],
    flag: 'user',
    description: 'database user',
    default: null,
    parse: text(),
  },
  {
    key: 'connection.password_env',
    env: 'PGTRICKLE_DB_PASSWORD_ENV',
    flag: 'password-env',
    description: 'name of the environment variable holding the password',
    default: null,
    parse: envName(),
  },
  {
    key: 'connection.start_retry_s',
    env: 'PGTRICKLE_START_RETRY_S',
    flag: 'start-retry-s',
    description: '`run`: how long to keep retrying an unreachable database at start, seconds (0: for ever)',
    default: 0,
    parse: integer(0),
  },
  {
    key: 'scheduler.poll_interval_ms',
    env: 'PGTRICKLE_POLL_INTERVAL_MS',
    flag: 'poll-interval-ms',
    description: 'longest wait between ticks without a wake-up',
    default: 1000,
    parse: integer(10),
  },
  {
    key: 'scheduler.concurrency',
    env: 'PGTRICKLE_CONCURRENCY',
    flag: 'concurrency',
    description: 'refresh units run in parallel',
    default: 4,
    parse: integer(1, 256),
  },
  {
    key: 'scheduler.tick_bound',
    env: 'PGTRICKLE_TICK_BOUND',
    flag: 'tick-bound',
    description:
      'bound every refresh of a tick by one snapshot taken at its start (a commit landing mid-tick waits for the next tick)',
    default: true,
    parse: boolean(),
  },
  {
    key: 'scheduler.debounce_ms',
    env: 'PGTRICKLE_DEBOUNCE_MS',
    flag: 'debounce-ms',
    description: 'wake-ups within this window give one tick',
    default: 25,
    parse: integer(0),
  },
  {
    key: 'scheduler.min_wake_interval_ms',
    env: 'PGTRICKLE_MIN_WAKE_INTERVAL_MS',
    flag: 'min-wake-interval-ms',
    description:
      'a tick started by a wake-up begins at least this long after the previous one (bounds the tick rate under a flood of NOTIFYs)',
    default: 50,
    parse: integer(0),
  },
  {
    key: 'scheduler.maintenance_interval_ms',
    env: 'PGTRICKLE_MAINTENANCE_INTERVAL_MS',
    flag: 'maintenance-interval-ms',
    description: "least time between the leader's housekeeping passes (pinned buffers, retention)",
    default: 10_000,
    parse: integer(10),
  },
  {
    key: 'scheduler.watermark_holdback_timeout_ms',
    env: 'PGTRICKLE_WATERMARK_HOLDBACK_TIMEOUT_MS',
    flag: 'watermark-holdback-timeout-ms',
    description:
      'a grouped source whose watermark has not advanced for this long is stuck: the tables sharing its groups are held and a watermark_stuck alert is sent (0: never)',
    default: 0,
    parse: integer(0, 86_400_000),
  },
  {
    key: 'refresh.auto_full_ratio',
    env: 'PGTRICKLE_AUTO_FULL_RATIO',
    flag: 'auto-full-ratio',
    description: 'AUTO refreshes FULL above this share of changed source rows',
    default: 0.15,
    parse: ratio(),
  },
  {
    key: 'refresh.max_consecutive_errors',
    env: 'PGTRICKLE_MAX_CONSECUTIVE_ERRORS',
    flag: 'max-consecutive-errors',
    description: 'consecutive refresh failures that suspend a table',
    default: 3,
    parse: integer(1),
  },
  {
    key: 'refresh.max_pinned_rows',
    env: 'PGTRICKLE_MAX_PINNED_ROWS',
    flag: 'max-pinned-rows',
    description:
      'unconsumed rows a SUSPENDED, ERROR or failing table may hold in one change buffer; past it the table is released (rebuilt FULL later)',
    default: 100_000,
    parse: integer(1),
  },
  {
    key: 'refresh.fuse_default_ceiling',
    env: 'PGTRICKLE_FUSE_DEFAULT_CEILING',
    flag: 'fuse-default-ceiling',
    description:
      "unread change rows above which a fuse without its own ceiling blows (0: no default; such an 'on' fuse never blows)",
    default: 0,
    parse: integer(0),
  },
  {
    key: 'retention.history_max_age_hours',
    env: 'PGTRICKLE_HISTORY_MAX_AGE_HOURS',
    flag: 'history-max-age-hours',
    description: 'refresh history rows older than this are deleted',
    default: 168,
    parse: integer(1),
  },
  {
    key: 'retention.history_max_rows',
    env: 'PGTRICKLE_HISTORY_MAX_ROWS',
    flag: 'history-max-rows',
    description: 'refresh history rows kept per stream table, at most',
    default: 10_000,
    parse: integer(1),
  },
  {
    key: 'retention.requests_max_age_hours',
    env: 'PGTRICKLE_REQUESTS_MAX_AGE_HOURS',
    flag: 'requests-max-age-hours',
    description: 'finished SQL-API requests (DONE, FAILED) older than this are deleted',
    default: 24,
    parse: integer(1),
  },
  {
    key: 'leader.lease_ms',
    env: 'PGTRICKLE_LEASE_MS',
    flag: 'lease-ms',
    description: 'a leader silent this long is replaced',
    default: 10_000,
    parse: integer(100),
  },
  {
    key: 'leader.holder',
    env: 'PGTRICKLE_HOLDER',
    flag: 'holder',
    description: 'this process in the lease row (default <hostname>:<pid>)',
    default: null,
    parse: text(),
  },
  {
    key: 'log.level',
    env: 'PGTRICKLE_LOG_LEVEL',
    flag: 'log-level',
    description: `log level: ${LOG_LEVELS.join(', ')}`,
    default: 'info',
    parse: oneOf(LOG_LEVELS),
  },
  {
    key: 'log.format',
    env: 'PGTRICKLE_LOG_FORMAT',
    flag: 'log-format',
    description: 'log format: auto (pretty on a terminal, else JSON), json, pretty',
    default: 'auto',
    parse: oneOf(LOG_FORMATS),
  },
  {
    key: 'http.listen',
    env: 'PGTRICKLE_HTTP_LISTEN',
    flag: 'http',
    description:
      'run: serve /metrics, /health, /ready and the status page here (a port or :port binds 127.0.0.1; default off)',
    default: null,
    parse: listen(),
  },
];

/** The environment variable naming the config file. */
export const CONFIG_ENV = 'PGTRICKLE_CONFIG';
/** The config file used when present in the working directory and none is named. */
export const DEFAULT_CONFIG_FILE = 'pgtrickle.toml';

/** What {@link loadConfig} reads. */
export interface LoadConfigInput {
  /** Flag values by long flag name (`database-url`), as given on the command line. */
  readonly flags?: Readonly<Record<string, string | undefined>>;
  /** `--config`. */
  readonly configPath?: string;
  /** Default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Default `process.cwd()`. */
  readonly cwd?: string;
}

/** The configuration with the source of each value. */
export interface LoadedConfig {
  readonly config: SidecarConfig;
  /** Where each key's value came from. */
  readonly sources: Readonly<Record<string, ConfigSource>>;
  /** The TOML file read, or null. */
  readonly file: string | null;
}

function readFile(input: LoadConfigInput, env: Readonly<Record<string, string | undefined>>, cwd: string) {
  let file: string | null = null;
  let named: ConfigSource | null = null;
  if (input.configPath !== undefined && input.configPath !== '') {
    file = path.resolve(cwd, input.configPath);
    named = { kind: 'flag', name: 'config' };
  } else if (env[CONFIG_ENV] !== undefined && env[CONFIG_ENV] !== '') {
    file = path.resolve(cwd, env[CONFIG_ENV] as string);
    named = { kind: 'env', name: CONFIG_ENV };
  } else {
    const implicit = path.join(cwd, DEFAULT_CONFIG_FILE);
    if (existsSync(implicit)) file = implicit;
  }
  if (file === null) return { file: null, table: {} as Record<string, unknown> };
  let content: string;
  try {
    content = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(
      'PGT_CONFIG_FILE',
      `Cannot read the config file ${file}${named ? ` (named by ${describeSource(named)})` : ''}: ${
        (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'it does not exist' : String(error)
      }.`,
      { source: named, cause: error },
    );
  }
  let table: Record<string, unknown>;
  try {
    table = parseToml(content) as Record<string, unknown>;
  } catch (error) {
    const detail = error instanceof Error ? error.message.split('\n')[0] : String(error);
    throw new ConfigError('PGT_CONFIG_FILE', `The config file ${file} is not valid TOML: ${detail}`, {
      source: { kind: 'file', path: file },
      cause: error,
    });
  }
  return { file, table };
}

/** Flattens the TOML table into `section.key` entries, refusing unknown keys. */
function flatten(table: Record<string, unknown>, file: string): Map<string, unknown> {
  const known = new Set(CONFIG_KEYS.map((k) => k.key));
  const sections = new Set(CONFIG_KEYS.map((k) => k.key.split('.')[0]));
  const out = new Map<string, unknown>();
  const source: ConfigSource = { kind: 'file', path: file };
  for (const [section, body] of Object.entries(table)) {
    if (!sections.has(section) || typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new ConfigError(
        'PGT_CONFIG_UNKNOWN_KEY',
        sections.has(section)
          ? `[${section}] in ${file} must be a table of keys.`
          : `Unknown section "${section}" in ${file}; known sections: ${[...sections].join(', ')}.`,
        { key: section, source },
      );
    }
    for (const [key, value] of Object.entries(body as Record<string, unknown>)) {
      const full = `${section}.${key}`;
      if (!known.has(full)) {
        const options = CONFIG_KEYS.filter((k) => k.key.startsWith(`${section}.`)).map((k) => k.key);
        throw new ConfigError(
          'PGT_CONFIG_UNKNOWN_KEY',
          `Unknown key ${full} in ${file}; known keys of [${section}]: ${options.join(', ')}.`,
          { key: full, source },
        );
      }
      out.set(full, value);
    }
  }
  return out;
}

const RANK: Record<ConfigSource['kind'], number> = { default: 0, file: 1, env: 2, flag: 3 };

/**
 * Loads the configuration: defaults < TOML file < `PGTRICKLE_*` environment < flags.
 *
 * @throws {ConfigError} `PGT_CONFIG_FILE`, `PGT_CONFIG_UNKNOWN_KEY` or `PGT_CONFIG_INVALID`.
 */
export function loadConfig(input: LoadConfigInput = {}): LoadedConfig {
  const env = input.env ?? process.env;
  const cwd = input.cwd ?? process.cwd();
  const { file, table } = readFile(input, env, cwd);
  const fromFile = file === null ? new Map<string, unknown>() : flatten(table, file);
  const values = new Map<string, Value>();
  const sources: Record<string, ConfigSource> = {};
  for (const spec of CONFIG_KEYS) {
    const layers: { raw: unknown; source: ConfigSource; fromText: boolean }[] = [];
    if (fromFile.has(spec.key))
      layers.push({
        raw: fromFile.get(spec.key),
        source: { kind: 'file', path: file as string },
        fromText: false,
      });
    const envName = [spec.env, ...(spec.envAliases ?? [])].find((n) => env[n] !== undefined && env[n] !== '');
    if (envName !== undefined)
      layers.push({ raw: env[envName], source: { kind: 'env', name: envName }, fromText: true });
    const f = input.flags?.[spec.flag];
    if (f !== undefined) layers.push({ raw: f, source: { kind: 'flag', name: spec.flag }, fromText: true });
    const top = layers.at(-1);
    if (top === undefined) {
      values.set(spec.key, spec.default);
      sources[spec.key] = { kind: 'default' };
      continue;
    }
    const parsed = spec.parse(top.raw, top.fromText);
    if (!parsed.ok) {
      throw new ConfigError(
        'PGT_CONFIG_INVALID',
        `${spec.key} must be ${parsed.expected}, got ${JSON.stringify(top.raw)} (from ${describeSource(top.source)}).`,
        { key: spec.key, source: top.source },
      );
    }
    values.set(spec.key, parsed.value);
    sources[spec.key] = top.source;
  }

  // The URL and the parts: the one from the higher-precedence source wins.
  const partKeys = ['connection.host', 'connection.port', 'connection.database', 'connection.user'];
  const urlRank =
    values.get('connection.url') === null ? -1 : RANK[(sources['connection.url'] as ConfigSource).kind];
  const partsRank = Math.max(
    -1,
    ...partKeys.filter((k) => values.get(k) !== null).map((k) => RANK[(sources[k] as ConfigSource).kind]),
  );
  if (urlRank >= 0 && partsRank >= 0) {
    if (urlRank >= partsRank) for (const k of partKeys) values.set(k, null);
    else values.set('connection.url', null);
  }

  const str = (k: string) => values.get(k) as string | null;
  const num = (k: string) => values.get(k) as number;
  const config: SidecarConfig = {
    connection: {
      url: str('connection.url'),
      host: str('connection.host'),
      port: values.get('connection.port') as number | null,
      database: str('connection.database'),
      user: str('connection.user'),
      passwordEnv: str('connection.password_env'),
      startRetryS: num('connection.start_retry_s'),
    },
    scheduler: {
      pollIntervalMs: num('scheduler.poll_interval_ms'),
      concurrency: num('scheduler.concurrency'),
      tickBound: values.get('scheduler.tick_bound') as boolean,
      debounceMs: num('scheduler.debounce_ms'),
      minWakeIntervalMs: num('scheduler.min_wake_interval_ms'),
      maintenanceIntervalMs: num('scheduler.maintenance_interval_ms'),
      watermarkHoldbackTimeoutMs: num('scheduler.watermark_holdback_timeout_ms'),
    },
    refresh: {
      autoFullRatio: num('refresh.auto_full_ratio'),
      maxConsecutiveErrors: num('refresh.max_consecutive_errors'),
      maxPinnedRows: num('refresh.max_pinned_rows'),
      fuseDefaultCeiling: num('refresh.fuse_default_ceiling'),
    },
    retention: {
      historyMaxAgeHours: num('retention.history_max_age_hours'),
      historyMaxRows: num('retention.history_max_rows'),
      requestsMaxAgeHours: num('retention.requests_max_age_hours'),
    },
    leader: { leaseMs: num('leader.lease_ms'), holder: str('leader.holder') },
    log: { level: str('log.level') as LogLevel, format: str('log.format') as LogFormat },
    http: { listen: str('http.listen') },
  };
  return { config, sources, file };
}

/** Whether a database is configured (a URL or a host), from any source. */
export function hasDatabase(config: SidecarConfig): boolean {
  return config.connection.url !== null || config.connection.host !== null;
}

/** Whether any connection setting (URL, host, port, database, user) was given anywhere. */
export function connectionConfigured(loaded: LoadedConfig): boolean {
  return [
    'connection.url',
    'connection.host',
    'connection.port',
    'connection.database',
    'connection.user',
  ].some((k) => (loaded.sources[k]?.kind ?? 'default') !== 'default');
}

/** The conventional connection variables, which only `hasOwnDatabase` sets aside. */
export const CONVENTIONAL_ENV: readonly string[] = CONFIG_KEYS.flatMap((k) => k.envAliases ?? []);

/**
 * Whether pgtrickle's own configuration names a database: a flag, a `PGTRICKLE_*` variable or the
 * config file — not only the conventional `DATABASE_URL`/`PG*` variables of the environment (the
 * demo uses this: it does not write into whatever database a shell happens to point at).
 */
export function hasOwnDatabase(loaded: LoadedConfig): boolean {
  if (!hasDatabase(loaded.config)) return false;
  const key = loaded.config.connection.url !== null ? 'connection.url' : 'connection.host';
  const source = loaded.sources[key];
  return !(source?.kind === 'env' && CONVENTIONAL_ENV.includes(source.name));
}

/** Where the connection came from: the sources of the keys that made it, or pg's defaults. */
export function describeConnectionSource(loaded: LoadedConfig): string {
  if (!connectionConfigured(loaded))
    return "pg's defaults (no --database-url/-c, PGTRICKLE_DATABASE_URL, DATABASE_URL, PGHOST or config file)";
  const keys =
    loaded.config.connection.url !== null
      ? ['connection.url']
      : ['connection.host', 'connection.port', 'connection.database', 'connection.user'];
  const seen = new Set<string>();
  for (const k of keys) {
    const source = loaded.sources[k];
    if (source !== undefined && source.kind !== 'default') seen.add(describeSource(source));
  }
  return [...seen].join(', ');
}

/**
 * The connection string of the configured database. The password comes from the environment
 * variable named by `connection.password_env` (overriding one in the URL), else from `PGPASSWORD`
 * when the URL has none; `PGSSLMODE` adds an `sslmode` the URL does not have. With no connection
 * configured, pg's defaults: localhost:5432, the OS user, the database of the user's name.
 *
 * @throws {ConfigError} `PGT_CONFIG_INVALID` when the variable named by `password_env` is not set.
 */
export function connectionString(
  loaded: LoadedConfig,
  env: Readonly<Record<string, string | undefined>> = process.env,
): string {
  const c = loaded.config.connection;
  let password: string | undefined;
  if (c.passwordEnv !== null) {
    password = env[c.passwordEnv];
    if (password === undefined) {
      throw new ConfigError(
        'PGT_CONFIG_INVALID',
        `connection.password_env names the environment variable ${c.passwordEnv}, which is not set (from ${describeSource(
          loaded.sources['connection.password_env'] ?? { kind: 'default' },
        )}).`,
        { key: 'connection.password_env', source: loaded.sources['connection.password_env'] ?? null },
      );
    }
  }
  let u: URL;
  if (c.url !== null) {
    u = new URL(c.url);
  } else {
    const user = c.user ?? env.USER ?? os.userInfo().username;
    const host = c.host ?? 'localhost';
    const socket = host.startsWith('/');
    const shownHost = socket ? 'localhost' : host.includes(':') ? `[${host}]` : host;
    u = new URL(`postgres://${shownHost}:${c.port ?? 5432}/${encodeURIComponent(c.database ?? user)}`);
    u.username = encodeURIComponent(user);
    // A Unix-socket directory (PGHOST=/var/run/postgresql) goes in the host parameter.
    if (socket) u.searchParams.set('host', host);
  }
  if (password !== undefined) u.password = encodeURIComponent(password);
  else if (u.password === '' && env.PGPASSWORD !== undefined && env.PGPASSWORD !== '')
    u.password = encodeURIComponent(env.PGPASSWORD);
  if (env.PGSSLMODE !== undefined && env.PGSSLMODE !== '' && !u.searchParams.has('sslmode'))
    u.searchParams.set('sslmode', env.PGSSLMODE);
  if (c.url !== null && u.toString() === new URL(c.url).toString()) return c.url;
  return u.toString();
}

/** A connection string with its password masked, for logs and messages. */
export function redactUrl(connection: string): string {
  try {
    const u = new URL(connection);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return connection.replace(/:[^:@/]*@/, ':***@');
  }
}

/** The configuration as TOML-ish lines with the source of each value (for `pgtrickle doctor`). */
export function describeConfig(loaded: LoadedConfig): string[] {
  const out: string[] = [];
  for (const spec of CONFIG_KEYS) {
    const source = loaded.sources[spec.key] ?? { kind: 'default' };
    const [section, key] = spec.key.split('.') as [string, string];
    const camel = key.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
    const group = (loaded.config as unknown as Record<string, Record<string, unknown>>)[section];
    let value = group?.[camel] ?? null;
    if (spec.key === 'connection.url' && typeof value === 'string') value = redactUrl(value);
    out.push(`${spec.key} = ${JSON.stringify(value)}  (${describeSource(source)})`);
  }
  return out;
}
