/**
 * Skips are data (catalog/holds.ts): a gate's hold is on the table's row while it lasts, one SKIP
 * history row marks its start (and each change of gate), "nothing to do now" skips are not holds,
 * and an idle table costs no write per tick.
 */
import type { PipelineVerdict } from '@pgtrickle/gates';
import type { TickReport, UnitReport } from '@pgtrickle/scheduler';
import { useTestDatabase } from '@pgtrickle/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gateLines, HoldRecorder, type LastDecision, tickDecisions } from '../src/catalog/holds.js';
import { connect, type Trickle } from '../src/index.js';

const db = useTestDatabase();
let trickle: Trickle;
let a: string;
let b: string;

function verdict(
  id: string,
  gate: string | null,
  kind: 'proceed' | 'skip' | 'block',
  reason = '',
): PipelineVerdict {
  return {
    streamTable: id,
    gate,
    decision: kind === 'proceed' ? { kind } : { kind, reason },
  };
}

function unit(
  members: string[],
  outcome: UnitReport['outcome'],
  gate: string | null,
  reason: string | null,
  verdicts: PipelineVerdict[],
): UnitReport {
  return {
    unit: members.join('+'),
    kind: members.length > 1 ? 'group' : 'single',
    members,
    outcome,
    gate,
    reason,
    verdicts,
  };
}

let tickNo = 0;
function tick(...units: UnitReport[]): TickReport {
  tickNo++;
  return {
    tick: tickNo,
    at: new Date(Date.UTC(2026, 0, 1, 0, 0, tickNo)),
    units,
    excluded: [],
    gates: ['status', 'schedule', 'fuse', 'watermark'],
    nextDueAt: null,
  };
}

async function row(id: string) {
  const r = await db.query(
    'SELECT hold_gate, hold_reason, held_since, last_gates FROM pgtrickle.pgt_stream_tables WHERE pgt_id = $1',
    [id],
  );
  return r.rows[0] as {
    hold_gate: string | null;
    hold_reason: string | null;
    held_since: Date | null;
    last_gates: Record<string, unknown> | null;
  };
}

async function skipRows(id: string) {
  const r = await db.query(
    `SELECT action, status, initiated_by, gate, reason FROM pgtrickle.pgt_refresh_history
      WHERE pgt_id = $1 AND action = 'SKIP' ORDER BY refresh_id`,
    [id],
  );
  return r.rows;
}

beforeAll(async () => {
  trickle = await connect({ connectionString: db.url });
  await trickle.install();
  await db.query('CREATE TABLE src (id int PRIMARY KEY, v int)');
  await trickle.createStreamTable({ name: 'ha', query: 'SELECT id, v FROM src', schedule: '1s' });
  await trickle.createStreamTable({ name: 'hb', query: 'SELECT sum(v) AS s FROM src', schedule: '1s' });
  const ids = await db.query(
    `SELECT pgt_id::text AS id, table_name FROM pgtrickle.pgt_stream_tables ORDER BY table_name`,
  );
  a = ids.rows.find((r) => r.table_name === 'ha')?.id;
  b = ids.rows.find((r) => r.table_name === 'hb')?.id;
});

afterAll(async () => {
  await trickle?.close();
});

