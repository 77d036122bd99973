/**
 * The oracle suite, session settings part: user expressions are evaluated under the user's own
 * settings. This file's database has `TimeZone = 'Asia/Tokyo'` (ALTER DATABASE), so the client's
 * sessions and the oracle's query run in Tokyo time: `date_trunc('day', at)` and `at::date` over
 * timestamptz must give Tokyo days in the stream table too, from the first population on. Each
 * scenario runs in FULL, DIFFERENTIAL and AUTO.
 */
import { useTestDatabase } from '@pgtrickle/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connect, type Trickle } from '../src/index.js';
import { type OracleScenario, oracleScenarios } from './support/oracle-scenarios.js';

const db = useTestDatabase({
  setupSql: `DO $$ BEGIN
    EXECUTE pg_catalog.format('ALTER DATABASE %I SET "TimeZone" = %L', pg_catalog.current_database(), 'Asia/Tokyo');
    EXECUTE pg_catalog.format('ALTER DATABASE %I SET "DateStyle" = %L', pg_catalog.current_database(), 'SQL, DMY');
  END $$`,
});
let client: Trickle | undefined;
beforeAll(async () => {
  client = await connect({ connectionString: db.url });
  await client.install();
});
afterAll(async () => {
  await client?.close();
});
const trickle = (): Trickle => {
  if (client === undefined) throw new Error('used before beforeAll');
  return client;
};

// 20:00 UTC is 05:00 the next day in Tokyo: every row below is on another day in UTC.
const EVENTS = `CREATE TABLE {s}.ev (id int PRIMARY KEY, at timestamptz, v int);
  INSERT INTO {s}.ev VALUES (1, '2026-01-01 20:00:00+00', 1), (2, '2026-01-01 16:30:00+00', 2),
    (3, '2026-01-02 03:00:00+00', 3), (4, NULL, 4), (5, '2026-01-02 14:59:59+00', 5)`;
const EVENTS_STEPS = [
  `INSERT INTO {s}.ev VALUES (6, '2026-01-02 15:00:00+00', 6), (7, '2026-01-03 23:00:00+00', 7)`,
  `UPDATE {s}.ev SET at = at + interval '9 hours' WHERE id IN (1, 3)`,
  `DELETE FROM {s}.ev WHERE id = 2`,
  `UPDATE {s}.ev SET v = v * 10 WHERE at::date = '2026-01-03'::date`,
];

const SCENARIOS: OracleScenario[] = [
  {
    name: "TimeZone: date_trunc('day', at) and at::date per row",
    setup: EVENTS,
    query: `SELECT id, date_trunc('day', at) AS d, at::date AS day, to_char(at, 'YYYY-MM-DD HH24') AS hour FROM {s}.ev`,
    steps: EVENTS_STEPS,
  },
  {
    name: 'TimeZone: GROUP BY at::date',
    setup: EVENTS,
    query: 'SELECT at::date AS day, count(*) AS n, sum(v) AS total FROM {s}.ev GROUP BY at::date',
    steps: EVENTS_STEPS,
  },
  {
    name: "TimeZone: DISTINCT date_trunc('day', at)",
    setup: EVENTS,
    query: `SELECT DISTINCT date_trunc('day', at) AS d FROM {s}.ev`,
    steps: EVENTS_STEPS,
  },
];

it("runs in the database's TimeZone (Asia/Tokyo)", async () => {
  const res = await db.query<{ tz: string }>(`SELECT current_setting('TimeZone') AS tz`);
  expect(res.rows[0]?.tz).toBe('Asia/Tokyo');
});

oracleScenarios('tz', SCENARIOS, db, trickle);
oracleScenarios('tzi', SCENARIOS, db, trickle, { modes: ['IMMEDIATE'] });
