/**
 * The default pipeline (docs/scheduler.md, "The default pipeline"): status → schedule →
 * upstream-changes → fuse → watermark → snapshot-coherence. Cheap checks come first; checks that
 * load per-table values come after the ones that usually say "not now", so a quiet tick loads
 * almost nothing. The LSN tick gate and the diamond frontier gate are not in it: the tick bound is
 * applied by the executor (one snapshot per tick), atomic diamonds refresh as one unit, and a
 * diamond set to 'none' refreshes member by member by request. The fuse is group-aware by default (a blown fuse on any
 * consistency-group member blocks the group). The convergence gate is not included: it decides
 * blue-green promotion after a refresh, not whether to refresh.
 */
import { GateConfigError } from './errors.js';
import type { RefreshGate } from './gate.js';
import { FUSE_GATE, type FuseGateOptions, fuseGate } from './gates/fuse.js';
import { groupAware } from './gates/group-aware.js';
import { SCHEDULE_GATE, type ScheduleGateOptions, scheduleGate } from './gates/schedule.js';
import { SNAPSHOT_COHERENCE_GATE, snapshotCoherenceGate } from './gates/snapshot-coherence.js';
import { STATUS_GATE, statusGate } from './gates/status.js';
import { UPSTREAM_CHANGES_GATE, upstreamChangesGate } from './gates/upstream-changes.js';
import { WATERMARK_GATE, watermarkGate } from './gates/watermark.js';
import { GatePipeline } from './pipeline.js';

/** Names of the default gates, in default order. */
export const DEFAULT_GATE_ORDER = Object.freeze([
  STATUS_GATE,
  SCHEDULE_GATE,
  UPSTREAM_CHANGES_GATE,
  FUSE_GATE,
  WATERMARK_GATE,
  SNAPSHOT_COHERENCE_GATE,
] as const);

/** A default gate name. */
export type DefaultGateName = (typeof DEFAULT_GATE_ORDER)[number];

/** Options of `defaultPipeline`. */
export interface DefaultPipelineOptions {
  /** Schedule gate options (cron timezone). */
  readonly schedule?: ScheduleGateOptions;
  /** Fuse gate options. */
  readonly fuse?: FuseGateOptions;
  /** Wrap the fuse gate with `groupAware` (default true). */
  readonly fuseGroupAware?: boolean;
  /** Replacement gates by name (each must carry that name), same position. */
  readonly replace?: Partial<Record<DefaultGateName, RefreshGate>>;
  /** Leave these gates out. */
  readonly omit?: readonly DefaultGateName[];
}

/** The default gate pipeline (see the module rule for the order). */
export function defaultPipeline(options: DefaultPipelineOptions = {}): GatePipeline {
  const fuse = fuseGate(options.fuse ?? {});
  const built: Record<DefaultGateName, RefreshGate> = {
    status: statusGate(),
    schedule: scheduleGate(options.schedule ?? {}),
    'upstream-changes': upstreamChangesGate(),
    fuse: (options.fuseGroupAware ?? true) ? groupAware(fuse) : fuse,
    watermark: watermarkGate(),
    'snapshot-coherence': snapshotCoherenceGate(),
  };
  const omit = new Set<string>(options.omit ?? []);
  const problems: string[] = [];
  for (const n of [...omit, ...Object.keys(options.replace ?? {})]) {
    if (!(DEFAULT_GATE_ORDER as readonly string[]).includes(n)) problems.push(`unknown default gate "${n}"`);
  }
  for (const [slot, gate] of Object.entries(options.replace ?? {})) {
    if (gate && gate.name !== slot) problems.push(`the replacement for "${slot}" is named "${gate.name}"`);
  }
  if (problems.length > 0) {
    throw new GateConfigError(
      problems,
      `Default gates are ${DEFAULT_GATE_ORDER.join(', ')}; a replacement must carry the name of the gate it replaces.`,
    );
  }
  const gates = DEFAULT_GATE_ORDER.filter((n) => !omit.has(n)).map((n) => options.replace?.[n] ?? built[n]);
  return new GatePipeline(gates);
}
