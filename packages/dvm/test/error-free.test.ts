import type { Node } from '@pgsql/types';
import { beforeAll, describe, expect, it } from 'vitest';
import { cannotFail } from '../src/ir/error-free.js';
import { makeExpr } from '../src/ir/expr.js';
import type { Expr } from '../src/ir/types.js';
import { initParser, parseQuery } from '../src/parse/parser.js';

beforeAll(async () => {
  await initParser();
});

/** The first target of `SELECT <text> FROM t` as an expression. */
function expr(text: string): Expr {
  const target = parseQuery(`SELECT ${text} FROM t`).select.targetList?.[0] as { ResTarget: { val: Node } };
  return makeExpr(target.ResTarget.val);
}

describe('expressions that cannot fail on any row', () => {
  it.each([
    'a',
    '1',
    "a = 'x'",
    'a < b AND (c IS NULL OR NOT d)',
    'a IN (1, 2, 3)',
    'a BETWEEN 1 AND 10',
    'a IS DISTINCT FROM b',
    'NULLIF(a, 0)',
    'coalesce(a, b, 0)',
    'greatest(a, b)',
    'CASE WHEN a > 0 THEN b ELSE c END',
    "a >= DATE '1994-01-01' + INTERVAL '3 month'",
    'd IS TRUE',
  ])('%s cannot fail', (text) => {
    expect(cannotFail(expr(text))).toBe(true);
  });

  it.each([
    '1000 / a',
    'a + 1',
    'a * b',
    '-a',
    'a::int',
    'lower(a)',
    'a LIKE b',
    'CASE WHEN a > 0 THEN 1 / a ELSE 0 END',
    'coalesce(a, 1 / b)',
    'a IN (1, 2 / b)',
  ])('%s may fail', (text) => {
    expect(cannotFail(expr(text))).toBe(false);
  });
});
