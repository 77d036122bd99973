/**
 * `pgtrickle fuse status [NAME]` and `pgtrickle fuse reset NAME [--action …]` (docs/refresh-control.md,
 * "Fuse"): the state of every fuse (those that are off included), and the reset of a blown one —
 * `apply` (default) refreshes the held batch without checking it again, `reinitialize` recomputes
 * the table, `skip_changes` moves only this table's frontier past the pending changes. Both call
 * the client, which runs the SQL API's `pgtrickle.fuse_status()` / `pgtrickle.reset_fuse()`.
 */
import type { FuseResetAction, FuseStatusRow } from '@pgtrickle/client';
import { type CommandContext, withTrickle } from '../context.js';
import { SidecarError } from '../errors.js';
import { textTable } from './tables.js';

const ACTIONS: readonly FuseResetAction[] = ['apply', 'reinitialize', 'skip_changes'];

/** Parses `--action` (any case; default apply). */
export function parseResetAction(text: string | undefined): FuseResetAction {
  if (text === undefined) return 'apply';
  const action = text.trim().toLowerCase() as FuseResetAction;
  if (!ACTIONS.includes(action)) {
    throw new SidecarError('PGT_USAGE', `--action must be one of ${ACTIONS.join(', ')}, got "${text}".`);
  }
  return action;
}

function fuseLine(f: FuseStatusRow): string[] {
  const ceiling =
    f.effectiveCeiling === null ? '-' : `${f.effectiveCeiling}${f.ceiling === null ? ' (default)' : ''}`;
  const baseline =
    f.baselineMean === null ? '-' : `μ ${f.baselineMean.toFixed(1)} σ ${(f.baselineStddev ?? 0).toFixed(1)}`;
  return [
    f.streamTable,
    f.mode,
    f.state,
    ceiling,
    String(f.pending),
    baseline,
    f.state === 'blown' ? `${f.blownAt?.toISOString() ?? ''} ${f.blowReason ?? ''}`.trim() : '',
  ];
}

/** `pgtrickle fuse <status|reset> [NAME] [--action …]`. */
export async function fuseCommand(
  ctx: CommandContext,
  what: string,
  name: string | undefined,
  options: { action?: string },
): Promise<number> {
  if (what === 'status') {
    if (options.action !== undefined) throw new SidecarError('PGT_USAGE', '--action goes with fuse reset.');
    return withTrickle(ctx, async (trickle) => {
      const all = await trickle.fuseStatus();
      const rows =
        name === undefined
          ? all
          : all.filter((f) => f.streamTable === name || f.streamTable === `public.${name}`);
      if (name !== undefined && rows.length === 0)
        throw new SidecarError(
          'PGT_USAGE',
          `There is no stream table ${name} of yours; pgtrickle fuse status lists them.`,
        );
      if (ctx.json) {
        ctx.outJson(rows);
        return 0;
      }
      for (const line of textTable(
        ['NAME', 'MODE', 'STATE', 'CEILING', 'PENDING', 'BASELINE', 'BLOWN'],
        rows.map(fuseLine),
      ))
        ctx.out(line);
      return 0;
    });
  }
  if (what === 'reset') {
    if (name === undefined)
      throw new SidecarError('PGT_USAGE', 'fuse reset needs the stream table: pgtrickle fuse reset NAME.');
    const action = parseResetAction(options.action);
    return withTrickle(ctx, async (trickle) => {
      await trickle.resetFuse(name, action);
      ctx.logger.info('fuse-reset', { table: name, action });
      if (ctx.json) ctx.outJson({ name, action, state: 'armed' });
      else ctx.out(`reset the fuse of ${name} (${action}); the scheduler applies it at its next tick`);
      return 0;
    });
  }
  throw new SidecarError('PGT_USAGE', `fuse takes status or reset, got "${what}".`);
}
