/**
 * The SQL printer and its round-trip check (pure, no database): what the printer emits parses
 * back to the tree it was given (locations aside); a printer that loses a construct is caught;
 * a node it cannot print is refused with PGT_UNSUPPORTED, never sent.
 */
import type { Node } from '@pgsql/types';
import { deparseSync } from 'pgsql-deparser';
import { beforeAll, describe, expect, it } from 'vitest';
import { deparseNode } from '../src/parse/deparse.js';
import { initParser, parseQuery } from '../src/parse/parser.js';
import { checkRoundTrip, compareTrees } from '../src/parse/roundtrip.js';

beforeAll(async () => {
  await initParser();
});

const FAITHFUL = [
  'SELECT a FROM t ORDER BY a FETCH FIRST 3 ROWS WITH TIES',
  'SELECT a FROM t ORDER BY a DESC OFFSET 2 ROWS FETCH FIRST (1 + 1) ROWS WITH TIES',
  'SELECT a FROM t ORDER BY a FETCH FIRST ROW WITH TIES',
  'SELECT a FROM t ORDER BY a LIMIT 3 OFFSET 1',
  'SELECT a, b, count(*) FROM t GROUP BY DISTINCT ROLLUP (a, b), ROLLUP (a)',
  'SELECT a, count(*) FROM t GROUP BY DISTINCT a, CUBE (a, b)',
  'WITH RECURSIVE r(a) AS (SELECT 1 UNION SELECT a + 1 FROM r WHERE a < 5) SELECT a FROM r GROUP BY DISTINCT ROLLUP (a)',
  `SELECT JSON_VALUE(j, '$.a' PASSING 1 AS x, 'y' AS "Y z" RETURNING int DEFAULT -1 ON EMPTY ERROR ON ERROR) FROM t`,
  `SELECT JSON_VALUE(j, '$.a') FROM t`,
  `SELECT JSON_QUERY(j, '$.a' RETURNING jsonb WITH CONDITIONAL WRAPPER EMPTY ARRAY ON EMPTY NULL ON ERROR) FROM t`,
  `SELECT JSON_QUERY(j FORMAT JSON, '$.a' RETURNING text FORMAT JSON WITHOUT WRAPPER KEEP QUOTES EMPTY OBJECT ON ERROR) FROM t`,
  `SELECT JSON_QUERY(j, '$' WITH UNCONDITIONAL WRAPPER) , JSON_QUERY(j, '$' OMIT QUOTES) FROM t`,
  `SELECT JSON_EXISTS(j, '$.a ? (@ > $x)' PASSING 3 AS x TRUE ON ERROR), JSON_EXISTS(j, '$.b') FROM t`,
  `SELECT * FROM t, JSON_TABLE(t.j, '$.items[*]' AS p PASSING 1 AS x COLUMNS (
     ord FOR ORDINALITY, n int PATH '$.n' DEFAULT 0 ON EMPTY NULL ON ERROR, e boolean EXISTS PATH '$.e' ERROR ON ERROR,
     f jsonb FORMAT JSON PATH '$.f' WITH WRAPPER OMIT QUOTES, g text,
     NESTED PATH '$.z[*]' AS q COLUMNS (z int PATH '$', NESTED '$.w' COLUMNS (w text))) ERROR ON ERROR) AS jt`,
  `SELECT * FROM t CROSS JOIN LATERAL JSON_TABLE(t.j, '$' COLUMNS (a int)) AS x(b)`,
  `SELECT JSON_OBJECT('a': 1, 'b': j ABSENT ON NULL WITH UNIQUE KEYS RETURNING jsonb), JSON_ARRAY(1, 2 NULL ON NULL), JSON_ARRAY(SELECT a FROM t) FROM t`,
  `SELECT j IS JSON, j IS NOT JSON OBJECT, j IS JSON ARRAY WITH UNIQUE KEYS, j IS JSON SCALAR FROM t`,
  `SELECT JSON_ARRAYAGG(a ORDER BY a RETURNING jsonb), JSON_OBJECTAGG(k : v ABSENT ON NULL) FROM t`,
  `SELECT JSON('{"a":1}'), JSON_SCALAR(1), JSON_SERIALIZE(j RETURNING bytea) FROM t`,
  // IN lists record where their parentheses are (rexpr_list_start/end): positions, not meaning
  "SELECT a FROM t WHERE a IN (  1,2,   3) AND b NOT IN (SELECT c FROM u) AND d IN ($$x$$, 'y')",
  `SELECT l_shipmode FROM lineitem WHERE l_shipmode IN ('MAIL', 'SHIP') AND l_receiptdate >= date '1994-01-01'`,
];

describe('the SQL printer', () => {
  for (const text of FAITHFUL) {
    it(`prints faithfully: ${text.replace(/\s+/g, ' ').slice(0, 90)}`, () => {
      const { node } = parseQuery(text);
      const printed = deparseNode(node);
      expect(checkRoundTrip(node, printed)).toBeNull();
      expect(compareTrees(node, parseQuery(printed).node)).toBeNull();
    });
  }

  it('keeps WITH TIES and GROUP BY DISTINCT that the base printer loses, and the check sees the loss', () => {
    const ties = parseQuery('SELECT a FROM t ORDER BY a FETCH FIRST 2 ROWS WITH TIES').node;
    const lost = deparseSync(ties, { pretty: false });
    expect(lost).toMatch(/LIMIT 2$/);
    expect(checkRoundTrip(ties, lost)?.path).toBe('SelectStmt.limitOption');
    expect(deparseNode(ties)).toMatch(/FETCH FIRST \(2\) ROWS WITH TIES$/);

    const distinct = parseQuery('SELECT a FROM t GROUP BY DISTINCT ROLLUP (a), ROLLUP (a)').node;
    expect(checkRoundTrip(distinct, deparseSync(distinct, { pretty: false }))?.path).toBe(
      'SelectStmt.groupDistinct',
    );
    expect(deparseNode(distinct)).toContain('GROUP BY DISTINCT ROLLUP');
  });

  it('refuses, with PGT_UNSUPPORTED naming it, a node it has no rule for or would print as something else', () => {
    const unknown = { PgtNoSuchNode: {} } as unknown as Node;
    expect(() => deparseNode(unknown)).toThrow(expect.objectContaining({ code: 'PGT_UNSUPPORTED' }));
    expect(() => deparseNode(unknown)).toThrow(/no rule for \(PgtNoSuchNode\)/);
  });

  it('compares trees without locations, with parser-filled defaults, and finds any other difference', () => {
    const a = { A_Const: { ival: { ival: 1 }, location: 3 } };
    expect(compareTrees(a, { A_Const: { ival: { ival: 1 }, location: 9 } })).toBeNull();
    expect(
      compareTrees({ FuncCall: { funcname: [] } }, { FuncCall: { funcformat: 'COERCE_EXPLICIT_CALL' } }),
    ).toBeNull();
    expect(compareTrees({ X: { flag: false } }, { X: {} })).toBeNull();
    expect(compareTrees(a, { A_Const: { ival: { ival: 2 } } })?.path).toBe('A_Const.ival.ival');
    expect(compareTrees({ X: { list: [1, 2] } }, { X: { list: [1] } })?.path).toBe('X.list');
    expect(compareTrees({ X: {} }, { X: { groupDistinct: true } })?.path).toBe('X.groupDistinct');
    expect(compareTrees({ X: { funcformat: 'COERCE_SQL_SYNTAX' } }, { X: {} })?.path).toBe('X.funcformat');
  });
});
