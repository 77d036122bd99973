/**
 * The verdict memo: an idle tick reuses the previous tick's verdicts instead of running the gate
 * pipeline again for every table. Rule: a table's verdict is reused only when the full pipeline
 * would return the very same verdict, which holds when every gate the pipeline ran for it is one
 * whose decision rests only on what is known to be unchanged:
 * - the status gate (`StatusGate`) decides from the table's meta alone;
 * - the schedule gate (`ScheduleGate`) from the meta and the tick's instant: "due" stays due as
 *   time goes forward (due-ness is monotone in `now`), "not due until t" holds until t, a skip
 *   with no next time (frozen tier, a cron that never fires again) and a block (an invalid
 *   schedule) hold as long as the meta does;
 * - the upstream-changes gate (`UpstreamChangesGate`) from the meta and the pending answers
 *   (`hasPendingSourceChanges`, `changedUpstreams`), which hold while the store says the table's
 *   answers did not change since the previous tick (`SchedulerStore.pendingUnchanged`) and no
 *   unit upstream of the table refreshed, failed or was suspended earlier in this tick.
 * Gates are recognised by their exact class (a subclass or a wrapper is not trusted). A verdict
 * is reused only for a single-table unit, with the same meta object (the plan of the same catalog
 * snapshot), the same pipeline object, a clock that did not go back, and, when it rests on the
 * pending answers, only if it was given or confirmed in the memo's previous tick. Anything else —
 * another gate ran, a group unit, a new catalog snapshot — is evaluated in full.
 */
import {
  type GatePipeline,
  type PipelineVerdict,
  ScheduleGate,
  StatusGate,
  type StreamTableMeta,
  UpstreamChangesGate,
} from '@pgtrickle/gates';

/** One memoized verdict and what it rests on. */
interface Entry {
  readonly meta: StreamTableMeta;
  readonly verdict: PipelineVerdict;
  /** The instant (ms) it was evaluated at: reused only at this instant or later. */
  readonly at: number;
  /** Reused only before this instant (ms); +∞ when time cannot change it. */
  readonly until: number;
  /** Whether it rests on the pending answers. */
  readonly pending: boolean;
  /** The memo tick it was given or last confirmed in. */
  tick: number;
}

/** What a tick knows when it asks the memo. */
export interface MemoCheck {
  /** The table's meta in this tick's plan. */
  readonly meta: StreamTableMeta;
  /** The tick's instant, ms. */
  readonly nowMs: number;
  /** Whether the table's pending answers are the previous tick's (asked only when the verdict rests on them). */
  readonly pendingUnchanged: () => boolean;
}

/** The verdicts of the previous ticks that a later tick may reuse (module rule). */
export class VerdictMemo {
  readonly #entries = new Map<string, Entry>();
  #pipeline: GatePipeline | null = null;
  #tables: ReadonlyMap<string, StreamTableMeta> | null = null;
  #tick = 0;

  /**
   * Starts a tick evaluated with `pipeline` over the planned `tables` (another pipeline than the
   * previous tick's forgets everything; tables no longer planned are forgotten).
   */
  beginTick(pipeline: GatePipeline, tables: ReadonlyMap<string, StreamTableMeta>): void {
    if (pipeline !== this.#pipeline) {
      this.#entries.clear();
      this.#pipeline = pipeline;
    }
    if (tables !== this.#tables) {
      for (const id of [...this.#entries.keys()]) if (!tables.has(id)) this.#entries.delete(id);
      this.#tables = tables;
    }
    this.#tick++;
  }

  /** The previous verdict of table `id` if the full pipeline would give it again now; undefined otherwise. */
  reuse(id: string, check: MemoCheck): PipelineVerdict | undefined {
    const e = this.#entries.get(id);
    if (e === undefined || e.meta !== check.meta) return undefined;
    if (check.nowMs < e.at || check.nowMs >= e.until) return undefined;
    if (e.pending && !(e.tick === this.#tick - 1 && check.pendingUnchanged())) return undefined;
    e.tick = this.#tick;
    return e.verdict;
  }

  /** Records the verdict the full pipeline gave table `meta` at `nowMs` (kept only if reusable). */
  record(meta: StreamTableMeta, verdict: PipelineVerdict, nowMs: number): void {
    const entry = this.#pipeline === null ? null : entryOf(this.#pipeline, meta, verdict, nowMs, this.#tick);
    if (entry === null) this.#entries.delete(meta.id);
    else this.#entries.set(meta.id, entry);
  }

  /** Forgets table `id`'s verdict (it was not evaluated in full this tick). */
  forget(id: string): void {
    this.#entries.delete(id);
  }

  /** How many verdicts are kept. */
  get size(): number {
    return this.#entries.size;
  }
}

/** The memo entry of a verdict, or null when a gate it rests on is not one the module rule trusts. */
function entryOf(
  pipeline: GatePipeline,
  meta: StreamTableMeta,
  verdict: PipelineVerdict,
  nowMs: number,
  tick: number,
): Entry | null {
  const d = verdict.decision;
  if (verdict.gate === null || d.kind === 'proceed' || d.effect !== undefined) return null;
  let until = Number.POSITIVE_INFINITY;
  let pending = false;
  for (const gate of pipeline.gates) {
    const decided = gate.name === verdict.gate;
    const kind = gate.constructor;
    if (kind === StatusGate) {
      // meta only
    } else if (kind === ScheduleGate) {
      if (decided && d.kind === 'skip' && d.until !== undefined) until = d.until.getTime();
    } else if (kind === UpstreamChangesGate) {
      pending = true;
    } else {
      return null;
    }
    if (decided) return { meta, verdict, at: nowMs, until, pending, tick };
  }
  return null;
}
