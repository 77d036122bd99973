/**
 * `pgtrickle alter <name> [--query] [--schedule] [--mode]`: changes a stream table's defining
 * query, schedule or refresh mode through the client (synchronously: it returns once the change
 * committed). A new mode switches in one transaction (FULL ⇄ DIFFERENTIAL ⇄ IMMEDIATE, see
 * docs/immediate.md); a new query rebuilds the table in place.
 */
import { type CommandContext, withTrickle } from '../context.js';
import { SidecarError } from '../errors.js';
import { parseMode } from './tables.js';

/** `pgtrickle alter <name> [--query] [--schedule] [--mode]`. */
export async function alterCommand(
  ctx: CommandContext,
  name: string,
  options: { query?: string; schedule?: string; mode?: string },
): Promise<number> {
  const refreshMode = parseMode(options.mode);
  if (options.query === undefined && options.schedule === undefined && refreshMode === undefined) {
    throw new SidecarError(
      'PGT_USAGE',
      'alter needs --query, --schedule or --mode (see pgtrickle alter --help).',
    );
  }
  return withTrickle(ctx, async (trickle) => {
    const st = await trickle.alterStreamTable(name, {
      ...(options.query === undefined ? {} : { query: options.query }),
      ...(options.schedule === undefined ? {} : { schedule: options.schedule }),
      ...(refreshMode === undefined ? {} : { refreshMode }),
    });
    ctx.logger.info('altered', { table: st.name, mode: st.effectiveMode, schedule: st.schedule });
    if (ctx.json) {
      ctx.outJson({
        name: st.name,
        refreshMode: st.refreshMode,
        effectiveMode: st.effectiveMode,
        modeReason: st.modeReason ?? null,
        schedule: st.schedule,
        sources: st.sources,
        status: st.status,
      });
      return 0;
    }
    ctx.out(
      `altered ${st.name}: ${st.effectiveMode}, schedule ${st.schedule}, reads ${st.sources.join(', ') || '-'}`,
    );
    return 0;
  });
}
