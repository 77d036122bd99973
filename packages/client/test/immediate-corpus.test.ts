/**
 * IMMEDIATE corpus: scenarios written for in-transaction maintenance, run through the oracle
 * runner in IMMEDIATE (the stream table equals its query after every committed statement).
 * They stress what a per-statement delta must get right: statements touching several sources of
 * one table (writable CTEs, UPDATE … FROM, cascaded foreign keys, a trigger writing another
 * source, MERGE, INSERT … ON CONFLICT), savepoints rolled back, multi-statement transactions,
 * and every operator family (joins, outer joins, aggregates, DISTINCT, windows, set operations,
 * EXISTS / NOT EXISTS, scalar subqueries, LATERAL, recursive CTEs, TopK).
 */
import { type OracleScenario, oracleScenarios } from './support/oracle-scenarios.js';
import { useTrickle } from './support/setup.js';

const { db, trickle } = useTrickle();

const TWO = `
  CREATE TABLE {s}.a (id int PRIMARY KEY, k int, v int);
  CREATE TABLE {s}.b (id int PRIMARY KEY, k int, w int);
  INSERT INTO {s}.a VALUES (1, 1, 10), (2, 1, 20), (3, 2, 30), (4, NULL, 40);
  INSERT INTO {s}.b VALUES (1, 1, 100), (2, 2, 200), (3, 3, 300), (4, 1, 400);
`;

/** Steps touching both sources in single statements, in transactions and savepoints. */
const TWO_STEPS = [
  // writable CTEs touching two sources in one statement
  `WITH x AS (INSERT INTO {s}.a VALUES (5, 3, 50) RETURNING 1) INSERT INTO {s}.b VALUES (5, 3, 500)`,
  `WITH x AS (UPDATE {s}.a SET k = 3 WHERE id = 1 RETURNING 1) DELETE FROM {s}.b WHERE id = 2`,
  `WITH x AS (DELETE FROM {s}.b WHERE k = 3 RETURNING k) UPDATE {s}.a SET v = v + 1 WHERE k IN (SELECT k FROM x)`,
  // UPDATE … FROM and DELETE … USING reading the other source
  `UPDATE {s}.a SET v = a.v + b.w FROM {s}.b WHERE a.k = b.k AND b.id = 4`,
  `DELETE FROM {s}.b USING {s}.a WHERE a.k = b.k AND a.v > 400`,
  // a transaction of several statements, one savepoint rolled back
  `BEGIN; INSERT INTO {s}.a VALUES (6, 2, 60); SAVEPOINT p; INSERT INTO {s}.b VALUES (6, 2, 600);
   UPDATE {s}.a SET k = 2; ROLLBACK TO SAVEPOINT p; INSERT INTO {s}.b VALUES (7, 2, 700); COMMIT`,
  `BEGIN; DELETE FROM {s}.a WHERE id = 6; INSERT INTO {s}.a VALUES (6, 1, 61); UPDATE {s}.b SET k = NULL WHERE id = 7; ROLLBACK`,
  // the same key deleted and re-inserted, keys swapped in one statement
  `BEGIN; DELETE FROM {s}.a WHERE id = 2; INSERT INTO {s}.a VALUES (2, 2, 22); COMMIT`,
  `UPDATE {s}.a SET id = id + 100 WHERE id IN (2, 3)`,
  // MERGE and upserts
  `MERGE INTO {s}.b AS t USING {s}.a AS s ON t.id = s.id
     WHEN MATCHED AND s.v > 45 THEN DELETE WHEN MATCHED THEN UPDATE SET w = t.w + 1
     WHEN NOT MATCHED THEN INSERT VALUES (s.id, s.k, s.v)`,
  `INSERT INTO {s}.a VALUES (1, 9, 9), (8, 1, 80) ON CONFLICT (id) DO UPDATE SET v = excluded.v`,
  // empty statements
  `UPDATE {s}.a SET v = v WHERE false; DELETE FROM {s}.b WHERE id < 0`,
  `TRUNCATE {s}.b; INSERT INTO {s}.b VALUES (1, 1, 1), (2, 9, 2)`,
  `TRUNCATE {s}.a, {s}.b`,
  `INSERT INTO {s}.a VALUES (1, 1, 1); INSERT INTO {s}.b VALUES (1, 1, 1)`,
];