describe('tickDecisions', () => {
  it('holds only for gates other than schedule and upstream-changes; a group member is held by its group', () => {
    const d = tickDecisions(
      tick(
        unit(['1'], 'skipped', 'schedule', '1: not due', [verdict('1', 'schedule', 'skip', 'not due')]),
        unit(['2'], 'blocked', 'fuse', '2: fuse blown', [verdict('2', 'fuse', 'block', 'fuse blown')]),
        unit(['3', '4'], 'skipped', 'watermark', '4: misaligned', [
          verdict('3', null, 'proceed'),
          verdict('4', 'watermark', 'skip', 'misaligned'),
        ]),
        unit(['5'], 'refreshed', null, null, [verdict('5', null, 'proceed')]),
      ),
    );
    expect(d.map((x) => [x.pgtId, x.hold?.gate ?? null])).toEqual([
      [1, null],
      [2, 'fuse'],
      [3, 'watermark'],
      [4, 'watermark'],
      [5, null],
    ]);
    expect(d[2]?.last).toMatchObject({
      outcome: 'skipped',
      gate: 'watermark',
      decision: 'proceed',
      reason: '4: misaligned',
    });
    expect(d[3]?.last).toMatchObject({ gate: 'watermark', decision: 'skip', reason: 'misaligned' });
    // Every gate's line: the ones before the decider proceeded, the ones after it were not evaluated.
    expect(gateLines(d[3]?.last as LastDecision).map((l) => `${l.gate}:${l.decision}`)).toEqual([
      'status:proceed',
      'schedule:proceed',
      'fuse:proceed',
      'watermark:skip',
    ]);
    expect(gateLines(d[1]?.last as LastDecision).map((l) => l.decision)).toEqual([
      'proceed',
      'proceed',
      'block',
      'not evaluated',
    ]);
    // A member whose own gates proceeded but whose group was held: all proceeded.
    expect(gateLines(d[2]?.last as LastDecision).every((l) => l.decision === 'proceed')).toBe(true);
  });
});

describe('HoldRecorder', () => {
  it('writes one SKIP row when a hold starts, none while it lasts, one when its gate changes, and clears it after a refresh', async () => {
    const rec = new HoldRecorder(trickle.db);
    const blocked = (reason: string) =>
      unit([a], 'blocked', 'fuse', `${a}: ${reason}`, [verdict(a, 'fuse', 'block', reason)]);
    expect(await rec.record(tick(blocked('fuse blown')))).toBe(1);
    const first = await row(a);
    expect(first).toMatchObject({ hold_gate: 'fuse', hold_reason: `${a}: fuse blown` });
    expect(first.held_since).not.toBeNull();
    expect(first.last_gates).toMatchObject({ gate: 'fuse', decision: 'block', outcome: 'blocked' });
    // The same hold again: nothing written at all.
    expect(await rec.record(tick(blocked('fuse blown')))).toBe(0);
    expect(await skipRows(a)).toEqual([
      {
        action: 'SKIP',
        status: 'SKIPPED',
        initiated_by: 'SCHEDULER',
        gate: 'fuse',
        reason: `${a}: fuse blown`,
      },
    ]);
    // The reason changes: updated in place, no new row, held_since kept.
    await rec.record(tick(blocked('fuse blown, 3 tables waiting')));
    expect((await row(a)).held_since?.getTime()).toBe(first.held_since?.getTime());
    expect(await skipRows(a)).toHaveLength(1);
    // Another gate: a second row.
    await rec.record(
      tick(unit([a], 'skipped', 'watermark', `${a}: lag`, [verdict(a, 'watermark', 'skip', 'lag')])),
    );
    expect((await skipRows(a)).map((r) => r.gate)).toEqual(['fuse', 'watermark']);
    // Refreshed: hold cleared.
    await rec.record(tick(unit([a], 'refreshed', null, null, [verdict(a, null, 'proceed')])));
    expect(await row(a)).toMatchObject({ hold_gate: null, hold_reason: null, held_since: null });
    expect((await row(a)).last_gates).toMatchObject({
      outcome: 'refreshed',
      gate: null,
      decision: 'proceed',
    });
  });

  it('an idle table (not due, nothing pending) writes nothing after its first decision', async () => {
    const rec = new HoldRecorder(trickle.db);
    const idle = (why: string) =>
      unit([b], 'skipped', 'schedule', `${b}: not due: ${why}`, [
        verdict(b, 'schedule', 'skip', `not due: ${why}`),
      ]);
    expect(await rec.record(tick(idle('next at 1')))).toBe(1);
    expect(await rec.record(tick(idle('next at 2')))).toBe(0);
    expect(await rec.record(tick(idle('next at 3')))).toBe(0);
    expect((await row(b)).hold_gate).toBeNull();
    expect(await skipRows(b)).toEqual([]);
  });

  it('a backoff is a hold without a SKIP row; a new recorder picks up what is stored', async () => {
    const rec = new HoldRecorder(trickle.db);
    await rec.record(tick(unit([b], 'skipped', 'retry-backoff', `"${b}" failed recently`, [])));
    expect((await row(b)).hold_gate).toBe('retry-backoff');
    expect(await skipRows(b)).toEqual([]);
    const again = new HoldRecorder(trickle.db);
    expect(
      await again.record(tick(unit([b], 'skipped', 'retry-backoff', `"${b}" failed recently`, []))),
    ).toBe(0);
  });

  it('pgt_status and pgt_refresh_log show holds and SKIP rows', async () => {
    const rec = new HoldRecorder(trickle.db);
    await rec.record(
      tick(unit([a], 'blocked', 'fuse', `${a}: blown`, [verdict(a, 'fuse', 'block', 'blown')])),
    );
    const s = await db.query(
      `SELECT hold_gate, hold_reason FROM pgtrickle.pgt_status WHERE table_name = 'ha'`,
    );
    expect(s.rows[0]).toEqual({ hold_gate: 'fuse', hold_reason: `${a}: blown` });
    const log = await db.query(
      `SELECT gate FROM pgtrickle.pgt_refresh_log WHERE name = 'public.ha' AND action = 'SKIP'`,
    );
    expect(log.rows.length).toBeGreaterThan(0);
  });
});

