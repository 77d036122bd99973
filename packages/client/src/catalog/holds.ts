/**
 * Skips are data: what the scheduler's gates decided for each stream table at a tick, recorded in
 * the catalog. Rules:
 * - a table is HELD when its unit was skipped or blocked by a gate other than the ones that only
 *   mean "nothing to do now" (`schedule`: not due; `upstream-changes`: nothing pending), or when it
 *   is backing off after a failure (`retry-backoff`); a group member is held by whatever held its
 *   group (the reason names the member that decided);
 * - the current hold (gate, reason, since) is on the table's row (`pgt_status.hold_gate` …): set
 *   when a hold starts, its reason updated in place, cleared when the table refreshes or is no
 *   longer held;
 * - a hold that starts, or whose gate changes, writes one history row (action SKIP, status
 *   SKIPPED, initiated by SCHEDULER, the gate and the reason) — not one per tick; a backoff writes
 *   none (the failure it follows is in the history already);
 * - the last decision (unit, outcome, deciding gate, its decision and reason, tick and time) is on
 *   the row too (`last_gates`), rewritten only when the decision changes (for a "nothing to do
 *   now" skip: when its gate changes), so an idle table costs no write per tick;
 * - all of a tick's changes are one statement; nothing is written when nothing changed.
 */
import type { TickReport, UnitReport } from '@pgtrickle/scheduler';
import { cat, type Queryable } from './schema.js';

/** Gates whose skip means "nothing to do now" (not a hold). */
export const NOT_NOW_GATES: ReadonlySet<string> = new Set(['schedule', 'upstream-changes']);

/** The pseudo-gate of a table backing off after a failed refresh. */
export const BACKOFF_GATE = 'retry-backoff';

/** What holds a table back. */
export interface Hold {
  readonly gate: string;
  readonly reason: string;
}

/** The last decision of the scheduler about one table, as `last_gates` stores it. */
export interface LastDecision {
  readonly tick: number;
  readonly at: string;
  readonly unit: string;
  readonly outcome: UnitReport['outcome'];
  /** The gate that decided (null: every gate proceeded, or the unit was not evaluated). */
  readonly gate: string | null;
  readonly decision: 'proceed' | 'skip' | 'block' | null;
  readonly reason: string | null;
  /** The pipeline's gates in order: those before `gate` proceeded, those after it were not evaluated. */
  readonly gates: readonly string[];
}

/** One gate's line of a last decision: what it decided, or that it was not evaluated. */
export interface GateLine {
  readonly gate: string;
  readonly decision: 'proceed' | 'skip' | 'block' | 'not evaluated';
  readonly reason: string | null;
}

/**
 * Every gate's decision at the tick of `d`: the pipeline stops at the first gate that does not
 * proceed, so the gates before it proceeded and the ones after it were not evaluated. A unit held
 * before its gates ran (a back-off) evaluated none.
 */
export function gateLines(d: LastDecision): GateLine[] {
  const decision = d.decision;
  if (decision === null) return d.gates.map((gate) => ({ gate, decision: 'not evaluated', reason: null }));
  // Its own gates all proceeded (it may still have been held by its group: see `outcome`).
  const at = decision === 'proceed' || d.gate === null ? d.gates.length : d.gates.indexOf(d.gate);
  return d.gates.map((gate, i) =>
    i < at
      ? { gate, decision: 'proceed', reason: null }
      : i === at && decision !== 'proceed'
        ? { gate, decision, reason: d.reason }
        : { gate, decision: 'not evaluated', reason: null },
  );
}

/** One table's decision at a tick. */
export interface TableDecision {
  readonly pgtId: number;
  readonly hold: Hold | null;
  readonly last: LastDecision;
}

/** Each evaluated table's decision in `report` (IMMEDIATE and excluded tables are not in it). */
export function tickDecisions(report: TickReport): TableDecision[] {
  const out: TableDecision[] = [];
  for (const unit of report.units) {
    const unitHeld =
      (unit.outcome === 'skipped' || unit.outcome === 'blocked') &&
      unit.gate !== null &&
      !NOT_NOW_GATES.has(unit.gate);
    const hold = unitHeld ? { gate: unit.gate as string, reason: unit.reason ?? '' } : null;
    for (const member of unit.members) {
      const pgtId = Number(member);
      if (!Number.isSafeInteger(pgtId)) continue;
      const v = unit.verdicts.find((x) => x.streamTable === member);
      const own = v === undefined || v.decision.kind === 'proceed' ? null : v;
      out.push({
        pgtId,
        hold,
        last: {
          tick: report.tick,
          at: report.at.toISOString(),
          unit: unit.unit,
          outcome: unit.outcome,
          gate: own?.gate ?? (unit.outcome === 'refreshed' ? null : unit.gate),
          decision: v?.decision.kind ?? null,
          reason:
            own !== null && own.decision.kind !== 'proceed'
              ? own.decision.reason
              : unit.outcome === 'refreshed'
                ? null
                : unit.reason,
          gates: report.gates,
        },
      });
    }
  }
  return out;
}

