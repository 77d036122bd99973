/**
 * The state of change capture, for doctor and monitoring: whether the DDL event trigger that keeps
 * typed capture in step with source DDL exists and is enabled, the format of each captured table,
 * and every captured table whose tree has a capture trigger disabled or missing (writes to it are
 * not being captured; the next refresh of its readers repairs it and recomputes).
 */
import { CHANGES_SCHEMA, quoteQualified, SOURCE_DDL_EVENT_TRIGGER } from '@pgtrickle/dvm';
import type { Queryable } from './schema.js';

/** A captured table whose capture is incomplete. */
export interface CaptureGap {
  /** The table, schema-qualified. */
  readonly table: string;
  /** Capture triggers of its tree enabled in their mode (see `CAPTURE_TRIGGER_MODES`). */
  readonly enabled: number;
  /** Capture triggers its tree should have (one per event and relation). */
  readonly expected: number;
}

/** What {@link captureHealth} reports. */
export interface CaptureHealth {
  /** `enabled`, `disabled`, or `missing` (capture then uses the text format). */
  readonly eventTrigger: 'enabled' | 'disabled' | 'missing';
  /** Captured tables by format. */
  readonly formats: { readonly typed: number; readonly text: number };
  /** Captured tables with a capture trigger disabled or missing. */
  readonly gaps: readonly CaptureGap[];
}

/** Reads the state of change capture (empty when capture was never installed). */
export async function captureHealth(q: Queryable): Promise<CaptureHealth> {
  const et = await q.query('SELECT evtenabled FROM pg_catalog.pg_event_trigger WHERE evtname = $1', [
    SOURCE_DDL_EVENT_TRIGGER,
  ]);
  const eventTrigger =
    et.rows.length === 0 ? 'missing' : et.rows[0]?.evtenabled === 'D' ? 'disabled' : 'enabled';
  const state = quoteQualified(CHANGES_SCHEMA, 'capture_state');
  const exists = await q.query('SELECT pg_catalog.to_regclass($1) IS NOT NULL AS e', [state]);
  if (exists.rows[0]?.e !== true) return { eventTrigger, formats: { typed: 0, text: 0 }, gaps: [] };
  const res = await q.query(
    `SELECT s.format, s.source_oid::regclass::text AS tbl, n.enabled, n.expected
       FROM ${state} AS s JOIN pg_catalog.pg_class AS c ON c.oid = s.source_oid
       CROSS JOIN LATERAL ${quoteQualified(CHANGES_SCHEMA, 'capture_trigger_count')}(s.relations) AS n
      ORDER BY 2`,
  );
  const formats = { typed: 0, text: 0 };
  const gaps: CaptureGap[] = [];
  for (const r of res.rows) {
    if (r.format === 'typed') formats.typed++;
    else formats.text++;
    if (Number(r.enabled) !== Number(r.expected)) {
      gaps.push({ table: String(r.tbl), enabled: Number(r.enabled), expected: Number(r.expected) });
    }
  }
  return { eventTrigger, formats, gaps };
}
