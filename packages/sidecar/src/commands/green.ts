/**
 * `pgtrickle green create|status|promote|cancel|rollback|drop-retired NAME` (docs/blue-green.md):
 * a blue-green deployment of one stream table — a green copy with a new query, schedule or mode
 * that catches up on its own, promoted in one transaction when it has converged, rolled back or
 * finished afterwards. Each calls the client's blue-green API (`createGreen`, `greenStatus`,
 * `promoteGreen`, `cancelGreen`, `rollbackGreen`, `dropRetired`).
 */
import type { GreenStatus } from '@pgtrickle/client';
import type { RequestedMode } from '@pgtrickle/dvm';
import { type CommandContext, withTrickle } from '../context.js';
import { SidecarError } from '../errors.js';
import { textTable } from './tables.js';

/** Options of `pgtrickle green`. */
export interface GreenOptions {
  readonly query?: string;
  readonly schedule?: string;
  readonly mode?: string;
  readonly force?: boolean;
  readonly cascade?: boolean;
  readonly maxLag?: string;
  readonly verify?: boolean;
}

const WHATS = ['create', 'status', 'promote', 'cancel', 'rollback', 'drop-retired'] as const;

function ms(v: number | null): string {
  if (v === null) return '-';
  return v < 1000 ? `${Math.round(v)}ms` : `${(v / 1000).toFixed(1)}s`;
}

function statusLine(s: GreenStatus): string[] {
  return [
    s.streamTable,
    s.greenName ?? '-',
    s.state,
    s.converged ? 'yes' : 'no',
    s.frontierLagXids === null ? '-' : String(s.frontierLagXids),
    ms(s.dataTimestampLagMs),
    `${s.blueRows ?? '?'}/${s.greenRows ?? '?'}`,
    ms(s.ageMs),
    ms(s.etaMs),
    s.retiredName ?? '-',
  ];
}

/** `--max-lag` as milliseconds: a duration such as '500ms', '5s' or '2m'. */
function lagMs(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)\s*$/.exec(text);
  if (m === null)
    throw new SidecarError(
      'PGT_USAGE',
      `--max-lag takes a duration such as '500ms', '5s' or '2m', got "${text}".`,
    );
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
  return Number(m[1]) * unit;
}

/** `pgtrickle green <what> NAME [options]`. */
export async function greenCommand(
  ctx: CommandContext,
  what: string,
  name: string | undefined,
  options: GreenOptions,
): Promise<number> {
  if (!(WHATS as readonly string[]).includes(what))
    throw new SidecarError('PGT_USAGE', `green takes ${WHATS.join(', ')}, got "${what}".`);
  if (name === undefined)
    throw new SidecarError(
      'PGT_USAGE',
      `green ${what} needs the stream table: pgtrickle green ${what} NAME.`,
    );
  const creating =
    options.query !== undefined || options.schedule !== undefined || options.mode !== undefined;
  if (creating && what !== 'create')
    throw new SidecarError('PGT_USAGE', '--query, --schedule and --mode go with green create.');
  const promoting =
    options.force === true ||
    options.cascade === true ||
    options.verify === true ||
    options.maxLag !== undefined;
  if (promoting && what !== 'promote')
    throw new SidecarError('PGT_USAGE', '--force, --cascade, --max-lag and --verify go with green promote.');
  const maxLagMs = options.maxLag === undefined ? undefined : lagMs(options.maxLag);
  return withTrickle(ctx, async (trickle) => {
    switch (what) {
      case 'create': {
        if (!creating)
          throw new SidecarError(
            'PGT_USAGE',
            'green create needs what changes: --query, --schedule or --mode (the rest is the table’s own).',
          );
        const d = await trickle.createGreen(name, {
          ...(options.query === undefined ? {} : { query: options.query }),
          ...(options.schedule === undefined ? {} : { schedule: options.schedule }),
          ...(options.mode === undefined ? {} : { refreshMode: options.mode.toUpperCase() as RequestedMode }),
        });
        ctx.logger.info('green-created', { table: name, green: d.greenName });
        if (ctx.json) ctx.outJson(d);
        else
          ctx.out(
            `created ${d.schema}.${d.greenName}, the green copy of ${name}: it catches up on its own; pgtrickle green status ${name} shows when it has converged`,
          );
        return 0;
      }
      case 'status': {
        const s = await trickle.greenStatus(name);
        if (s === null)
          throw new SidecarError(
            'PGT_USAGE',
            `${name} has no blue-green deployment (start one: pgtrickle green create ${name} --query "SELECT …").`,
          );
        if (ctx.json) ctx.outJson(s);
        else
          for (const line of textTable(
            [
              'NAME',
              'GREEN',
              'STATE',
              'CONVERGED',
              'LAG (XIDS)',
              'DATA LAG',
              'ROWS',
              'AGE',
              'ETA',
              'RETIRED',
            ],
            [statusLine(s)],
          ))
            ctx.out(line);
        return 0;
      }
      case 'promote': {
        const r = await trickle.promoteGreen(name, {
          force: options.force === true,
          cascade: options.cascade === true,
          verify: options.verify === true,
          ...(maxLagMs === undefined ? {} : { maxLagMs }),
        });
        ctx.logger.info('green-promoted', { table: r.name, forced: r.forced });
        if (ctx.json) ctx.outJson(r);
        else {
          ctx.out(
            `promoted the green copy of ${r.name}${r.forced ? ' (forced)' : ''}; the old version is ${r.retired}`,
          );
          if (r.rebuilt.length > 0) ctx.out(`rebuilt: ${r.rebuilt.join(', ')}`);
          if (r.broken.length > 0) ctx.out(`in ERROR (their query no longer fits): ${r.broken.join(', ')}`);
          if (r.indexesNotCarried.length > 0)
            ctx.out(`indexes not carried over: ${r.indexesNotCarried.join(', ')}`);
          ctx.out(`keep it: pgtrickle green drop-retired ${name}; go back: pgtrickle green rollback ${name}`);
        }
        return 0;
      }
      case 'cancel':
      case 'rollback': {
        const r = what === 'cancel' ? await trickle.cancelGreen(name) : await trickle.rollbackGreen(name);
        ctx.logger.info(`green-${what}`, { table: name });
        if (ctx.json) ctx.outJson({ name, ...r });
        else
          ctx.out(`${what === 'cancel' ? 'cancelled' : 'rolled back'} the blue-green deployment of ${name}`);
        return 0;
      }
      default: {
        const r = await trickle.dropRetired(name);
        ctx.logger.info('green-retired', { table: name, dropped: r.dropped });
        if (ctx.json) ctx.outJson({ name, ...r });
        else ctx.out(`dropped ${r.dropped}; the deployment of ${name} is finished`);
        return 0;
      }
    }
  });
}
