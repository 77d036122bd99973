/**
 * The `pgtrickle` command line. Rules:
 * - every command reads the configuration the same way (defaults < TOML < environment < flags;
 *   for the connection: flag > `PGTRICKLE_DATABASE_URL` > `DATABASE_URL` > `PG*` > config file >
 *   pg's defaults); the global options are accepted before or after the command name, and every
 *   command's `--help` lists them, with an example;
 * - `-c` is the connection (`-c, --connection <url>`, as graphile-worker has it); the config file
 *   is `--config` only;
 * - command output goes to stdout, logs and progress to stderr; `--json` makes every command's
 *   output JSON (and the logs of `run`/`demo` JSON lines);
 * - a failure prints one line, `pgtrickle <command>: <CODE>: <message>` — with `--json`, one
 *   object `{"error":{"code","message","hint"}}` — and exits 1; a wrong command line exits 2
 *   (unknown command or option, missing argument, invalid flag value).
 */
import { Command, CommanderError, Option } from 'commander';
import { alterCommand } from './commands/alter.js';
import { migrateCommand, planCommand } from './commands/catalog.js';
import { demoCommand } from './commands/demo.js';
import { doctorCommand } from './commands/doctor.js';
import { fuseCommand } from './commands/fuse.js';
import { greenCommand } from './commands/green.js';
import { groupCreateCommand, groupDropCommand, groupListCommand } from './commands/groups.js';
import { runCommand } from './commands/run.js';
import {
  createCommand,
  dropCommand,
  explainCommand,
  refreshCommand,
  resumeCommand,
  statusCommand,
} from './commands/tables.js';
import { uninstallCommand } from './commands/uninstall.js';
import {
  watermarkAdvanceCommand,
  watermarkGroupCreateCommand,
  watermarkGroupDropCommand,
  watermarkGroupListCommand,
  watermarkStatusCommand,
} from './commands/watermark.js';
import {
  CONFIG_KEYS,
  connectionConfigured,
  describeConnectionSource,
  type LoadedConfig,
  loadConfig,
} from './config.js';
import { type CliIo, type CommandContext, commandContext } from './context.js';
import { errorCode, errorMessage, SidecarError } from './errors.js';
import { createLogger, type SidecarLogger } from './logger.js';
import { errorJson } from './output.js';
import { colorEnabled } from './progress.js';

/** The version printed by `pgtrickle --version`. */
export const VERSION = '0.1.0';

function camel(flag: string): string {
  return flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** The default I/O: the process's streams, environment and working directory. */
export function processIo(): CliIo {
  return { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() };
}

function intOption(name: string, value: string | undefined, min: number): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+(\.\d+)?$/.test(value.trim()) || Number(value) < min) {
    throw new SidecarError('PGT_USAGE', `--${name} must be a number ≥ ${min}, got "${value}".`);
  }
  return Number(value);
}

/** Builds the program; `run(ctxFactory)` wires each action. */
interface Hooks {
  exit(code: number): void;
  command(name: string): void;
  logger(logger: SidecarLogger): void;
  loaded(loaded: LoadedConfig): void;
}

