/**
 * The watermark gate's inputs and stuck-source alerts, per tick (docs/watermarks.md). Rules:
 * - the state of every watermark group is read once per tick (`readWatermarkState`) — as of the
 *   tick's snapshot when the tick bound is on, the snapshot every refresh of the tick reads, so a
 *   load committing data and watermark after the tick began is seen by neither — and each
 *   table's inputs are cut from it: its transitive base sources (given by the store), the groups
 *   sharing at least one of them, their sources' watermarks in exact epoch microseconds, tolerances
 *   in microseconds; a table no group concerns gets null (the gate proceeds);
 * - stuck detection is on when the timeout is > 0: a grouped source is stuck when it has a
 *   watermark and it has not advanced for longer than the timeout (by the database's clock);
 *   sources without a watermark are never stuck;
 * - a newly stuck source sends one `watermark_stuck` alert; when it advances again (no longer
 *   stuck), one `watermark_resumed`. Which sources were alerted is remembered in memory only (a new
 *   leader alerts again). An alert that cannot be sent is logged, never fails the tick.
 */
import type { WatermarkInputs } from '@pgtrickle/gates';
import type { SchedulerLogger } from '@pgtrickle/scheduler';
import { emitAlert } from '../catalog/alerts.js';
import type { Queryable } from '../catalog/schema.js';
import { readWatermarkState, type WatermarkGroupState } from '../catalog/watermarks.js';

/** Watermark state for the scheduler's ticks. */
export class WatermarkWatch {
  #groups: readonly WatermarkGroupState[] = [];
  /** Stuck sources (OID text) → seconds since they last advanced, this tick. */
  #stuck = new Map<string, number>();
  /** Sources a `watermark_stuck` alert went out for, not yet resumed. */
  readonly #alerted = new Set<string>();

  constructor(
    private readonly q: Queryable,
    /** Stuck after this long without an advance, ms (0: detection off). */
    private readonly timeoutMs: number,
    private readonly logger: Pick<SchedulerLogger, 'warn'> | null = null,
  ) {}

  /**
   * Reads every group's state for this tick through `reader` (the tick's snapshot, so the gate
   * compares the watermarks of the data the tick's refreshes read) and sends the alerts it calls for.
   */
  async refresh(reader: Queryable = this.q): Promise<void> {
    await this.apply(await readWatermarkState(reader));
  }

  /** Whether stuck detection is on (a stuck source's age grows with time, so the state is read every tick). */
  get detectsStuck(): boolean {
    return this.timeoutMs > 0;
  }

  /** Takes `groups` (read by the caller, e.g. with the tick's first statement) as this tick's state and sends the alerts it calls for. */
  async apply(groups: readonly WatermarkGroupState[]): Promise<void> {
    this.#groups = groups;
    const stuck = new Map<string, number>();
    const names = new Map<string, string>();
    const groupsOf = new Map<string, string[]>();
    const present = new Set<string>();
    for (const g of this.#groups) {
      for (const s of g.sources) {
        present.add(s.source);
        names.set(s.source, s.name);
        groupsOf.set(s.source, [...(groupsOf.get(s.source) ?? []), g.name]);
        if (this.timeoutMs > 0 && s.ageSecs !== null && s.ageSecs * 1000 > this.timeoutMs)
          stuck.set(s.source, s.ageSecs);
      }
    }
    this.#stuck = stuck;
    for (const [source, age] of stuck) {
      if (this.#alerted.has(source)) continue;
      this.#alerted.add(source);
      const groups = groupsOf.get(source) ?? [];
      await this.alert('watermark_stuck', {
        group: groups[0] ?? null,
        groups,
        source: names.get(source) ?? source,
        source_oid: Number(source),
        age_secs: Math.round(age * 1000) / 1000,
        timeout_secs: this.timeoutMs / 1000,
      });
    }
    for (const source of [...this.#alerted]) {
      if (stuck.has(source)) continue;
      this.#alerted.delete(source);
      // Resumed only by an advance; a source that left every group (or detection turned off) is forgotten.
      if (!present.has(source) || this.timeoutMs <= 0) continue;
      await this.alert('watermark_resumed', {
        groups: groupsOf.get(source) ?? [],
        source: names.get(source) ?? source,
        source_oid: Number(source),
      });
    }
  }

  private async alert(event: 'watermark_stuck' | 'watermark_resumed', fields: Record<string, unknown>) {
    try {
      await emitAlert(this.q, event, fields);
    } catch (error) {
      this.logger?.warn('alert-not-sent', {
        event,
        error: error instanceof Error ? error.message : String(error),
      });
    }
  }

  /** The gate's inputs for a table reading `baseSources` (OIDs as text); null when no group concerns it. */
  inputsFor(baseSources: readonly string[]): WatermarkInputs<number, number> | null {
    if (this.#groups.length === 0) return null;
    const own = new Set(baseSources);
    const groups = this.#groups.filter((g) => g.sources.some((s) => own.has(s.source)));
    if (groups.length === 0) return null;
    const watermarks = new Map<string, number | undefined>();
    const sourceNames = new Map<string, string>();
    const stuck = new Map<string, number>();
    for (const g of groups) {
      for (const s of g.sources) {
        watermarks.set(s.source, s.watermarkUs ?? undefined);
        sourceNames.set(s.source, s.name);
        const age = this.#stuck.get(s.source);
        if (age !== undefined) stuck.set(s.source, Math.round(age * 1000) * 1000);
      }
    }
    return {
      sources: baseSources,
      groups: groups.map((g) => ({
        name: g.name,
        sources: g.sources.map((s) => s.source),
        tolerance: g.toleranceSecs * 1e6,
      })),
      watermarks,
      sourceNames,
      ...(this.timeoutMs > 0 ? { stuck, stuckTimeout: this.timeoutMs * 1000 } : {}),
    };
  }
}