describe('through a running service', () => {
  it('a suspension sends auto_suspended, holds the table (status gate, one SKIP row); resume sends resumed and the hold clears', async () => {
    const { TrickleService, ALERT_CHANNEL, parseAlert } = await import('../src/index.js');
    await db.query(`CREATE TABLE flag (d int); INSERT INTO flag VALUES (1);
                    CREATE TABLE nums (id int PRIMARY KEY, v int); INSERT INTO nums VALUES (1, 10)`);
    await trickle.createStreamTable({
      name: 'ratio',
      query: 'SELECT id, v / (SELECT d FROM flag) AS r FROM nums',
      refreshMode: 'FULL',
      schedule: '1s',
    });
    const id = String(
      (await db.query(`SELECT pgt_id FROM pgtrickle.pgt_stream_tables WHERE table_name = 'ratio'`)).rows[0]
        ?.pgt_id,
    );
    const listener = await db.client();
    const alerts: string[] = [];
    listener.on('notification', (n) => {
      const a = parseAlert(n.payload);
      if (a !== null && a.stream_table === 'public.ratio') alerts.push(a.event);
    });
    await listener.query(`LISTEN ${ALERT_CHANNEL}`);
    const service = await TrickleService.start({
      connectionString: db.url,
      pollIntervalMs: 50,
      retry: { baseMs: 10, maxMs: 20, jitter: 0, suspendAfter: 2 },
    });
    try {
      await db.query('UPDATE flag SET d = 0');
      await waitUntil(async () => (await row(id)).hold_gate === 'status', 'the suspended table to be held');
      expect((await row(id)).hold_reason).toMatch(/SUSPENDED/);
      expect((await skipRows(id)).map((r) => r.gate)).toEqual(['status']);
      await waitUntil(async () => alerts.includes('auto_suspended'), 'the auto_suspended alert');
      const explained = await trickle.explain('ratio');
      expect(explained.scheduler.hold?.gate).toBe('status');
      const lines = gateLines(explained.scheduler.lastDecision as LastDecision);
      expect(lines.find((l) => l.gate === 'status')).toMatchObject({ decision: 'skip' });
      expect(lines.at(-1)?.decision).toBe('not evaluated');
      await db.query('UPDATE flag SET d = 1');
      await db.query(`SELECT pgtrickle.resume_stream_table('ratio')`);
      await waitUntil(async () => (await row(id)).hold_gate === null, 'the hold to clear');
      await waitUntil(async () => alerts.includes('resumed'), 'the resumed alert');
      expect(alerts.filter((e) => e === 'auto_suspended')).toHaveLength(1);
    } finally {
      await service.stop();
      await listener.end();
    }
  });
});

async function waitUntil(probe: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (await probe()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}
