/**
 * The watermark commands (docs/watermarks.md): `watermark advance <source> <timestamp>`,
 * `watermark status`, `watermark group create|drop|list`. Each calls the SQL function of the same
 * name through the client, with the connecting role's rights, in its own transaction (an ETL job
 * publishing a watermark with its data calls `pgtrickle.advance_watermark()` in the load's
 * transaction instead). With `--json` each prints one JSON document.
 */
import { ClientError, type WatermarkStatusRow } from '@pgtrickle/client';
import { type CommandContext, withTrickle } from '../context.js';
import { SidecarError } from '../errors.js';
import { formatAge, textTable } from './tables.js';

const HINTS: Readonly<Record<string, string>> = {
  PGT_WATERMARK_REGRESSION: 'the current watermarks: pgtrickle watermark status',
  PGT_NOT_FOUND: 'list the watermark groups: pgtrickle watermark group list',
  PGT_ALREADY_EXISTS: 'drop it first: pgtrickle watermark group drop <name>',
};

/** Runs `body`, giving a watermark error the hint of a command that exists. */
async function hinted<T>(body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (error) {
    const hint = error instanceof ClientError ? HINTS[error.code] : undefined;
    throw hint === undefined ? error : Object.assign(error as ClientError, { hint });
  }
}

/** Parses `--tolerance` (seconds ≥ 0). */
export function parseTolerance(text: string | undefined): number {
  if (text === undefined) return 0;
  const n = Number(text.trim());
  if (text.trim() === '' || !Number.isFinite(n) || n < 0) {
    throw new SidecarError('PGT_USAGE', `--tolerance must be a number of seconds ≥ 0, got "${text}".`);
  }
  return n;
}

/** `pgtrickle watermark advance <source> <timestamp>`. */
export async function watermarkAdvanceCommand(
  ctx: CommandContext,
  source: string,
  timestamp: string,
): Promise<number> {
  return withTrickle(ctx, async (trickle) => {
    await hinted(() => trickle.advanceWatermark(source, timestamp));
    const rel = (
      await trickle.db.query(
        `SELECT n.nspname AS schema, c.relname AS name
           FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
          WHERE c.oid = pg_catalog.to_regclass($1)`,
        [source],
      )
    ).rows[0] as { schema: string; name: string } | undefined;
    const current = (await trickle.watermarks()).find(
      (w) => w.schemaName === rel?.schema && w.sourceTable === rel?.name,
    );
    const name = rel === undefined ? source : `${rel.schema}.${rel.name}`;
    const watermark = current?.watermark ?? null;
    ctx.logger.info('watermark-advanced', { source: name, watermark });
    if (ctx.json) ctx.outJson({ source: name, watermark });
    else ctx.out(`watermark of ${name}: ${watermark === null ? '-' : watermark.toISOString()}`);
    return 0;
  });
}

/** The status of the groups as text lines. */
export function watermarkStatusLines(rows: readonly WatermarkStatusRow[]): string[] {
  if (rows.length === 0)
    return ['no watermark groups (create one: pgtrickle watermark group create <name> <source> <source>…)'];
  const iso = (d: Date | null) => (d === null ? '-' : d.toISOString());
  return textTable(
    ['GROUP', 'MIN', 'MAX', 'LAG', 'ALIGNED', 'WATERMARKED'],
    rows.map((r) => [
      r.groupName,
      iso(r.minWatermark),
      iso(r.maxWatermark),
      formatAge(r.lagSecs),
      r.aligned ? 'yes' : 'no',
      `${r.sourcesWithWatermark}/${r.sourcesTotal}`,
    ]),
  );
}

/** `pgtrickle watermark status`: each group's alignment, then each source's watermark. */
export async function watermarkStatusCommand(ctx: CommandContext): Promise<number> {
  return withTrickle(ctx, async (trickle) => {
    const groups = await trickle.watermarkStatus();
    const watermarks = await trickle.watermarks();
    if (ctx.json) {
      ctx.outJson({ groups, watermarks });
      return 0;
    }
    for (const line of watermarkStatusLines(groups)) ctx.out(line);
    ctx.out();
    if (watermarks.length === 0) {
      ctx.out('no watermarks (advance one: pgtrickle watermark advance <source> <timestamp>)');
      return 0;
    }
    const now = Date.now();
    for (const line of textTable(
      ['SOURCE', 'WATERMARK', 'ADVANCED', 'BY'],
      watermarks.map((w) => [
        `${w.schemaName}.${w.sourceTable}`,
        w.watermark.toISOString(),
        `${formatAge((now - w.updatedAt.getTime()) / 1000)} ago`,
        w.advancedBy ?? '-',
      ]),
    ))
      ctx.out(line);
    return 0;
  });
}

/** `pgtrickle watermark group create <name> <sources…> [--tolerance <seconds>]`. */
export async function watermarkGroupCreateCommand(
  ctx: CommandContext,
  name: string,
  sources: readonly string[],
  options: { tolerance?: string },
): Promise<number> {
  const toleranceSecs = parseTolerance(options.tolerance);
  return withTrickle(ctx, async (trickle) => {
    const id = await hinted(() => trickle.createWatermarkGroup(name, sources, { toleranceSecs }));
    ctx.logger.info('watermark-group-created', { group: name, id, sources, toleranceSecs });
    if (ctx.json) ctx.outJson({ group: name, id, sources, toleranceSecs });
    else
      ctx.out(
        `created watermark group ${name} (#${id}) over ${sources.join(', ')}, tolerance ${toleranceSecs}s`,
      );
    return 0;
  });
}

/** `pgtrickle watermark group drop <name>`. */
export async function watermarkGroupDropCommand(ctx: CommandContext, name: string): Promise<number> {
  return withTrickle(ctx, async (trickle) => {
    await hinted(() => trickle.dropWatermarkGroup(name));
    ctx.logger.info('watermark-group-dropped', { group: name });
    if (ctx.json) ctx.outJson({ dropped: name });
    else ctx.out(`dropped watermark group ${name}`);
    return 0;
  });
}

/** `pgtrickle watermark group list`. */
export async function watermarkGroupListCommand(ctx: CommandContext): Promise<number> {
  return withTrickle(ctx, async (trickle) => {
    const groups = await trickle.watermarkGroups();
    if (ctx.json) {
      ctx.outJson(groups);
      return 0;
    }
    if (groups.length === 0) {
      ctx.out('no watermark groups (create one: pgtrickle watermark group create <name> <source> <source>…)');
      return 0;
    }
    for (const line of textTable(
      ['GROUP', 'SOURCES', 'TOLERANCE', 'CREATED'],
      groups.map((g) => [
        g.groupName,
        String(g.sourceCount),
        `${g.toleranceSecs}s`,
        g.createdAt.toISOString(),
      ]),
    ))
      ctx.out(line);
    return 0;
  });
}
