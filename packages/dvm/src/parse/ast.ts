/**
 * Typed access to libpg-query's AST (`@pgsql/types`, PostgreSQL 18). A `Node` is a one-key object
 * (`{ ColumnRef: {...} }`); these helpers name and unwrap nodes without `any`.
 */
import type { Node, SortBy } from '@pgsql/types';

/**
 * The direction of an ORDER BY item: DESC or not, and whether NULLs sort first (PostgreSQL's
 * default without NULLS FIRST / LAST: first when descending).
 */
export function sortDirection(sort: SortBy): { readonly descending: boolean; readonly nullsFirst: boolean } {
  const descending = sort.sortby_dir === 'SORTBY_DESC';
  const nullsFirst =
    sort.sortby_nulls === 'SORTBY_NULLS_FIRST'
      ? true
      : sort.sortby_nulls === 'SORTBY_NULLS_LAST'
        ? false
        : descending;
  return { descending, nullsFirst };
}

/** The names of every node type (the key of a `Node`). */
export type NodeTag = Node extends infer N ? (N extends unknown ? keyof N : never) : never;

/** The body type of the node with tag `T`. */
export type NodeBody<T extends NodeTag> = Extract<Node, Record<T, unknown>>[T];

/** The tag of a node (`'ColumnRef'` for `{ ColumnRef: … }`). */
export function tagOf(node: Node): NodeTag {
  const key = Object.keys(node)[0];
  return key as NodeTag;
}

/** The body of `node` if its tag is `tag`, else undefined. */
export function asNode<T extends NodeTag>(node: Node | undefined, tag: T): NodeBody<T> | undefined {
  if (node === undefined || node === null || typeof node !== 'object') return undefined;
  return tag in node ? (node as unknown as Record<T, NodeBody<T>>)[tag] : undefined;
}

/** Whether `node` has tag `tag`. */
export function isNode<T extends NodeTag>(
  node: Node | undefined,
  tag: T,
): node is Extract<Node, Record<T, unknown>> {
  return node !== undefined && node !== null && typeof node === 'object' && tag in node;
}

/** The string value of a `String` node (identifiers in name lists), else undefined. */
export function stringValue(node: Node | undefined): string | undefined {
  return asNode(node, 'String')?.sval;
}

/** The strings of a name list (`[String, String]` → `['pg_catalog', 'int4']`); undefined if any is not a String. */
export function nameList(nodes: readonly Node[] | undefined): string[] | undefined {
  if (nodes === undefined) return undefined;
  const out: string[] = [];
  for (const n of nodes) {
    const s = stringValue(n);
    if (s === undefined) return undefined;
    out.push(s);
  }
  return out;
}

/** The `location` of a node's body when it has one (byte offset in the query), else undefined. */
export function locationOf(node: Node | undefined): number | undefined {
  if (node === undefined) return undefined;
  const body = Object.values(node)[0] as { location?: unknown } | undefined;
  const loc = body?.location;
  return typeof loc === 'number' && loc >= 0 ? loc : undefined;
}

/** A deep copy of an AST value (plain JSON data). */
export function cloneAst<T>(value: T): T {
  return structuredClone(value);
}

/** Visitor of {@link walkAst}: return `false` to skip the node's children. */
export type AstVisitor = (node: Node, tag: NodeTag) => boolean | undefined;

/**
 * Calls `visit` for every node in `root` (pre-order), including nodes nested in node bodies
 * (e.g. the `SelectStmt` under a `larg`, which the AST stores unwrapped, is not visited as a
 * node but its contents are).
 */
export function walkAst(root: unknown, visit: AstVisitor): void {
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const value = stack.pop();
    if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) stack.push(value[i]);
      continue;
    }
    if (value === null || typeof value !== 'object') continue;
    const keys = Object.keys(value);
    const only = keys[0];
    if (keys.length === 1 && only !== undefined && /^[A-Z]/.test(only)) {
      const node = value as Node;
      if (visit(node, only as NodeTag) === false) continue;
      stack.push((value as Record<string, unknown>)[only]);
      continue;
    }
    for (const key of keys) stack.push((value as Record<string, unknown>)[key]);
  }
}

/**
 * Rebuilds an AST value bottom-up: `replace` may return a new node for any node (its children
 * are already rebuilt), or undefined to keep it.
 */
export function mapAst(value: unknown, replace: (node: Node, tag: NodeTag) => Node | undefined): unknown {
  if (Array.isArray(value)) return value.map((v) => mapAst(v, replace));
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value).map(([k, v]) => [k, mapAst(v, replace)] as const);
  const rebuilt = Object.fromEntries(entries) as Record<string, unknown>;
  const keys = Object.keys(rebuilt);
  const only = keys[0];
  if (keys.length === 1 && only !== undefined && /^[A-Z]/.test(only)) {
    return replace(rebuilt as Node, only as NodeTag) ?? rebuilt;
  }
  return rebuilt;
}
