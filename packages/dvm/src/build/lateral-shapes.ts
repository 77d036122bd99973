/**
 * The result shape of functions called in FROM: how many columns each one yields and what they
 * are called. The builder is synchronous, so the shapes are learned up front, in the catalog
 * pre-pass (`loadCatalogFacts`): every function call of every FROM function item is described by
 * PostgreSQL as `SELECT * FROM <call> AS __pgt_probe` with its column references replaced by NULL
 * (a scalar result comes back as one column named after the probe alias; a composite result,
 * OUT parameters or a named single OUT parameter under their own names), except the common
 * built-in set-returning functions, whose shapes are in a table here (`unnest(NULL)` cannot be
 * described; and a failing describe would abort a transaction the compile runs in). A call
 * that cannot be described is refused by the builder in incremental modes. A column definition list (`AS f(a int, b text)`)
 * is its own shape. Every shape is checked again at compile time against PostgreSQL's
 * description in context (`analyze` of the lateral-function operator); a mismatch is refused.
 */
import type { Node, RangeFunction } from '@pgsql/types';
import type { CatalogPort } from '../catalog/port.js';
import { asNode, mapAst, nameList, walkAst } from '../parse/ast.js';
import { deparseNode } from '../parse/deparse.js';

/** What one function call in FROM yields: one unnamed (scalar) column, or named columns. */
export type FunctionShape =
  | { readonly kind: 'scalar' }
  | { readonly kind: 'named'; readonly names: readonly string[] };

/** Alias of the probe query; a scalar result's only column is named after it. */
const PROBE_ALIAS = '__pgt_probe';

const SCALAR: FunctionShape = { kind: 'scalar' };
const VALUE: FunctionShape = { kind: 'named', names: ['value'] };
const KEY_VALUE: FunctionShape = { kind: 'named', names: ['key', 'value'] };

/** Shapes of common built-in set-returning functions (used when a probe cannot be described). */
const BUILTIN_SHAPES: Readonly<Record<string, FunctionShape>> = {
  unnest: SCALAR,
  generate_series: SCALAR,
  generate_subscripts: SCALAR,
  regexp_split_to_table: SCALAR,
  regexp_matches: SCALAR,
  string_to_table: SCALAR,
  json_object_keys: SCALAR,
  jsonb_object_keys: SCALAR,
  jsonb_path_query: SCALAR,
  json_array_elements: VALUE,
  json_array_elements_text: VALUE,
  jsonb_array_elements: VALUE,
  jsonb_array_elements_text: VALUE,
  json_each: KEY_VALUE,
  json_each_text: KEY_VALUE,
  jsonb_each: KEY_VALUE,
  jsonb_each_text: KEY_VALUE,
};

/** The built-in fallback shape of a function name (its last part), if known. */
export function builtinShape(funcname: readonly string[]): FunctionShape | undefined {
  const schema = funcname.length === 2 ? funcname[0] : undefined;
  if (schema !== undefined && schema !== 'pg_catalog') return undefined;
  const name = funcname.at(-1);
  return name === undefined ? undefined : BUILTIN_SHAPES[name];
}

/** One function call of a FROM function item: the call and its own column definition list. */
export interface FromFunctionCall {
  readonly call: Node;
  /** The ColumnDef nodes of `AS (a int, …)` for this call, if any. */
  readonly coldefs: readonly Node[] | undefined;
  /** Whether it is one argument of an expanded multi-argument `unnest` (not probed). */
  readonly expanded: boolean;
}

/** Whether `call` is a plain `unnest(a, b, …)` with several arguments (PostgreSQL expands it). */
function isMultiUnnest(call: Node): boolean {
  const fc = asNode(call, 'FuncCall');
  if (fc === undefined) return false;
  const name = nameList(fc.funcname);
  return (
    name !== undefined &&
    name.length === 1 &&
    name[0] === 'unnest' &&
    (fc.args?.length ?? 0) > 1 &&
    fc.func_variadic !== true &&
    fc.agg_order === undefined
  );
}

/**
 * The function calls of a FROM function item, in column order, the way PostgreSQL sees them:
 * `ROWS FROM (f(…), g(…) AS (…))` lists several; a single call takes the item's column
 * definition list; a plain `unnest(a, b)` (not in ROWS FROM) is `unnest(a), unnest(b)`.
 */
export function fromFunctionCalls(rf: RangeFunction): FromFunctionCall[] {
  const items = (rf.functions ?? []).map((f) => {
    const list = asNode(f, 'List')?.items ?? [];
    const call = list[0] as Node;
    const defs = asNode(list[1], 'List')?.items;
    return { call, coldefs: defs !== undefined && defs.length > 0 ? defs : undefined, expanded: false };
  });
  const only = items[0];
  if (rf.is_rowsfrom !== true && items.length === 1 && only !== undefined) {
    if (rf.coldeflist === undefined && isMultiUnnest(only.call)) {
      const fc = asNode(only.call, 'FuncCall');
      return (fc?.args ?? []).map((arg) => ({
        call: { FuncCall: { ...fc, args: [arg] } } as Node,
        coldefs: undefined,
        expanded: true,
      }));
    }
    const defs = rf.coldeflist;
    return [
      { call: only.call, coldefs: defs !== undefined && defs.length > 0 ? defs : undefined, expanded: false },
    ];
  }
  return items;
}

/** The `location` of a function call (the key of its probed shape). */
export function callLocation(call: Node): number | undefined {
  return asNode(call, 'FuncCall')?.location;
}

/** The call with every column reference, parameter and subquery replaced by NULL. */
function probeCall(call: Node): Node {
  const nullConst: Node = { A_Const: { isnull: true } };
  return mapAst(call, (node) => {
    if (asNode(node, 'ColumnRef') !== undefined) return nullConst;
    if (asNode(node, 'SubLink') !== undefined) return nullConst;
    if (asNode(node, 'ParamRef') !== undefined) return nullConst;
    return undefined;
  }) as Node;
}

/**
 * Describes every function call of every FROM function item in `root` through `port` (keyed by
 * the call's location). A call PostgreSQL cannot describe with NULL arguments maps to null.
 */
export async function probeFunctionShapes(
  root: Node,
  port: CatalogPort,
): Promise<Map<number, FunctionShape | null>> {
  const calls: Node[] = [];
  walkAst(root, (node) => {
    const rf = asNode(node, 'RangeFunction');
    if (rf === undefined) return undefined;
    for (const c of fromFunctionCalls(rf)) {
      const fc = asNode(c.call, 'FuncCall');
      if (fc === undefined || c.coldefs !== undefined || c.expanded) continue;
      // Built-ins are not probed: a failing describe would abort the caller's transaction.
      if (builtinShape(nameList(fc.funcname) ?? []) === undefined) calls.push(c.call);
    }
    return undefined;
  });
  const shapes = new Map<number, FunctionShape | null>();
  await Promise.all(
    calls.map(async (call) => {
      const location = callLocation(call);
      if (location === undefined || shapes.has(location)) return;
      shapes.set(location, null);
      let sql: string;
      try {
        sql = `SELECT * FROM ${deparseNode(probeCall(call))} AS ${PROBE_ALIAS}`;
      } catch {
        return;
      }
      try {
        const columns = await port.describeQuery(sql);
        const names = columns.map((c) => c.name);
        shapes.set(
          location,
          names.length === 1 && names[0] === PROBE_ALIAS ? SCALAR : { kind: 'named', names },
        );
      } catch {
        // Not describable with NULL arguments (e.g. polymorphic): the builder falls back.
      }
    }),
  );
  return shapes;
}
