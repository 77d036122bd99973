/**
 * `pgtrickle migrate` and `pgtrickle plan`: the catalog's migrations, applied or printed.
 * Rules:
 * - `migrate` applies the pending migrations one transaction each (the client's `Trickle.install`
 *   up to each version in turn, under its advisory lock), with a progress line per migration; a
 *   failure leaves the catalog at the last migration that committed, and running it again resumes;
 * - `plan` prints, without executing anything, exactly the statements `migrate` would run for
 *   this database's catalog version (the client's `migrationScript`, from the same migration files), as a script a DBA can review (and run with psql: the result
 *   is a catalog `migrate` accepts as current — a test checks it). With `--query`, it also prints
 *   what creating that stream table would install: storage DDL, change capture on its sources,
 *   the population and the differential delta.
 */
import {
  CATALOG_SCHEMA_NAME,
  CATALOG_VERSION,
  type CatalogState,
  ClientError,
  catalogPort,
  executor,
  installedVersion,
  migrationScript,
  parseName,
  SchemaVersionError,
} from '@pgtrickle/client';
import {
  baseCaptureDdl,
  type CatalogPort,
  compileStreamTable,
  createSqlCatalogPort,
  streamBufferDdl,
} from '@pgtrickle/dvm';
import { type CommandContext, withTrickle } from '../context.js';
import { startProgress } from '../progress.js';
import { parseMode } from './tables.js';

export { type CatalogState, catalogState, migrationScript } from '@pgtrickle/client';

function refuseForeign(state: CatalogState): void {
  if (state.unknown.length > 0) throw new SchemaVersionError(Math.max(...state.unknown), CATALOG_VERSION);
  if (state.mismatched.length > 0) {
    throw new ClientError(
      'PGT_SCHEMA_VERSION',
      `Catalog migration ${state.mismatched.join(', ')} was applied from different statements than this pgtrickle's; the catalog was changed by another version of pgtrickle: use that version, or reinstall.`,
    );
  }
}

function statement(sql: string): string {
  const s = sql.trim();
  return s.endsWith(';') ? s : `${s};`;
}

/** `pgtrickle migrate`. */
export async function migrateCommand(ctx: CommandContext): Promise<number> {
  return withTrickle(ctx, async (trickle) => {
    const state = await trickle.catalogState();
    refuseForeign(state);
    const applied: { version: number; name: string; ms: number }[] = [];
    const report = async () =>
      ctx.outJson({ from: state.version, version: await installedVersion(trickle.db), applied });
    if (state.pending.length === 0) {
      if (ctx.json) await report();
      else ctx.out(`pgtrickle catalog is up to date (version ${state.version})`);
      return 0;
    }
    ctx.logger.info('migrating', {
      from: state.version,
      to: CATALOG_VERSION,
      pending: state.pending.map((m) => m.version),
    });
    for (const [i, m] of state.pending.entries()) {
      const label = `[${i + 1}/${state.pending.length}] migration ${m.version}: ${m.name}`;
      const progress = startProgress(label, { sink: ctx.io.stderr, env: ctx.io.env });
      const started = performance.now();
      try {
        await trickle.install(m.version);
      } catch (error) {
        progress.fail(
          `${label} failed (rolled back; the catalog is at version ${await installedVersion(trickle.db).catch(() => '?')})`,
        );
        throw error;
      }
      const ms = Math.round(performance.now() - started);
      progress.succeed(label);
      ctx.logger.info('migration-applied', { version: m.version, name: m.name, ms });
      applied.push({ version: m.version, name: m.name, ms });
      if (!ctx.json) ctx.out(`applied migration ${m.version} (${m.name}) in ${ms} ms`);
    }
    if (ctx.json) await report();
    else ctx.out(`pgtrickle catalog is at version ${await installedVersion(trickle.db)}`);
    return 0;
  });
}

/** Options of `pgtrickle plan`. */
export interface PlanOptions {
  /** Also plan this stream table's defining query. */
  readonly query?: string;
  /** Its name (default `public.planned_stream_table`). */
  readonly name?: string;
  /** Its refresh mode (default AUTO). */
  readonly mode?: string;
}

/** `pgtrickle plan [--query … --name … --mode …]`; with `--json`, `{ from, to, sql }`. */
export async function planCommand(ctx: CommandContext, options: PlanOptions): Promise<number> {
  if (!ctx.json) return planText(ctx, options);
  const lines: string[] = [];
  let from = 0;
  const code = await planText({ ...ctx, json: false, out: (line = '') => lines.push(line) }, options, (v) => {
    from = v;
  });
  ctx.outJson({ from, to: CATALOG_VERSION, sql: `${lines.join('\n')}\n` });
  return code;
}

async function planText(
  ctx: CommandContext,
  options: PlanOptions,
  onVersion: (version: number) => void = () => undefined,
): Promise<number> {
  const mode = parseMode(options.mode);
  return withTrickle(ctx, async (trickle) => {
    const state = await trickle.catalogState();
    refuseForeign(state);
    onVersion(state.version);
    for (const line of migrationScript(state)) ctx.out(line);
    if (options.query === undefined) return 0;

    const parsed = parseName(options.name ?? 'planned_stream_table');
    const schema =
      parsed.schema ??
      String((await trickle.db.query('SELECT current_schema() AS s')).rows[0]?.s ?? 'public');
    const table = parsed.name;
    // Without a catalog there are no stream tables to recognise among the sources.
    const port: CatalogPort =
      state.version > 0
        ? catalogPort(trickle.db)
        : createSqlCatalogPort(executor(trickle.db.pool), { streamTableOf: async () => null });
    const plan = await compileStreamTable(options.query, port, {
      name: { schema, name: table },
      ...(mode === undefined ? {} : { refreshMode: mode }),
    });
    ctx.out('');
    ctx.out(
      `-- stream table ${schema}.${table}: ${plan.mode}${plan.requestedMode !== plan.mode ? ` (requested ${plan.requestedMode})` : ''}`,
    );
    if (plan.fallbackReason) ctx.out(`-- why FULL: ${plan.fallbackReason}`);
    for (const w of plan.warnings) ctx.out(`-- warning: ${w}`);
    ctx.out(
      `-- Created by \`pgtrickle create\` (or ${CATALOG_SCHEMA_NAME}.create_stream_table) in one transaction with its catalog rows.`,
    );
    ctx.out('-- storage table');
    for (const sql of plan.storageDdl()) ctx.out(statement(sql));
    for (const s of plan.sources) {
      if (s.kind === 'table') {
        ctx.out(
          `-- change capture on ${s.schema}.${s.name} (shared with other stream tables reading it; skipped if installed)`,
        );
        for (const sql of baseCaptureDdl({ oid: s.oid })) ctx.out(statement(sql));
      } else if (s.pgtId !== null) {
        ctx.out(`-- change buffer of the stream table ${s.schema}.${s.name} (skipped if it exists)`);
        for (const sql of streamBufferDdl(s.pgtId, s.columns)) ctx.out(statement(sql));
      }
    }
    ctx.out('-- population (the initial FULL refresh)');
    ctx.out(statement(plan.populationSelect()));
    const delta = plan.refreshSql();
    ctx.out(
      delta === null
        ? '-- no differential delta: every refresh recomputes the query'
        : '-- differential refresh, one statement per refresh (parameters: the previous frontier)',
    );
    if (delta !== null) ctx.out(statement(delta));
    return 0;
  });
}