/** One example per command, shown at the end of its `--help`. */
export const EXAMPLES: Readonly<Record<string, readonly string[]>> = {
  run: [
    'pgtrickle run -c postgres://app@db.internal:5432/shop',
    'DATABASE_URL=postgres://… pgtrickle run --log-format json',
  ],
  create: [
    `pgtrickle create order_totals --query "SELECT customer_id, sum(amount) AS total FROM orders GROUP BY customer_id" --schedule 30s`,
  ],
  alter: [
    'pgtrickle alter order_totals --mode IMMEDIATE',
    'pgtrickle alter order_totals --mode DIFFERENTIAL --schedule 1m',
  ],
  drop: ['pgtrickle drop order_totals --cascade'],
  refresh: ['pgtrickle refresh order_totals --full'],
  resume: ['pgtrickle resume order_totals'],
  status: ['pgtrickle status', 'pgtrickle status --watch 2', 'pgtrickle status --json'],
  explain: ['pgtrickle explain order_totals'],
  group: [
    'pgtrickle group create daily orders_by_day revenue_by_day --isolation repeatable_read',
    'pgtrickle group list',
    'pgtrickle group drop daily',
  ],
  fuse: ['pgtrickle fuse status', 'pgtrickle fuse reset order_totals --action skip_changes'],
  migrate: ['PGHOST=db.internal PGUSER=admin PGDATABASE=shop pgtrickle migrate'],
  plan: [
    'pgtrickle plan > pgtrickle-catalog.sql',
    `pgtrickle plan --query "SELECT region, count(*) FROM orders GROUP BY region"`,
  ],
  doctor: ['pgtrickle doctor -c postgres://app@localhost/shop', 'pgtrickle doctor --json'],
  uninstall: [
    'pgtrickle uninstall -c postgres://app@localhost/shop',
    'pgtrickle uninstall --yes --drop-tables',
  ],
  demo: ['pgtrickle demo', 'pgtrickle demo --duration 0 --database-url postgres://localhost/scratch'],
  watermark: [
    "pgtrickle watermark advance public.orders '2024-01-01T12:05:00Z'",
    'pgtrickle watermark group create fulfilment orders shipments --tolerance 60',
    'pgtrickle watermark status --json',
  ],
};

/** The precedence of the connection settings, printed after the program's help. */
export const CONNECTION_HELP = [
  'Connection (highest first): --database-url/-c or --host/--port/--database/--user flags;',
  '  PGTRICKLE_DATABASE_URL (or PGTRICKLE_DB_*); DATABASE_URL; PGHOST, PGPORT, PGDATABASE, PGUSER,',
  '  PGPASSWORD, PGSSLMODE; the config file (--config, $PGTRICKLE_CONFIG, else ./pgtrickle.toml);',
  "  pg's defaults (localhost:5432, your OS user).",
  'Colours: off when NO_COLOR is set or the output is not a terminal.',
].join('\n');