const two = (name: string, query: string): OracleScenario => ({ name, setup: TWO, query, steps: TWO_STEPS });

const SCENARIOS: OracleScenario[] = [
  two('scan of one source (no lock)', 'SELECT id, v * 2 AS v2 FROM {s}.a WHERE v > 15'),
  two('inner join', 'SELECT a.id, b.id AS bid, a.v + b.w AS s FROM {s}.a AS a JOIN {s}.b AS b ON a.k = b.k'),
  two('left join', 'SELECT a.id, b.w FROM {s}.a AS a LEFT JOIN {s}.b AS b ON a.k = b.k'),
  two('full join', 'SELECT a.id, b.id AS bid FROM {s}.a AS a FULL JOIN {s}.b AS b ON a.k = b.k'),
  two(
    'join + aggregate',
    'SELECT a.k, count(*) AS n, sum(b.w) AS total, max(a.v) AS top FROM {s}.a AS a JOIN {s}.b AS b ON a.k = b.k GROUP BY a.k',
  ),
  two('aggregate without GROUP BY', 'SELECT count(*) AS n, sum(v) AS s, avg(v) AS m FROM {s}.a'),
  two('DISTINCT', 'SELECT DISTINCT k FROM {s}.a'),
  two('self-join', 'SELECT x.id, y.id AS yid FROM {s}.a AS x JOIN {s}.a AS y ON x.k = y.k AND x.id < y.id'),
  two('EXISTS', 'SELECT a.id FROM {s}.a AS a WHERE EXISTS (SELECT 1 FROM {s}.b AS b WHERE b.k = a.k)'),
  two(
    'NOT EXISTS',
    'SELECT a.id FROM {s}.a AS a WHERE NOT EXISTS (SELECT 1 FROM {s}.b AS b WHERE b.k = a.k)',
  ),
  two(
    'scalar subquery',
    'SELECT a.id, (SELECT max(b.w) FROM {s}.b AS b WHERE b.k = a.k) AS m FROM {s}.a AS a',
  ),
  two('UNION', 'SELECT k FROM {s}.a UNION SELECT k FROM {s}.b'),
  two('EXCEPT ALL', 'SELECT k FROM {s}.a EXCEPT ALL SELECT k FROM {s}.b'),
  two('INTERSECT', 'SELECT k FROM {s}.a INTERSECT SELECT k FROM {s}.b'),
  two('UNION ALL', 'SELECT id, k FROM {s}.a UNION ALL SELECT id, k FROM {s}.b'),
  two(
    'window function',
    'SELECT id, k, rank() OVER (PARTITION BY k ORDER BY v) AS r, sum(v) OVER (PARTITION BY k) AS t FROM {s}.a',
  ),
  two(
    'window over a join',
    'SELECT a.id, row_number() OVER (PARTITION BY a.k ORDER BY b.w, b.id, a.id) AS r FROM {s}.a AS a JOIN {s}.b AS b ON a.k = b.k',
  ),
  two(
    'LATERAL',
    'SELECT a.id, x.w FROM {s}.a AS a CROSS JOIN LATERAL (SELECT b.w FROM {s}.b AS b WHERE b.k = a.k ORDER BY b.w DESC LIMIT 1) AS x',
  ),
  two('TopK', 'SELECT id, v FROM {s}.a ORDER BY v DESC, id LIMIT 3'),
  two('HAVING', 'SELECT k, sum(v) AS s FROM {s}.a GROUP BY k HAVING count(*) > 1'),
  {
    name: 'recursive CTE (reachability over edges)',
    setup: `CREATE TABLE {s}.e (src int, dst int, PRIMARY KEY (src, dst));
      INSERT INTO {s}.e VALUES (1, 2), (2, 3), (3, 4), (10, 11)`,
    query: `WITH RECURSIVE r(n) AS (SELECT 1 UNION SELECT e.dst FROM {s}.e AS e JOIN r ON e.src = r.n) SELECT n FROM r`,
    steps: [
      `INSERT INTO {s}.e VALUES (4, 5), (5, 1)`,
      `DELETE FROM {s}.e WHERE src = 2`,
      `BEGIN; INSERT INTO {s}.e VALUES (1, 10); SAVEPOINT s; DELETE FROM {s}.e; ROLLBACK TO s; COMMIT`,
      `UPDATE {s}.e SET dst = 3 WHERE src = 1 AND dst = 10`,
      `TRUNCATE {s}.e`,
      `INSERT INTO {s}.e VALUES (1, 1), (1, 7)`,
    ],
  },
  {
    name: 'a foreign key cascading into another source in the same statement',
    setup: `CREATE TABLE {s}.p (id int PRIMARY KEY, name text);
      CREATE TABLE {s}.c (id int PRIMARY KEY, pid int REFERENCES {s}.p (id) ON DELETE CASCADE ON UPDATE CASCADE, q int);
      INSERT INTO {s}.p VALUES (1, 'one'), (2, 'two'), (3, 'three');
      INSERT INTO {s}.c VALUES (1, 1, 5), (2, 1, 6), (3, 2, 7)`,
    query:
      'SELECT p.name, count(c.id) AS n, sum(c.q) AS q FROM {s}.p AS p LEFT JOIN {s}.c AS c ON c.pid = p.id GROUP BY p.name',
    steps: [
      `DELETE FROM {s}.p WHERE id = 1`,
      `UPDATE {s}.p SET id = 20 WHERE id = 2`,
      `INSERT INTO {s}.c VALUES (4, 3, 1); UPDATE {s}.p SET name = 'THREE' WHERE id = 3`,
      `DELETE FROM {s}.p`,
    ],
  },
  {
    name: 'a user trigger on one source writing the other',
    setup: `CREATE TABLE {s}.t (id int PRIMARY KEY, v int);
      CREATE TABLE {s}.log (id serial PRIMARY KEY, tid int, v int);
      CREATE FUNCTION {s}.audit() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN INSERT INTO {s}.log (tid, v) VALUES (NEW.id, NEW.v); RETURN NEW; END $$;
      CREATE TRIGGER audit AFTER INSERT OR UPDATE ON {s}.t FOR EACH ROW EXECUTE FUNCTION {s}.audit();
      INSERT INTO {s}.t VALUES (1, 1)`,
    query:
      'SELECT t.id, count(l.id) AS writes, max(l.v) AS last FROM {s}.t AS t LEFT JOIN {s}.log AS l ON l.tid = t.id GROUP BY t.id',
    steps: [
      `INSERT INTO {s}.t VALUES (2, 2), (3, 3)`,
      `UPDATE {s}.t SET v = v * 10`,
      `DELETE FROM {s}.log WHERE v < 10`,
      `BEGIN; UPDATE {s}.t SET v = 0 WHERE id = 1; SAVEPOINT a; UPDATE {s}.t SET v = 5; ROLLBACK TO a; COMMIT`,
    ],
  },
  {
    name: 'keyless sources with duplicates joined',
    setup: `CREATE TABLE {s}.x (k int, v text); CREATE TABLE {s}.y (k int, w text);
      INSERT INTO {s}.x VALUES (1, 'a'), (1, 'a'), (2, 'b'), (NULL, 'n');
      INSERT INTO {s}.y VALUES (1, 'p'), (1, 'p'), (2, 'q')`,
    query: 'SELECT x.v, y.w FROM {s}.x AS x JOIN {s}.y AS y ON x.k = y.k',
    steps: [
      `DELETE FROM {s}.x WHERE ctid = (SELECT min(ctid) FROM {s}.x WHERE k = 1)`,
      `WITH d AS (DELETE FROM {s}.y WHERE k = 2 RETURNING *) INSERT INTO {s}.x SELECT k, w FROM d`,
      `UPDATE {s}.y SET k = 2 WHERE w = 'p'`,
      `INSERT INTO {s}.y SELECT k, v FROM {s}.x`,
    ],
  },
];

oracleScenarios('im', SCENARIOS, db, trickle, { modes: ['IMMEDIATE'] });
