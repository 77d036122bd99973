/**
 * The `pgtrickle` command line. Rules:
 * - every command reads the configuration the same way (defaults < TOML < `PGTRICKLE_*` < flags;
 *   the configuration flags are accepted before or after the command name);
 * - command output goes to stdout, logs and progress to stderr;
 * - a failure prints one line, `pgtrickle <command>: <CODE>: <message>`, and exits 1; a wrong
 *   command line exits 2 (unknown command or option, missing argument, invalid flag value).
 */
import { Command, CommanderError, Option } from 'commander';
import { migrateCommand, planCommand } from './commands/catalog.js';
import { demoCommand } from './commands/demo.js';
import { doctorCommand } from './commands/doctor.js';
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
import { CONFIG_KEYS, type LoadedConfig, loadConfig } from './config.js';
import { type CliIo, type CommandContext, commandContext } from './context.js';
import { errorCode, errorMessage, SidecarError } from './errors.js';
import { createLogger, type SidecarLogger } from './logger.js';

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
}

function program(io: CliIo, hooks: Hooks): Command {
  const p = new Command('pgtrickle')
    .description('Stream tables for any PostgreSQL: the pgtrickle sidecar process and its tools.')
    .version(VERSION, '-v, --version')
    .helpOption('-h, --help')
    .showHelpAfterError(false)
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
      outputError: () => undefined,
    })
    .exitOverride();
  p.addOption(
    new Option('-c, --config <file>', `TOML config file (default $PGTRICKLE_CONFIG, else ./pgtrickle.toml)`),
  );
  for (const spec of CONFIG_KEYS) {
    p.addOption(new Option(`--${spec.flag} <value>`, `${spec.description} [${spec.key}, $${spec.env}]`));
  }

  const context = (cmd: Command): CommandContext => {
    const all = cmd.optsWithGlobals() as Record<string, string | undefined>;
    const flags: Record<string, string | undefined> = {};
    for (const spec of CONFIG_KEYS) flags[spec.flag] = all[camel(spec.flag)];
    const loaded: LoadedConfig = loadConfig({
      flags,
      ...(all.config === undefined ? {} : { configPath: all.config }),
      env: io.env,
      cwd: io.cwd,
    });
    const logger = createLogger({
      level: loaded.config.log.level,
      format: loaded.config.log.format,
      sink: io.stderr,
    });
    hooks.logger(logger);
    logger.debug('config', { file: loaded.file });
    return commandContext(loaded, logger, io);
  };
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
    .option('--json', 'print JSON')
    .action(action('status', (ctx, opts: { json?: boolean }) => statusCommand(ctx, opts)));
  p.command('explain <name>')
    .description('how a stream table is maintained: mode, sources, row identity, SQL')
    .option('--json', 'print JSON')
    .action(
      action('explain', (ctx, name: string, opts: { json?: boolean }) => explainCommand(ctx, name, opts)),
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
    .option('--json', 'print JSON')
    .action(action('doctor', (ctx, opts: { json?: boolean }) => doctorCommand(ctx, opts)));
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
    .option('--plain', 'plain lines even on a terminal')
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
            plain: opts.plain === true,
          }),
      ),
    );
  return p;
}

/** Runs the CLI with `argv` (without `node` and the script); resolves with the exit code. */
export async function main(argv: readonly string[], io: CliIo = processIo()): Promise<number> {
  let exit = 0;
  let command = '';
  let logger: SidecarLogger | null = null;
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
  });
  // The command's name for error lines, also when parsing fails before its action runs.
  const names = new Set(p.commands.map((c) => c.name()));
  command = argv.find((a) => names.has(a)) ?? '';
  if (argv.length === 0) {
    io.stderr.write(p.helpInformation());
    return 2;
  }
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
      io.stderr.write(
        `pgtrickle${command ? ` ${command}` : ''}: PGT_USAGE: ${error.message.replace(/^error: /, '')} (see pgtrickle --help)\n`,
      );
      return 2;
    }
    const message = errorMessage(error);
    const [first, ...rest] = message.split('\n');
    // One line; details (e.g. the server log of a failed start) go to the debug log.
    const more =
      rest.length > 0 && !(logger as SidecarLogger | null)?.enabled('debug')
        ? ' (details: --log-level debug)'
        : '';
    io.stderr.write(`pgtrickle${command ? ` ${command}` : ''}: ${errorCode(error)}: ${first}${more}\n`);
    if (rest.length > 0) (logger as SidecarLogger | null)?.debug('error-detail', { detail: rest.join('\n') });
    return error instanceof SidecarError ? error.exitCode : 1;
  }
}
