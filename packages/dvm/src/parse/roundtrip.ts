/**
 * The round-trip rule: a parse tree is sent to PostgreSQL as printed SQL only if parsing the
 * printed text gives the same tree back. Trees are compared with source locations removed and
 * with the parser's own omissions normalised (a field holding false, 0, '' or an empty list is
 * the same as an absent one, as libpg-query leaves such fields out); a field the parser fills in
 * with its default (e.g. a function call's `funcformat`) may appear on the re-parsed side only.
 * Anything else that differs — a flag lost, a node replaced — is a mismatch, reported with the
 * path of the first difference.
 */
import type { Node, ParseResult, SelectStmt } from '@pgsql/types';
import { parseSync } from 'libpg-query';

/** Where a printed tree first differs from the original. */
export interface RoundTripMismatch {
  /** The path of the first difference, e.g. `SelectStmt.limitOption`. */
  readonly path: string;
  /** What differs there (original vs re-parsed). */
  readonly detail: string;
}

/** Fields the parser fills in by default when printed SQL is parsed again (value: that default). */
const PARSER_DEFAULTS: Readonly<Record<string, unknown>> = {
  funcformat: 'COERCE_EXPLICIT_CALL',
  inh: true,
  relpersistence: 'p',
  typemod: -1,
  sortby_dir: 'SORTBY_DEFAULT',
  sortby_nulls: 'SORTBY_NULLS_DEFAULT',
  limitOption: 'LIMIT_OPTION_DEFAULT',
  op: 'SETOP_NONE',
  format_type: 'JS_FORMAT_DEFAULT',
  encoding: 'JS_ENC_DEFAULT',
  wrapper: 'JSW_UNSPEC',
  quotes: 'JS_QUOTES_UNSPEC',
};

/** Position fields (byte offsets into the text), not meaning. */
const LOCATION_KEYS = new Set(['location', 'stmt_len', 'list_start', 'list_end']);

/** Whether `key` holds a position rather than meaning. */
export function isLocationKey(key: string): boolean {
  // e.g. A_Expr's `rexpr_list_start` / `rexpr_list_end` (the parentheses of an IN list)
  return (
    LOCATION_KEYS.has(key) ||
    key.endsWith('_location') ||
    key.endsWith('_list_start') ||
    key.endsWith('_list_end')
  );
}

function isOmitted(value: unknown): boolean {
  return (
    value === undefined ||
    value === null ||
    value === false ||
    value === 0 ||
    value === '' ||
    (Array.isArray(value) && value.length === 0)
  );
}

function show(value: unknown): string {
  const text = JSON.stringify(value) ?? 'nothing';
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** Compares `original` with `reparsed`; the first difference, or null. */
export function compareTrees(original: unknown, reparsed: unknown, path = ''): RoundTripMismatch | null {
  if (Array.isArray(original) || Array.isArray(reparsed)) {
    const a = Array.isArray(original) ? original : [];
    const b = Array.isArray(reparsed) ? reparsed : [];
    if (a.length !== b.length) {
      return { path, detail: `${a.length} item(s) became ${b.length}` };
    }
    for (let i = 0; i < a.length; i++) {
      const m = compareTrees(a[i], b[i], `${path}[${i}]`);
      if (m !== null) return m;
    }
    return null;
  }
  if (typeof original === 'object' && original !== null) {
    if (typeof reparsed !== 'object' || reparsed === null) {
      return { path, detail: `${show(original)} became ${show(reparsed)}` };
    }
    const a = original as Record<string, unknown>;
    const b = reparsed as Record<string, unknown>;
    for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
      if (isLocationKey(key)) continue;
      const sub = path === '' ? key : `${path}.${key}`;
      const left = a[key];
      const right = b[key];
      if (isOmitted(left) && isOmitted(right)) continue;
      if (isOmitted(left) && key in PARSER_DEFAULTS && PARSER_DEFAULTS[key] === right) continue;
      if (isOmitted(left) || isOmitted(right)) {
        return { path: sub, detail: `${show(left)} became ${show(right)}` };
      }
      const m = compareTrees(left, right, sub);
      if (m !== null) return m;
    }
    return null;
  }
  if (isOmitted(original) && isOmitted(reparsed)) return null;
  return original === reparsed ? null : { path, detail: `${show(original)} became ${show(reparsed)}` };
}

/** The part of a parsed wrapper statement that stands for the printed node, by the node's kind. */
interface Wrapper {
  readonly text: (printed: string) => string;
  readonly pick: (select: SelectStmt) => unknown;
}

const FROM_ITEM: Wrapper = {
  text: (p) => `SELECT * FROM ${p}`,
  pick: (s) => s.fromClause?.[0],
};

const WRAPPERS: Readonly<Record<string, Wrapper>> = {
  SelectStmt: { text: (p) => p, pick: (s) => ({ SelectStmt: s }) },
  CommonTableExpr: {
    text: (p) => `WITH ${p} SELECT 1`,
    pick: (s) => s.withClause?.ctes?.[0],
  },
  ColumnDef: {
    text: (p) => `SELECT * FROM f() AS f(${p})`,
    pick: (s) => {
      const item = s.fromClause?.[0] as { RangeFunction?: { coldeflist?: Node[] } } | undefined;
      return item?.RangeFunction?.coldeflist?.[0];
    },
  },
  RangeVar: FROM_ITEM,
  RangeFunction: FROM_ITEM,
  RangeSubselect: FROM_ITEM,
  RangeTableFunc: FROM_ITEM,
  RangeTableSample: FROM_ITEM,
  JoinExpr: FROM_ITEM,
  JsonTable: FROM_ITEM,
};

const EXPRESSION: Wrapper = {
  text: (p) => `SELECT ${p}`,
  pick: (s) => {
    const target = s.targetList?.[0] as { ResTarget?: { val?: Node } } | undefined;
    return target?.ResTarget?.val;
  },
};

/**
 * Whether `printed` (the printer's text for `node`) parses back to `node`: null when it does,
 * else the first difference. `node` is a statement, a FROM item, a CTE, a column definition or
 * an expression.
 */
export function checkRoundTrip(node: Node, printed: string): RoundTripMismatch | null {
  const tag = Object.keys(node)[0] ?? '';
  const wrapper = WRAPPERS[tag] ?? EXPRESSION;
  let result: ParseResult;
  try {
    result = parseSync(wrapper.text(printed));
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return { path: tag, detail: `the printed text does not parse (${message})` };
  }
  const stmt = result.stmts?.[0]?.stmt as { SelectStmt?: SelectStmt } | undefined;
  if (result.stmts?.length !== 1 || stmt?.SelectStmt === undefined) {
    return { path: tag, detail: 'the printed text is not one statement' };
  }
  return compareTrees(node, wrapper.pick(stmt.SelectStmt));
}
