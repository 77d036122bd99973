/**
 * The oracle suite, equality part: values that their type's equality (and their column's
 * collation) calls equal but that are written differently — bpchar with trailing spaces, jsonb
 * 2 vs 2.0, numeric arrays {3} vs {3.0}, a case-insensitive nondeterministic ICU collation —
 * form one DISTINCT row and one GROUP BY group, as in the query; and rows of a keyless table
 * holding json values are deleted exactly. Each scenario runs in FULL, DIFFERENTIAL and AUTO.
 */

import { type OracleScenario, oracleScenarios } from './support/oracle-scenarios.js';
import { useTrickle } from './support/setup.js';

const { db, trickle } = useTrickle();

const BPCHAR = `CREATE TABLE {s}.t (id int PRIMARY KEY, c bpchar);
  INSERT INTO {s}.t VALUES (1, 'a'), (2, 'a  '), (3, 'b '), (4, NULL), (5, 'b')`;
const BPCHAR_STEPS = [
  `INSERT INTO {s}.t VALUES (6, 'a '), (7, 'c   ')`,
  `DELETE FROM {s}.t WHERE id = 1`,
  `UPDATE {s}.t SET c = 'c' WHERE id = 3`,
  `DELETE FROM {s}.t WHERE id IN (2, 6)`,
  `INSERT INTO {s}.t VALUES (8, 'a    '), (9, '')`,
];

const JSONB = `CREATE TABLE {s}.t (id int PRIMARY KEY, j jsonb);
  INSERT INTO {s}.t VALUES (1, '{"p":2}'), (2, '{"p":2.0}'), (3, '{"p":3}'), (4, '[1,[2]]'), (5, '[[1],2]')`;
const JSONB_STEPS = [
  `INSERT INTO {s}.t VALUES (6, '{"p":2.00}'), (7, '{"p":3.0, "q":[1.0]}'), (8, '{"q":[1], "p":3}')`,
  `DELETE FROM {s}.t WHERE id = 1`,
  `UPDATE {s}.t SET j = '{"p":3.000}' WHERE id = 2`,
  `DELETE FROM {s}.t WHERE id IN (6, 8)`,
  `INSERT INTO {s}.t VALUES (9, '{}'), (10, '[]'), (11, '1'), (12, '[1]')`,
];

const ARRAYS = `CREATE TABLE {s}.t (id int PRIMARY KEY, a numeric[]);
  INSERT INTO {s}.t VALUES (1, '{3}'), (2, '{3.0}'), (3, '{3.00,1}'), (4, '{3,1.0}'), (5, NULL), (6, '{}')`;
const ARRAYS_STEPS = [
  `INSERT INTO {s}.t VALUES (7, '{3.000}'), (8, '{1,3}')`,
  `DELETE FROM {s}.t WHERE id = 1`,
  `UPDATE {s}.t SET a = '{1.0,3.0}' WHERE id = 3`,
  `DELETE FROM {s}.t WHERE id IN (2, 7)`,
  `INSERT INTO {s}.t VALUES (9, '{NULL}'), (10, '{{3}}')`,
];

const CI = `CREATE COLLATION {s}.ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
  CREATE TABLE {s}.t (id int PRIMARY KEY, c text COLLATE {s}.ci, n int);
  INSERT INTO {s}.t VALUES (1, 'Red', 1), (2, 'red', 2), (3, 'RED', 3), (4, 'blue', 4), (5, NULL, 5)`;
const CI_STEPS = [
  `INSERT INTO {s}.t VALUES (6, 'rEd', 6), (7, 'Blue', 7)`,
  `DELETE FROM {s}.t WHERE id = 1`,
  `UPDATE {s}.t SET c = 'BLUE' WHERE id = 2`,
  `DELETE FROM {s}.t WHERE id IN (3, 6)`,
  `INSERT INTO {s}.t VALUES (8, 'green', 8), (9, 'GREEN', 9)`,
];

const KEYLESS_JSON = `CREATE TABLE {s}.ev (j json, n int);
  INSERT INTO {s}.ev VALUES ('{"a":1,  "b":[1,2]}', 1), ('{"b":2,"a":1}', 2), ('{"b":2,"a":1}', 2),
    ('[ 1, {"x" : null} ]', 3), (NULL, 4), ('"s"', 5)`;
const KEYLESS_JSON_STEPS = [
  `DELETE FROM {s}.ev WHERE n = 1`,
  `DELETE FROM {s}.ev WHERE ctid = (SELECT min(ctid) FROM {s}.ev WHERE n = 2)`,
  `UPDATE {s}.ev SET j = '{ "z" :  [ 3 ] }' WHERE n = 3`,
  `INSERT INTO {s}.ev VALUES ('{"k":  "v"}', 6), ('{"k":  "v"}', 6)`,
  `DELETE FROM {s}.ev WHERE n IN (2, 3, 6)`,
];

const SCENARIOS: OracleScenario[] = [
  {
    name: 'bpchar trailing spaces: DISTINCT',
    setup: BPCHAR,
    query: 'SELECT DISTINCT c FROM {s}.t',
    steps: BPCHAR_STEPS,
  },
  {
    name: 'bpchar trailing spaces: GROUP BY',
    setup: BPCHAR,
    query: 'SELECT c, count(*) AS n, sum(id) AS ids FROM {s}.t GROUP BY c',
    steps: BPCHAR_STEPS,
  },
  {
    name: 'jsonb 2 vs 2.0: DISTINCT',
    setup: JSONB,
    query: 'SELECT DISTINCT j FROM {s}.t',
    steps: JSONB_STEPS,
  },
  {
    name: 'jsonb 2 vs 2.0: GROUP BY',
    setup: JSONB,
    query: 'SELECT j, count(*) AS n FROM {s}.t GROUP BY j',
    steps: JSONB_STEPS,
  },
  {
    name: 'numeric arrays {3} vs {3.0}: DISTINCT',
    setup: ARRAYS,
    query: 'SELECT DISTINCT a FROM {s}.t',
    steps: ARRAYS_STEPS,
  },
  {
    name: 'numeric arrays {3} vs {3.0}: GROUP BY',
    setup: ARRAYS,
    query: 'SELECT a, count(*) AS n FROM {s}.t GROUP BY a',
    steps: ARRAYS_STEPS,
  },
  {
    name: 'nondeterministic ICU collation: DISTINCT',
    setup: CI,
    query: 'SELECT DISTINCT c FROM {s}.t',
    steps: CI_STEPS,
  },
  {
    name: 'nondeterministic ICU collation: GROUP BY',
    setup: CI,
    query: 'SELECT c, count(*) AS n, sum(n) AS total FROM {s}.t GROUP BY c',
    steps: CI_STEPS,
  },
  {
    name: 'keyless table with json values: rows deleted exactly',
    setup: KEYLESS_JSON,
    query: 'SELECT j, n FROM {s}.ev',
    steps: KEYLESS_JSON_STEPS,
  },
  {
    name: 'keyless table with json values: a projection and a filter',
    setup: KEYLESS_JSON,
    query: `SELECT j, n * 2 AS twice FROM {s}.ev WHERE n <> 5`,
    steps: KEYLESS_JSON_STEPS,
  },
];

oracleScenarios('eq', SCENARIOS, db, trickle);
oracleScenarios('eqi', SCENARIOS, db, trickle, { modes: ['IMMEDIATE'] });
