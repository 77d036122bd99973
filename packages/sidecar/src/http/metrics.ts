/**
 * The Prometheus metrics of `pgtrickle run --http` (prom-client, text format). Rules:
 * - counters and histograms count what THIS process did (refreshes it ran, ticks, gate decisions,
 *   problems it logged), so summing them over several sidecars never counts a refresh twice;
 * - gauges describe the database as the catalog shows it at scrape time (freshness, status,
 *   pending changes, the leader), re-set from each snapshot so a dropped table disappears;
 * - labels are stream table names (`schema.name`, quoted as in SQL when needed), never ids; states
 *   are label values (`status="ACTIVE"`), so new states (fuse, watermark) are new values, not new
 *   metric names.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { OperatorSnapshot } from './snapshot.js';

/** Buckets of refresh durations, seconds (1 ms … 2 min). */
export const REFRESH_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
/** Buckets of tick durations, seconds. */
export const TICK_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

const SEVERITY_VALUE: Record<string, number> = { OK: 0, WARNING: 1, CRITICAL: 2 };

/** The sidecar's metrics, in their own registry. */
export class OperatorMetrics {
  /** The registry (serve `registry.metrics()` with `registry.contentType`). */
  readonly registry = new Registry();
  readonly #refreshes: Counter<'table' | 'mode' | 'outcome'>;
  readonly #duration: Histogram<'table' | 'mode'>;
  readonly #rows: Counter<'table' | 'op'>;
  readonly #gates: Counter<'table' | 'gate' | 'decision'>;
  readonly #ticks: Counter;
  readonly #tickDuration: Histogram;
  readonly #problems: Counter<'event'>;
  readonly #leader: Gauge;
  readonly #epoch: Gauge;
  readonly #leaseAge: Gauge;
  readonly #catalogUp: Gauge;
  readonly #health: Gauge;
  readonly #status: Gauge<'table' | 'status'>;
  readonly #staleness: Gauge<'table'>;
  readonly #stale: Gauge<'table'>;
  readonly #dataAge: Gauge<'table'>;
  readonly #pending: Gauge<'table'>;
  readonly #hasPending: Gauge<'table'>;
  readonly #errors: Gauge<'table'>;
  readonly #lastRefresh: Gauge<'table'>;
  readonly #hold: Gauge<'table' | 'gate' | 'decision'>;

