/**
 * The result shape of functions called in FROM: how many columns each one yields and what they
 * are called. The builder is synchronous, so the shapes are learned up front, in the catalog
 * pre-pass (`loadCatalogFacts`): every function call of every FROM function item is described by
 * PostgreSQL as `SELECT * FROM <call> AS __pgt_probe`, its column references replaced by NULLs
 * (typed like the table columns they name, when they name one). A scalar result comes back as
 * one column named after the probe alias; a composite result, OUT parameters or a single named
 * OUT parameter under their own names. The common built-in set-returning functions are not
 * probed (their shapes are in a table here; a failing describe would abort a transaction the
 * compile runs in). A column definition list (`AS f(a int, b text)`) is its own shape. A call
 * that cannot be described is refused by the builder in incremental modes. Every shape is
 * checked again at compile time against PostgreSQL's description in context (`analyze` of the
 * lateral-function operator); a mismatch is refused.
 */
import type { Node, RangeFunction, SelectStmt, TypeName } from '@pgsql/types';
import type { CatalogPort, QualifiedName, RelationInfo } from '../catalog/port.js';
import { asNode, mapAst, nameList } from '../parse/ast.js';
import { deparseNode } from '../parse/deparse.js';
import { parseSql } from '../parse/parser.js';
import { sql } from '../sql/sql.js';

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

/** Column types of the relations a query level's FROM clause names, by item alias. */
type LevelColumns = ReadonlyMap<string, ReadonlyMap<string, string>>;

/** Looks up a relation the pre-pass resolved (undefined: not looked up; null: none). */
export type RelationLookup = (name: QualifiedName) => RelationInfo | null | undefined;

/** The relations (RangeVars, also inside joins) of a FROM list, by alias, with their column types. */
function levelColumns(from: readonly Node[] | undefined, relation: RelationLookup): LevelColumns {
  const out = new Map<string, Map<string, string>>();
  const visit = (item: Node | undefined): void => {
    const rv = asNode(item, 'RangeVar');
    if (rv?.relname !== undefined) {
      const info = relation({ schema: rv.schemaname ?? null, name: rv.relname });
      if (info !== null && info !== undefined) {
        const renames = nameList(rv.alias?.colnames) ?? [];
        out.set(
          rv.alias?.aliasname ?? rv.relname,
          new Map(info.columns.map((c, i) => [renames[i] ?? c.name, c.type] as const)),
        );
      }
      return;
    }
    const join = asNode(item, 'JoinExpr');
    if (join !== undefined) {
      visit(join.larg);
      visit(join.rarg);
    }
  };
  for (const item of from ?? []) visit(item);
  return out;
}

/** The type of a column reference in the enclosing levels (innermost first), if a table column. */
function refType(fields: readonly string[], levels: readonly LevelColumns[]): string | undefined {
  for (const level of levels) {
    if (fields.length === 2) {
      const type = level.get(fields[0] as string)?.get(fields[1] as string);
      if (type !== undefined) return type;
    } else if (fields.length === 1) {
      for (const cols of level.values()) {
        const type = cols.get(fields[0] as string);
        if (type !== undefined) return type;
      }
    }
  }
  return undefined;
}

/**
 * The call with every column reference replaced by a NULL of the column's type when it names a
 * table column of an enclosing FROM clause (else an untyped NULL); parameters and subqueries by
 * NULL.
 */
function probeCall(call: Node, levels: readonly LevelColumns[]): Node {
  const nullConst: Node = { A_Const: { isnull: true } };
  return mapAst(call, (node) => {
    const ref = asNode(node, 'ColumnRef');
    if (ref !== undefined) {
      const fields = nameList(ref.fields);
      const type = fields === undefined ? undefined : refType(fields, levels);
      if (type === undefined) return nullConst;
      return { TypeCast: { arg: nullConst, typeName: typeNameOf(type) } } as Node;
    }
    if (asNode(node, 'SubLink') !== undefined) return nullConst;
    if (asNode(node, 'ParamRef') !== undefined) return nullConst;
    return undefined;
  }) as Node;
}

