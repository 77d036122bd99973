/**
 * What this process saw happen, kept for the operator's view: the service observer behind the
 * metrics and the status page. Rule: it only records — every tick replaces each table's current
 * gate hold, every refresh goes to a bounded list of recent ones and to the metrics — and it
 * names tables by the names the last snapshot read (an id it does not know yet waits for the next
 * names load, so no metric is ever labelled with a bare id).
 */
import type { ServiceObserver, UnitExecution } from '@pgtrickle/client';
import type { TickReport } from '@pgtrickle/scheduler';
import type { OperatorMetrics } from './metrics.js';

/** The gate holding a table at the last tick. */
export interface TableHold {
  readonly gate: string;
  readonly decision: 'skip' | 'block';
  readonly reason: string;
  readonly since: string;
}

/** A refresh this process ran. */
export interface RecentRefresh {
  readonly at: string;
  readonly table: string;
  readonly action: string;
  readonly outcome: 'refreshed' | 'failed';
  readonly rowsInserted: number;
  readonly rowsDeleted: number;
  readonly durationMs: number;
  readonly error: string | null;
}

/** How many recent refreshes are kept. */
export const RECENT_REFRESHES = 50;

type Pending =
  | { readonly kind: 'unit'; readonly at: Date; readonly e: UnitExecution }
  | { readonly kind: 'tick'; readonly report: TickReport; readonly durationMs: number };

/** The live state of this process, fed by the service observer. */
export class LiveState implements ServiceObserver {
  /** Whether the service runs (set by the owner). */
  running = false;
  /** Whether this process leads (a getter set by the owner once the service started). */
  isLeading: () => boolean = () => false;
  #ticks = 0;
  #lastTickAt: string | null = null;
  readonly #holds = new Map<string, TableHold>();
  readonly #recent: RecentRefresh[] = [];
  #names = new Map<string, string>();
  #pending: Pending[] = [];

  /**
   * @param metrics where events are counted
   * @param loadNames reads the current names of the stream tables by id (when an event names an
   *   id the last snapshot did not)
   */
  constructor(
    private readonly metrics: OperatorMetrics,
    private readonly loadNames: () => Promise<Map<number, string>>,
  ) {}

  /** Whether this process leads now. */
  get leading(): boolean {
    return this.isLeading();
  }

  /** Ticks seen. */
  get ticks(): number {
    return this.#ticks;
  }

  /** When the last tick ran. */
  get lastTickAt(): string | null {
    return this.#lastTickAt;
  }

  /** The current gate hold of a table (by id). */
  holdOf(id: string): TableHold | null {
    return this.#holds.get(id) ?? null;
  }

  /** Recent refreshes, newest first. */
  recentRefreshes(): RecentRefresh[] {
    return [...this.#recent].reverse();
  }

  /** Takes the names of a snapshot. */
  learnNames(names: ReadonlyMap<number, string>): void {
    this.#names = new Map([...names].map(([id, n]) => [String(id), n]));
  }

  unitExecuted(e: UnitExecution): void {
    this.#pending.push({ kind: 'unit', at: new Date(), e });
    void this.#drain();
  }

  tickCompleted(report: TickReport, durationMs: number): void {
    this.#pending.push({ kind: 'tick', report, durationMs });
    void this.#drain();
  }

  #draining: Promise<void> | null = null;

  /** Applies the waiting events in order (loading names first when one is unknown). */
  #drain(): Promise<void> {
    this.#draining ??= (async () => {
      while (this.#pending.length > 0) {
        const batch = this.#pending;
        this.#pending = [];
        if (batch.some((p) => this.#ids(p).some((id) => !this.#names.has(id)))) {
          try {
            this.learnNames(await this.loadNames());
          } catch {
            // unknown ids stay unknown: their events are dropped below rather than mislabelled
          }
        }
        for (const p of batch) {
          if (p.kind === 'unit') this.#unit(p.at, p.e);
          else this.#tick(p.report, p.durationMs);
        }
      }
    })().finally(() => {
      this.#draining = null;
    });
    return this.#draining;
  }

  /** Resolves once every event received so far is applied (tests, shutdown). */
  async settled(): Promise<void> {
    while (this.#draining !== null) await this.#draining;
  }

  #ids(p: Pending): string[] {
    return p.kind === 'unit' ? [...p.e.members] : p.report.units.flatMap((u) => u.members);
  }

  #unit(at: Date, e: UnitExecution): void {
    const o = e.outcome;
    if (o.ok) {
      for (const r of o.results) {
        const table = this.#names.get(r.id);
        if (table === undefined) continue;
        this.metrics.refreshed(table, r.action, e.durationMs, r.rowsInserted ?? 0, r.rowsDeleted ?? 0);
        this.#remember({
          at: at.toISOString(),
          table,
          action: r.action,
          outcome: 'refreshed',
          rowsInserted: r.rowsInserted ?? 0,
          rowsDeleted: r.rowsDeleted ?? 0,
          durationMs: Math.round(e.durationMs),
          error: null,
        });
      }
      return;
    }
    const failed = o.failedMember === null ? e.members : [o.failedMember];
    const error = o.error instanceof Error ? o.error.message : String(o.error);
    for (const id of failed) {
      const table = this.#names.get(id);
      if (table === undefined) continue;
      this.metrics.failed(table, o.permanent, e.durationMs);
      this.#remember({
        at: at.toISOString(),
        table,
        action: '-',
        outcome: 'failed',
        rowsInserted: 0,
        rowsDeleted: 0,
        durationMs: Math.round(e.durationMs),
        error,
      });
    }
  }

  #tick(report: TickReport, durationMs: number): void {
    this.#ticks++;
    this.#lastTickAt = report.at.toISOString();
    this.metrics.ticked(durationMs);
    const seen = new Set<string>();
    for (const unit of report.units) {
      for (const v of unit.verdicts) {
        seen.add(v.streamTable);
        const d = v.decision;
        if (d.kind === 'proceed' || v.gate === null) {
          this.#holds.delete(v.streamTable);
          continue;
        }
        const table = this.#names.get(v.streamTable);
        if (table !== undefined) this.metrics.gateHeld(table, v.gate, d.kind);
        const before = this.#holds.get(v.streamTable);
        this.#holds.set(v.streamTable, {
          gate: v.gate,
          decision: d.kind,
          reason: d.reason,
          since: before?.gate === v.gate ? before.since : report.at.toISOString(),
        });
      }
      if (unit.outcome === 'refreshed') for (const m of unit.members) this.#holds.delete(m);
      if (unit.verdicts.length === 0 && unit.gate !== null && unit.outcome !== 'refreshed') {
        // held before its gates ran (retry back-off)
        for (const m of unit.members) {
          seen.add(m);
          const table = this.#names.get(m);
          if (table !== undefined) this.metrics.gateHeld(table, unit.gate, 'skip');
          const before = this.#holds.get(m);
          this.#holds.set(m, {
            gate: unit.gate,
            decision: 'skip',
            reason: unit.reason ?? '',
            since: before?.gate === unit.gate ? before.since : report.at.toISOString(),
          });
        }
      }
    }
    for (const id of [...this.#holds.keys()]) if (!seen.has(id)) this.#holds.delete(id);
  }

  #remember(r: RecentRefresh): void {
    this.#recent.push(r);
    if (this.#recent.length > RECENT_REFRESHES) this.#recent.shift();
  }
}