function program(io: CliIo, hooks: Hooks): Command {
  const p = new Command('pgtrickle')
    .description('Stream tables for any PostgreSQL: the pgtrickle sidecar process and its tools.')
    .version(VERSION, '-v, --version')
    .helpOption('-h, --help')
    .showHelpAfterError(false)
    .configureHelp({ showGlobalOptions: true })
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
      outputError: () => undefined,
    })
    .exitOverride();
  p.addOption(new Option('--json', 'print JSON: the command output, and errors as {"error":{…}}'));
  p.addOption(
    new Option('-c, --connection <url>', 'PostgreSQL URL (the same as --database-url)').conflicts(
      'databaseUrl',
    ),
  );
  p.addOption(
    new Option('--config <file>', `TOML config file (default $PGTRICKLE_CONFIG, else ./pgtrickle.toml)`),
  );
  for (const spec of CONFIG_KEYS) {
    const envs = [spec.env, ...(spec.envAliases ?? [])].map((e) => `$${e}`).join(', ');
    p.addOption(new Option(`--${spec.flag} <value>`, `${spec.description} [${spec.key}, ${envs}]`));
  }
  p.addHelpText(
    'after',
    `\n${CONNECTION_HELP}\n\nExamples:\n  $ pgtrickle demo\n  $ pgtrickle migrate -c postgres://app@localhost/shop\n  $ pgtrickle status --watch 2\n`,
  );

  const context = (cmd: Command): CommandContext => {
    const all = cmd.optsWithGlobals() as Record<string, string | boolean | undefined>;
    const flags: Record<string, string | undefined> = {};
    for (const spec of CONFIG_KEYS) flags[spec.flag] = all[camel(spec.flag)] as string | undefined;
    if (typeof all.connection === 'string') flags['database-url'] = all.connection;
    const loaded: LoadedConfig = loadConfig({
      flags,
      ...(typeof all.config === 'string' ? { configPath: all.config } : {}),
      env: io.env,
      cwd: io.cwd,
    });
    hooks.loaded(loaded);
    const json = all.json === true;
    const logger = createLogger({
      level: loaded.config.log.level,
      // --json: the logs of run and demo are JSON lines too, unless a format is configured.
      format: json && loaded.config.log.format === 'auto' ? 'json' : loaded.config.log.format,
      sink: io.stderr,
      color: colorEnabled(io.stderr, io.env),
    });
    hooks.logger(logger);
    logger.debug('config', { file: loaded.file });
    // --json: stderr carries JSON lines only, so no spinner draws there even on a terminal.
    const commandIo: CliIo = json
      ? { ...io, stderr: { isTTY: false, write: (chunk: string) => io.stderr.write(chunk) } }
      : io;
    return commandContext(loaded, logger, commandIo, { json });
  };
  const example = (cmd: Command, name: string): Command =>
    cmd.addHelpText(
      'after',
      `\nExample${(EXAMPLES[name]?.length ?? 0) > 1 ? 's' : ''}:\n${(EXAMPLES[name] ?? []).map((e) => `  $ ${e}`).join('\n')}\n`,
    );
  const action =
    <A extends unknown[]>(name: string, body: (ctx: CommandContext, ...args: A) => Promise<number>) =>
    async (...args: unknown[]) => {
      hooks.command(name);
      const cmd = args.at(-1) as Command;
      const ctx = context(cmd);
      hooks.exit(await body(ctx, ...(args.slice(0, -1) as A)));
    };
  p.command('run')
    .description('run the service: leadership, the SQL API, the scheduler; until SIGINT/SIGTERM')
    .option('--shutdown-timeout-ms <ms>', 'give up a clean stop after this long (default 30000)')
    .action(
      action('run', (ctx, opts: { shutdownTimeoutMs?: string }) => {
        const shutdownTimeoutMs = intOption('shutdown-timeout-ms', opts.shutdownTimeoutMs, 0);
        return runCommand(ctx, shutdownTimeoutMs === undefined ? {} : { shutdownTimeoutMs });
      }),
    );
  p.command('create <name>')
    .description('create and populate a stream table')
    .requiredOption('-q, --query <sql>', 'the defining SELECT')
    .option('-s, --schedule <schedule>', "'30s', '5m', a cron expression, or 'calculated' (default)")
    .option('-m, --mode <mode>', 'AUTO (default), FULL, DIFFERENTIAL or IMMEDIATE')
    .action(
      action('create', (ctx, name: string, opts: { query: string; schedule?: string; mode?: string }) =>
        createCommand(ctx, name, opts),
      ),
    );
  p.command('alter <name>')
    .description("change a stream table's query, schedule or refresh mode (a mode switch is one transaction)")
    .option('-q, --query <sql>', 'a new defining SELECT (rebuilds the table in place)')
    .option('-s, --schedule <schedule>', "'30s', '5m', a cron expression, or 'calculated'")
    .option('-m, --mode <mode>', 'AUTO, FULL, DIFFERENTIAL or IMMEDIATE')
    .action(
      action('alter', (ctx, name: string, opts: { query?: string; schedule?: string; mode?: string }) =>
        alterCommand(ctx, name, opts),
      ),
    );
  p.command('drop <name>')
    .description('drop a stream table')
    .option('--cascade', 'also drop the stream tables that read it')
    .action(action('drop', (ctx, name: string, opts: { cascade?: boolean }) => dropCommand(ctx, name, opts)));
  p.command('refresh <name>')
    .description('refresh a stream table now')
    .option('--full', 'recompute it (FULL) instead of applying the changes')
    .action(
      action('refresh', (ctx, name: string, opts: { full?: boolean }) => refreshCommand(ctx, name, opts)),
    );
  p.command('resume <name>')
    .description('resume a SUSPENDED or ERROR stream table (rebuilt by a FULL refresh now)')
    .action(action('resume', (ctx, name: string) => resumeCommand(ctx, name)));
  p.command('status')
    .description('list the stream tables with their status and freshness')
    .option('-w, --watch [seconds]', 'print it again every N seconds (default 2) until Ctrl-C')
    .option('--count <n>', 'with --watch: stop after this many updates')
    .action(
      action('status', (ctx, opts: { watch?: string | boolean; count?: string }) => {
        const everyS =
          opts.watch === undefined
            ? undefined
            : opts.watch === true
              ? 2
              : intOption('watch', String(opts.watch), 0.1);
        if (opts.count !== undefined && everyS === undefined)
          throw new SidecarError('PGT_USAGE', '--count needs --watch.');
        const count = intOption('count', opts.count, 1);
        return statusCommand(ctx, {
          json: ctx.json,
          ...(everyS === undefined ? {} : { watchS: everyS }),
          ...(count === undefined ? {} : { count }),
        });
      }),
    );
  p.command('explain <name>')
    .description('how a stream table is maintained: mode, sources, row identity, SQL')
    .action(action('explain', (ctx, name: string) => explainCommand(ctx, name, { json: ctx.json })));
  const group = p
    .command('group')
    .description('declared refresh groups: stream tables refreshed together (and the diamonds’ groups)');
  group
    .command('create <name> <members...>')
    .description('declare a refresh group of two or more stream tables you own')
    .option('--isolation <level>', 'read_committed (atomic) or repeatable_read (atomic, one snapshot)')
    .action(
      action('group create', (ctx, name: string, members: string[], opts: { isolation?: string }) =>
        groupCreateCommand(ctx, name, members, opts),
      ),
    );
  group
    .command('drop <name>')
    .description('drop a refresh group (its members refresh on their own again)')
    .action(action('group drop', (ctx, name: string) => groupDropCommand(ctx, name)));
  group
    .command('list')
    .description('list the refresh groups and the diamonds’ consistency groups')
    .action(action('group list', (ctx) => groupListCommand(ctx)));
  p.command('fuse <what> [name]')
    .description(
      "the fuses: 'fuse status [NAME]' lists them (mode, state, ceiling, pending changes, baseline); 'fuse reset NAME' re-arms a blown one",
    )
    .option(
      '--action <action>',
      'with reset: apply (default: refresh the held batch), reinitialize (recompute it) or skip_changes (leave the held batch out)',
    )
    .action(
      action('fuse', (ctx, what: string, name: string | undefined, opts: { action?: string }) =>
        fuseCommand(ctx, what, name, opts),
      ),
    );
  p.command('green <what> [name]')
    .description(
      "blue-green deployment of a stream table: 'green create NAME --query …' builds a green copy that catches up on its own, 'green status NAME' shows its lag and convergence, 'green promote NAME' swaps it in, 'green cancel NAME' drops it, 'green rollback NAME' swaps the old version back, 'green drop-retired NAME' keeps the new one",
    )
    .option('-q, --query <sql>', 'with create: the new defining query')
    .option(
      '-s, --schedule <schedule>',
      "with create: the new schedule ('30s', '5m', a cron expression, 'calculated')",
    )
    .option('-m, --mode <mode>', 'with create: the new refresh mode (AUTO, FULL or DIFFERENTIAL)')
    .option('--force', 'with promote: promote even if the green has not converged')
    .option(
      '--cascade',
      'with promote: put stream tables whose query no longer fits in ERROR instead of refusing',
    )
    .option(
      '--max-lag <duration>',
      "with promote: also converged when the green's data is at most this much older ('5s', '500ms')",
    )
    .option(
      '--verify',
      'with promote, for an unchanged query: refresh both with the sources locked and refuse unless they hold the same rows',
    )
    .action(
      action(
        'green',
        (
          ctx,
          what: string,
          name: string | undefined,
          opts: {
            query?: string;
            schedule?: string;
            mode?: string;
            force?: boolean;
            cascade?: boolean;
            maxLag?: string;
            verify?: boolean;
          },
        ) => greenCommand(ctx, what, name, opts),
      ),
    );
  p.command('migrate')
    .description('install or upgrade the pgtrickle catalog')
    .action(action('migrate', (ctx) => migrateCommand(ctx)));
  p.command('plan')
    .description(
      'print the SQL `migrate` would run here, without running it (and, with --query, what creating that stream table installs)',
    )
    .option('-q, --query <sql>', 'also plan this defining query')
    .option('-n, --name <name>', 'its name (default planned_stream_table)')
    .option('-m, --mode <mode>', 'its refresh mode (default AUTO)')
    .action(
      action('plan', (ctx, opts: { query?: string; name?: string; mode?: string }) => planCommand(ctx, opts)),
    );
  p.command('doctor')
    .description('check the database for running pgtrickle (exit 1 when a check fails)')
    .action(action('doctor', (ctx) => doctorCommand(ctx, { json: ctx.json })));
  p.command('uninstall')
    .description(
      'remove pgtrickle from the database (capture, buffers, catalog); storage tables stay as plain tables',
    )
    .option('--drop-tables', 'also drop the stream tables’ storage tables')
    .option('--yes', 'do it (without it, say what would be removed)')
    .action(
      action('uninstall', (ctx, opts: { dropTables?: boolean; yes?: boolean }) =>
        uninstallCommand(ctx, opts),
      ),
    );
  const watermark = p
    .command('watermark')
    .description(
      'watermarks: declare sources complete through a time, and group them (see docs/watermarks.md)',
    );
  watermark
    .command('advance <source> <timestamp>')
    .description(
      'declare <source> complete through <timestamp> (only forward; the same value again changes nothing)',
    )
    .action(
      action('watermark', (ctx, source: string, timestamp: string) =>
        watermarkAdvanceCommand(ctx, source, timestamp),
      ),
    );
  watermark
    .command('status')
    .description("each group's alignment (min, max, lag, aligned) and each source's watermark")
    .action(action('watermark', (ctx) => watermarkStatusCommand(ctx)));
  const wmGroup = watermark
    .command('group')
    .description('watermark groups: sources whose watermarks must agree within a tolerance');
  wmGroup
    .command('create <name> <sources...>')
    .description('create a group over two or more source tables')
    .option('-t, --tolerance <seconds>', 'the largest allowed lag between their watermarks (default 0)')
    .action(
      action('watermark', (ctx, name: string, sources: string[], opts: { tolerance?: string }) =>
        watermarkGroupCreateCommand(ctx, name, sources, opts),
      ),
    );
  wmGroup
    .command('drop <name>')
    .description('drop a group')
    .action(action('watermark', (ctx, name: string) => watermarkGroupDropCommand(ctx, name)));
  wmGroup
    .command('list')
    .description('list the groups')
    .action(action('watermark', (ctx) => watermarkGroupListCommand(ctx)));
  p.command('demo')
    .description(
      'a live demo: an embedded PostgreSQL 18 (unless a database is configured), a shop and a pipeline of stream tables kept fresh under writes',
    )
    .option('-d, --duration <seconds>', 'how long to run; 0 = until Ctrl-C', '20')
    .option(
      '--data-dir <dir>',
      "the embedded server data directory (default .pgtrickle/demo; under the temp dir when PostgreSQL's OS user cannot reach it)",
    )
    .option('--rate <tps>', 'writer transactions per second', '5')
    .option('--verify-every <seconds>', 'seconds between verification rounds', '4')
    .option('--plain', 'plain lines even on a terminal (implied by --json)')
    .action(
      action(
        'demo',
        (
          ctx,
          opts: { duration: string; dataDir?: string; rate: string; verifyEvery: string; plain?: boolean },
        ) =>
          demoCommand(ctx, {
            durationS: intOption('duration', opts.duration, 0) ?? 20,
            ...(opts.dataDir === undefined ? {} : { dataDir: opts.dataDir }),
            rate: intOption('rate', opts.rate, 0.1) ?? 5,
            verifyEveryS: intOption('verify-every', opts.verifyEvery, 1) ?? 4,
            plain: opts.plain === true || ctx.json,
          }),
      ),
    );
  for (const cmd of p.commands) example(cmd, cmd.name());
  return p;
}

