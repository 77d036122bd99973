/**
 * The aggregate's compile-time analysis: PostgreSQL describes the group keys, the arguments and
 * the results of the aggregate calls over the child's snapshot, and each call gets the kind it is
 * maintained with. SUM / AVG are algebraic only over the built-in numeric types, interval and
 * money, and only when PostgreSQL's result type is the built-in one (so a user-defined `sum` is
 * rescanned); COUNT must return bigint; MIN / MAX compare in their result type. A numeric
 * argument whose type modifier fixes its scale (`numeric(p,s)`) keeps no scale histogram: every
 * finite value, and so their sum, has scale s; a numeric with any type modifier cannot hold
 * ±Infinity (PostgreSQL refuses to store them under a precision), only NaN, so only NaN is
 * counted. The argument's nullability comes from the tree (`ir/nullability.ts`): a NOT NULL
 * argument keeps no non-NULL count.
 */

import { UnsupportedQueryError } from '../errors.js';
import { renderExpr } from '../ir/expr.js';
import { notNullColumns, passedColumn } from '../ir/nullability.js';
import { sql } from '../sql/sql.js';
import {
  type AggKind,
  type AggregateNode,
  type AggTypes,
  aggregateChild,
  type SumPlan,
} from './aggregate-node.js';
import type { AnalyzeTools } from './rules.js';

/** A type name without its modifier, lower case (`numeric(10,2)` → `numeric`). */
export function baseType(type: string): string {
  return type
    .toLowerCase()
    .replace(/\([^)]*\)/g, '')
    .replace(/\s+/g, ' ')
    .trim();
}

const INTS = new Set(['smallint', 'integer']);

/**
 * Whether a numeric type's modifier fixes the display scale of every finite value
 * (`numeric(12,2)`: all have scale 2), so the scale of a sum or average needs no histogram.
 */
export function fixedNumericScale(type: string): boolean {
  return /^\s*numeric\s*\(\s*\d+\s*,\s*\d+\s*\)\s*$/i.test(type);
}

/**
 * Whether a numeric type carries a type modifier (`numeric(p)`, `numeric(p,s)`): its values are
 * finite or NaN, never ±Infinity (PostgreSQL: "a field with precision p cannot hold an infinite
 * value").
 */
export function boundedNumeric(type: string): boolean {
  return /^\s*numeric\s*\(\s*\d+\s*(,\s*-?\d+\s*)?\)\s*$/i.test(type);
}
const FLOATS = new Set(['real', 'double precision']);

/** The accumulation of SUM(argType) returning `result`, or null if not algebraic. */
function sumPlan(argType: string, result: string): SumPlan | null {
  const arg = baseType(argType);
  const res = baseType(result);
  if (INTS.has(arg)) return res === 'bigint' ? plain('numeric', 'none') : null;
  if (arg === 'bigint') return res === 'numeric' ? plain('numeric', 'none') : null;
  if (arg === 'numeric') return res === 'numeric' ? numericPlan(argType) : null;
  if (FLOATS.has(arg)) return res === arg ? plain('double precision', 'count') : null;
  if (arg.startsWith('interval')) return res.startsWith('interval') ? plain('interval', 'rescan') : null;
  if (arg === 'money') return res === 'money' ? plain('money', 'none') : null;
  return null;
}

/** A plan without a scale histogram; ±Infinity possible exactly when non-finite values are counted. */
function plain(acc: SumPlan['acc'], special: SumPlan['special']): SumPlan {
  return { acc, special, scaled: false, infinite: special === 'count' };
}

/** The plan of a numeric argument of type `argType` (its modifier decides scale and infinities). */
function numericPlan(argType: string): SumPlan {
  return {
    acc: 'numeric',
    special: 'count',
    scaled: !fixedNumericScale(argType),
    infinite: !boundedNumeric(argType),
  };
}

/** The accumulation of AVG(argType) returning `result`, or null if not algebraic. */
function avgPlan(argType: string, result: string): SumPlan | null {
  const arg = baseType(argType);
  const res = baseType(result);
  if (INTS.has(arg) || arg === 'bigint' || arg === 'numeric') {
    if (res !== 'numeric') return null;
    return arg === 'numeric' ? numericPlan(argType) : plain('numeric', 'none');
  }
  if (FLOATS.has(arg)) return res === 'double precision' ? plain('double precision', 'count') : null;
  if (arg.startsWith('interval')) return res.startsWith('interval') ? plain('interval', 'rescan') : null;
  return null;
}

function classify(
  candidate: AggKind,
  argType: string | null,
  resultType: string,
  argNotNull: boolean,
): AggTypes {
  const generic: AggTypes = { kind: 'generic', resultType, argType, sum: null, argNotNull };
  switch (candidate) {
    case 'count_star':
    case 'count':
      return baseType(resultType) === 'bigint'
        ? { kind: candidate, resultType, argType, sum: null, argNotNull }
        : generic;
    case 'sum':
    case 'avg': {
      if (argType === null) return generic;
      const plan = candidate === 'sum' ? sumPlan(argType, resultType) : avgPlan(argType, resultType);
      return plan === null ? generic : { kind: candidate, resultType, argType, sum: plan, argNotNull };
    }
    case 'min':
    case 'max':
      return argType === null ? generic : { kind: candidate, resultType, argType, sum: null, argNotNull };
    case 'generic':
      return generic;
  }
}

/** Runs the analysis of `node` (records it on the node). */
export async function analyzeAggregate(node: AggregateNode, tools: AnalyzeTools): Promise<void> {
  const childSql = tools.snapshotSql(aggregateChild(node));
  const exprCols: string[] = [];
  node.keys.forEach((k, i) => {
    exprCols.push(sql`${renderExpr(k.expr, 'c')} AS k${i}`);
  });
  const argIndex: (number | null)[] = node.aggs.map((a) => {
    if (a.arg === null) return null;
    exprCols.push(sql`${renderExpr(a.arg, 'c')} AS a${exprCols.length}`);
    return exprCols.length - 1;
  });
  const aggCols = node.aggs.map((a, j) => sql`${renderExpr(a.call, 'c')} AS r${j}`);
  const notNull = notNullColumns(aggregateChild(node));
  const argNotNull = node.aggs.map((a) => {
    const id = a.arg === null ? null : passedColumn(a.arg);
    return id !== null && notNull.has(id);
  });
  try {
    const exprTypes =
      exprCols.length === 0
        ? []
        : await tools.describe(sql`SELECT ${exprCols.join(', ')} FROM (${childSql}) AS c`);
    const resultTypes =
      aggCols.length === 0
        ? []
        : await tools.describe(sql`SELECT ${aggCols.join(', ')} FROM (${childSql}) AS c`);
    node.analysis = {
      keyTypes: node.keys.map((_, i) => exprTypes[i]?.type ?? 'text'),
      aggs: node.aggs.map((a, j) => {
        const idx = argIndex[j];
        const argType = idx === null || idx === undefined ? null : (exprTypes[idx]?.type ?? null);
        return classify(a.candidate, argType, resultTypes[j]?.type ?? 'unknown', argNotNull[j] === true);
      }),
    };
  } catch (error) {
    // The input cannot be described on its own (e.g. it is correlated to an enclosing query):
    // every aggregate is then rescanned; grouping sets need the key types.
    node.analysis = null;
    if (node.sets.length > 1) {
      throw new UnsupportedQueryError(
        'GROUPING SETS / ROLLUP / CUBE over this input',
        "Its key types could not be determined (a correlated input?); use refreshMode 'FULL'.",
        { cause: error },
      );
    }
  }
}