/** Whether two last decisions differ enough to rewrite (a "not now" skip: only its gate counts). */
function decisionChanged(a: LastDecision | undefined, b: LastDecision): boolean {
  if (a === undefined) return true;
  if (a.unit !== b.unit || a.outcome !== b.outcome || a.gate !== b.gate || a.decision !== b.decision)
    return true;
  if (b.gate !== null && NOT_NOW_GATES.has(b.gate)) return false;
  return a.reason !== b.reason;
}

/** The catalog's record of holds and last decisions, written after each tick by the leader. */
export class HoldRecorder {
  #holds: Map<number, Hold | null> | null = null;
  readonly #last = new Map<number, LastDecision>();

  constructor(private readonly q: Queryable) {}

  /** Records `report`'s decisions; returns how many tables' rows changed. */
  async record(report: TickReport): Promise<number> {
    const holds = this.#holds ?? (await this.load());
    const ids: number[] = [];
    const gates: (string | null)[] = [];
    const reasons: (string | null)[] = [];
    const skipRows: boolean[] = [];
    const lasts: (string | null)[] = [];
    const next = new Map<number, { hold: Hold | null; last: LastDecision | null }>();
    for (const d of tickDecisions(report)) {
      const before = holds.get(d.pgtId) ?? null;
      const holdChanged = before?.gate !== d.hold?.gate || before?.reason !== d.hold?.reason;
      const lastChanged = decisionChanged(this.#last.get(d.pgtId), d.last);
      if (!holdChanged && !lastChanged) continue;
      ids.push(d.pgtId);
      gates.push(d.hold?.gate ?? null);
      reasons.push(d.hold?.reason ?? null);
      skipRows.push(d.hold !== null && d.hold.gate !== BACKOFF_GATE && before?.gate !== d.hold.gate);
      lasts.push(lastChanged ? JSON.stringify(d.last) : null);
      next.set(d.pgtId, { hold: d.hold, last: lastChanged ? d.last : null });
    }
    if (ids.length === 0) return 0;
    try {
      await this.q.query(
        `WITH h AS (
           SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::boolean[], $5::jsonb[])
             AS h(pgt_id, gate, reason, skip_row, last)),
         upd AS (
           UPDATE ${cat('pgt_stream_tables')} AS s
              SET hold_gate = h.gate, hold_reason = h.reason,
                  held_since = CASE WHEN h.gate IS NULL THEN NULL
                                    WHEN s.hold_gate IS DISTINCT FROM h.gate THEN $6::timestamptz
                                    ELSE s.held_since END,
                  last_gates = COALESCE(h.last, s.last_gates)
             FROM h WHERE s.pgt_id = h.pgt_id
           RETURNING s.pgt_id)
         INSERT INTO ${cat('pgt_refresh_history')}
           (pgt_id, action, status, initiated_by, started_at, finished_at, reason, gate)
         SELECT h.pgt_id, 'SKIP', 'SKIPPED', 'SCHEDULER', $6::timestamptz, $6::timestamptz, h.reason, h.gate
           FROM h JOIN upd USING (pgt_id) WHERE h.skip_row`,
        [ids, gates, reasons, skipRows, lasts, report.at],
      );
    } catch (error) {
      this.#holds = null; // re-read what is stored next time
      this.#last.clear();
      throw error;
    }
    for (const [id, n] of next) {
      holds.set(id, n.hold);
      if (n.last !== null) this.#last.set(id, n.last);
    }
    return ids.length;
  }

  private async load(): Promise<Map<number, Hold | null>> {
    const res = await this.q.query(
      `SELECT pgt_id, hold_gate, hold_reason, last_gates FROM ${cat('pgt_stream_tables')}`,
    );
    const holds = new Map<number, Hold | null>();
    for (const r of res.rows) {
      const id = Number(r.pgt_id);
      holds.set(
        id,
        r.hold_gate === null ? null : { gate: String(r.hold_gate), reason: String(r.hold_reason ?? '') },
      );
      if (r.last_gates !== null && typeof r.last_gates === 'object')
        this.#last.set(id, r.last_gates as LastDecision);
    }
    this.#holds = holds;
    return holds;
  }
}

/** The scheduler's last decision about stream table `pgtId` (null: none recorded). */
export async function lastDecisionOf(q: Queryable, pgtId: number): Promise<LastDecision | null> {
  const res = await q.query(`SELECT last_gates FROM ${cat('pgt_stream_tables')} WHERE pgt_id = $1`, [pgtId]);
  const v = res.rows[0]?.last_gates;
  return v === null || v === undefined || typeof v !== 'object' ? null : (v as LastDecision);
}