  constructor(options: { readonly processMetrics?: boolean } = {}) {
    const registers = [this.registry];
    if (options.processMetrics ?? true)
      collectDefaultMetrics({ register: this.registry, prefix: 'pgtrickle_' });
    this.#refreshes = new Counter({
      name: 'pgtrickle_refreshes_total',
      help: 'Refreshes run by this process, by stream table, mode (the action taken; the table mode on failure) and outcome (success, failure, permanent_failure).',
      labelNames: ['table', 'mode', 'outcome'],
      registers,
    });
    this.#duration = new Histogram({
      name: 'pgtrickle_refresh_duration_seconds',
      help: 'Wall time of the refresh transactions this process ran (a consistency group: its whole transaction, for each member).',
      labelNames: ['table', 'mode'],
      buckets: REFRESH_BUCKETS,
      registers,
    });
    this.#rows = new Counter({
      name: 'pgtrickle_rows_applied_total',
      help: 'Rows applied to stream tables by the refreshes of this process (op: inserted, deleted).',
      labelNames: ['table', 'op'],
      registers,
    });
    this.#gates = new Counter({
      name: 'pgtrickle_gate_decisions_total',
      help: 'Ticks at which a gate held a stream table (decision: skip = not this tick, block = until an action), by gate.',
      labelNames: ['table', 'gate', 'decision'],
      registers,
    });
    this.#ticks = new Counter({
      name: 'pgtrickle_ticks_total',
      help: 'Scheduler ticks run by this process.',
      registers,
    });
    this.#tickDuration = new Histogram({
      name: 'pgtrickle_tick_duration_seconds',
      help: 'Wall time of the scheduler ticks of this process.',
      buckets: TICK_BUCKETS,
      registers,
    });
    this.#problems = new Counter({
      name: 'pgtrickle_errors_total',
      help: 'Problems this process logged, by log event (unit-failed, unit-suspended, unit-failed-permanently, tick-failed, leadership-lost, …).',
      labelNames: ['event'],
      registers,
    });
    this.#leader = new Gauge({
      name: 'pgtrickle_leader',
      help: '1 when this process leads the database, else 0.',
      registers,
    });
    this.#epoch = new Gauge({
      name: 'pgtrickle_leader_epoch',
      help: 'The leadership epoch in the lease row (increments at every change of leader).',
      registers,
    });
    this.#leaseAge = new Gauge({
      name: 'pgtrickle_leader_lease_age_seconds',
      help: 'Seconds since the leader last renewed its lease.',
      registers,
    });
    this.#catalogUp = new Gauge({
      name: 'pgtrickle_catalog_up',
      help: '1 when the last read of the catalog succeeded, else 0 (then the other gauges are absent).',
      registers,
    });
    this.#health = new Gauge({
      name: 'pgtrickle_health_status',
      help: 'The worst severity of pgtrickle.health(): 0 OK, 1 WARNING, 2 CRITICAL.',
      registers,
    });
    const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[]) =>
      new Gauge<L>({ name, help, labelNames, registers });
    this.#status = gauge(
      'pgtrickle_stream_table_status',
      'The status of each stream table: 1 for its current status label (ACTIVE, INITIALIZING, SUSPENDED, ERROR).',
      ['table', 'status'],
    );
    this.#staleness = gauge(
      'pgtrickle_staleness_seconds',
      'Seconds since the stream table was last known to equal its query (last refresh, or last check finding nothing to apply).',
      ['table'],
    );
    this.#stale = gauge(
      'pgtrickle_stale',
      '1 when the stream table is behind schedule (staleness above its period plus the grace), else 0; absent for cron schedules.',
      ['table'],
    );
    this.#dataAge = gauge('pgtrickle_data_age_seconds', 'Seconds since the stream table data last changed.', [
      'table',
    ]);
    this.#pending = gauge(
      'pgtrickle_pending_changes',
      'Rows waiting in the change buffers of the stream table sources (the statistics collector estimate); 0 when none of its sources has unapplied changes.',
      ['table'],
    );
    this.#hasPending = gauge(
      'pgtrickle_has_pending_changes',
      '1 when a source of the stream table has changes it has not applied yet (exact, from its frontier), else 0.',
      ['table'],
    );
    this.#errors = gauge(
      'pgtrickle_consecutive_errors',
      'Consecutive failed refreshes of the stream table.',
      ['table'],
    );
    this.#lastRefresh = gauge(
      'pgtrickle_last_refresh_timestamp_seconds',
      'Unix time of the last successful refresh of the stream table.',
      ['table'],
    );
    this.#hold = gauge(
      'pgtrickle_gate_hold',
      'The gate holding the stream table at the last tick of this process (1), by gate and decision; absent when it proceeded.',
      ['table', 'gate', 'decision'],
    );
  }

  /** A refresh of `table` succeeded (`mode`: the action taken). */
  refreshed(table: string, mode: string, durationMs: number, inserted: number, deleted: number): void {
    this.#refreshes.inc({ table, mode, outcome: 'success' });
    this.#duration.observe({ table, mode }, durationMs / 1000);
    if (inserted > 0) this.#rows.inc({ table, op: 'inserted' }, inserted);
    if (deleted > 0) this.#rows.inc({ table, op: 'deleted' }, deleted);
  }

  /** A refresh of `table` failed (`permanent`: retrying cannot help; it is in ERROR). */
  failed(table: string, permanent: boolean, durationMs: number): void {
    const mode = this.#modes.get(table) ?? 'unknown';
    this.#refreshes.inc({ table, mode, outcome: permanent ? 'permanent_failure' : 'failure' });
    this.#duration.observe({ table, mode }, durationMs / 1000);
  }

  /** A tick ran. */
  ticked(durationMs: number): void {
    this.#ticks.inc();
    this.#tickDuration.observe(durationMs / 1000);
  }

  /** A gate held `table` at a tick. */
  gateHeld(table: string, gate: string, decision: 'skip' | 'block'): void {
    this.#gates.inc({ table, gate, decision });
  }

  /** The process logged a problem (a warn or error event). */
  problem(event: string): void {
    this.#problems.inc({ event });
  }

  readonly #modes = new Map<string, string>();

  /** Sets the gauges from a snapshot. */
  applySnapshot(s: OperatorSnapshot): void {
    this.#leader.set(s.leader.leading ? 1 : 0);
    this.#catalogUp.set(s.catalog.ok ? 1 : 0);
    for (const g of [this.#status, this.#staleness, this.#stale, this.#dataAge, this.#pending]) g.reset();
    this.#hasPending.reset();
    for (const g of [this.#errors, this.#lastRefresh, this.#hold]) g.reset();
    if (!s.catalog.ok) {
      this.#epoch.reset();
      this.#leaseAge.reset();
      this.#health.reset();
      return;
    }
    if (s.leader.epoch !== null) this.#epoch.set(s.leader.epoch);
    else this.#epoch.reset();
    if (s.leader.leaseAgeSeconds !== null) this.#leaseAge.set(s.leader.leaseAgeSeconds);
    else this.#leaseAge.reset();
    this.#health.set(Math.max(0, ...s.health.map((h) => SEVERITY_VALUE[h.severity] ?? 0)));
    for (const t of s.tables) {
      const table = t.name;
      this.#modes.set(table, t.effectiveMode);
      this.#status.set({ table, status: t.status }, 1);
      if (t.stalenessSeconds !== null) this.#staleness.set({ table }, t.stalenessSeconds);
      if (t.stale !== null) this.#stale.set({ table }, t.stale ? 1 : 0);
      if (t.dataAgeSeconds !== null) this.#dataAge.set({ table }, t.dataAgeSeconds);
      this.#pending.set({ table }, t.pending ? t.changeBufferRows : 0);
      this.#hasPending.set({ table }, t.pending ? 1 : 0);
      this.#errors.set({ table }, t.consecutiveErrors);
      if (t.lastRefreshAt !== null) this.#lastRefresh.set({ table }, Date.parse(t.lastRefreshAt) / 1000);
      if (t.hold !== null) this.#hold.set({ table, gate: t.hold.gate, decision: t.hold.decision }, 1);
    }
  }
}