/** Runs the CLI with `argv` (without `node` and the script); resolves with the exit code. */
export async function main(argv: readonly string[], io: CliIo = processIo()): Promise<number> {
  let exit = 0;
  let command = '';
  let logger: SidecarLogger | null = null;
  let loaded: LoadedConfig | null = null;
  const p = program(io, {
    exit: (code) => {
      exit = code;
    },
    command: (name) => {
      command = name;
    },
    logger: (l) => {
      logger = l;
    },
    loaded: (l) => {
      loaded = l;
    },
  });
  // The command's name for error lines, also when parsing fails before its action runs.
  const names = new Set(p.commands.map((c) => c.name()));
  command = argv.find((a) => names.has(a)) ?? '';
  // --json decides the error format, also when the command line itself is wrong.
  const end = argv.indexOf('--');
  const json = (end === -1 ? argv : argv.slice(0, end)).includes('--json');
  if (argv.length === 0) {
    io.stderr.write(p.helpInformation());
    return 2;
  }
  const fail = (error: unknown, text: string, code: number): number => {
    if (!json) {
      io.stderr.write(`${text}\n`);
      return code;
    }
    const body = errorJson(error, command);
    const config = loaded as LoadedConfig | null;
    // Where the refused connection came from is half of the answer.
    const hint =
      body.error.code === 'PGT_CONNECTION' && config !== null
        ? `${body.error.hint} (this connection came from ${describeConnectionSource(config)})`
        : body.error.hint;
    io.stderr.write(`${JSON.stringify({ error: { ...body.error, hint } })}\n`);
    return code;
  };
  const prefix = `pgtrickle${command ? ` ${command}` : ''}`;
  try {
    await p.parseAsync([...argv], { from: 'user' });
    return exit;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (
        error.code === 'commander.helpDisplayed' ||
        error.code === 'commander.version' ||
        error.exitCode === 0
      )
        return 0;
      const message = error.message.replace(/^error: /, '');
      return fail(
        new SidecarError('PGT_USAGE', message, { cause: error }),
        `${prefix}: PGT_USAGE: ${message} (see pgtrickle ${command ? `${command} ` : ''}--help)`,
        2,
      );
    }
    const [first, ...rest] = errorMessage(error).split('\n');
    // One line; details (e.g. the server log of a failed start) go to the debug log.
    const more =
      rest.length > 0 && !(logger as SidecarLogger | null)?.enabled('debug')
        ? ' (details: --log-level debug)'
        : '';
    // A refused connection nobody configured: say that pg's defaults were tried.
    const config = loaded as LoadedConfig | null;
    const defaults =
      errorCode(error) === 'PGT_CONNECTION' && config !== null && !connectionConfigured(config)
        ? " (nothing configured the connection, so pg's defaults were used: pass --database-url or -c, or set DATABASE_URL or PGHOST)"
        : '';
    if (rest.length > 0) (logger as SidecarLogger | null)?.debug('error-detail', { detail: rest.join('\n') });
    return fail(
      error,
      `${prefix}: ${errorCode(error)}: ${first}${more}${defaults}`,
      error instanceof SidecarError ? error.exitCode : 1,
    );
  }
}