/** A TypeName node for a type as `format_type` prints it (parsed by PostgreSQL's grammar). */
function typeNameOf(type: string): TypeName {
  const parsed = parseSql(sql`SELECT NULL::${type}`);
  const stmt = parsed.stmts?.[0]?.stmt;
  const target = asNode(asNode(stmt, 'SelectStmt')?.targetList?.[0], 'ResTarget');
  const cast = asNode(target?.val, 'TypeCast');
  if (cast?.typeName === undefined) throw new Error(`cannot parse type ${type}`);
  return cast.typeName;
}

/** Every RangeFunction call to probe, with the FROM levels around it (innermost first). */
function collectCalls(
  value: unknown,
  levels: readonly LevelColumns[],
  relation: RelationLookup,
  out: { call: Node; levels: readonly LevelColumns[] }[],
): void {
  if (Array.isArray(value)) {
    for (const v of value) collectCalls(v, levels, relation, out);
    return;
  }
  if (value === null || typeof value !== 'object') return;
  const stmt = (value as { SelectStmt?: SelectStmt }).SelectStmt;
  if (stmt !== undefined) {
    collectSelect(stmt, levels, relation, out);
    return;
  }
  const rf = (value as { RangeFunction?: RangeFunction }).RangeFunction;
  if (rf !== undefined) {
    for (const c of fromFunctionCalls(rf)) {
      const fc = asNode(c.call, 'FuncCall');
      if (fc === undefined || c.coldefs !== undefined || c.expanded) continue;
      // Built-ins are not probed: a failing describe would abort the caller's transaction.
      if (builtinShape(nameList(fc.funcname) ?? []) === undefined) out.push({ call: c.call, levels });
    }
  }
  for (const v of Object.values(value)) collectCalls(v, levels, relation, out);
}

function collectSelect(
  stmt: SelectStmt,
  levels: readonly LevelColumns[],
  relation: RelationLookup,
  out: { call: Node; levels: readonly LevelColumns[] }[],
): void {
  const inner = [levelColumns(stmt.fromClause, relation), ...levels];
  for (const [key, v] of Object.entries(stmt)) {
    if (key === 'larg' || key === 'rarg') collectSelect(v as SelectStmt, levels, relation, out);
    else collectCalls(v, key === 'withClause' ? levels : inner, relation, out);
  }
}

/**
 * Describes every function call of every FROM function item in `root` through `port` (keyed by
 * the call's location), its column references replaced by NULLs of their types. A call
 * PostgreSQL cannot describe that way maps to null.
 */
export async function probeFunctionShapes(
  root: Node,
  port: CatalogPort,
  relation: RelationLookup = () => undefined,
): Promise<Map<number, FunctionShape | null>> {
  const calls: { call: Node; levels: readonly LevelColumns[] }[] = [];
  collectCalls(root, [], relation, calls);
  const shapes = new Map<number, FunctionShape | null>();
  // One at a time: the port may run on a single connection (inside a transaction).
  for (const { call, levels } of calls) {
    await (async () => {
      const location = callLocation(call);
      if (location === undefined || shapes.has(location)) return;
      shapes.set(location, null);
      let probe: string;
      try {
        probe = sql`SELECT * FROM ${deparseNode(probeCall(call, levels))} AS ${PROBE_ALIAS}`;
      } catch {
        return;
      }
      try {
        const columns = await port.describeQuery(probe);
        const names = columns.map((c) => c.name);
        shapes.set(
          location,
          names.length === 1 && names[0] === PROBE_ALIAS ? SCALAR : { kind: 'named', names },
        );
      } catch {
        // Not describable this way (e.g. overloaded on an unknown argument type): refused later.
      }
    })();
  }
  return shapes;
}
