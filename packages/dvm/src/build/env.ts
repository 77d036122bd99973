/**
 * The build environment: everything the (synchronous) query builder needs from the database,
 * fetched up front through the {@link CatalogPort} by one asynchronous pre-pass over the whole
 * parse tree (every relation name and every function name it mentions), plus the per-build state
 * (id allocation, sources, warnings, the refresh mode being compiled for).
 */
import type { Node, SelectStmt } from '@pgsql/types';
import type {
  CatalogPort,
  FunctionInfo,
  QualifiedName,
  RelationInfo,
  StreamTableInfo,
} from '../catalog/port.js';
import { CatalogError, type SourcePosition, UnsupportedQueryError } from '../errors.js';
import { IdAllocator } from '../ir/ids.js';
import type { SourceRef } from '../ir/types.js';
import { HIDDEN_PREFIX, ROW_ID_COLUMN } from '../names.js';
import { asNode, nameList, walkAst } from '../parse/ast.js';
import { parseQuery } from '../parse/parser.js';
import type { PositionMap } from '../parse/position.js';
import { type FunctionShape, probeFunctionShapes } from './lateral-shapes.js';

/** The refresh modes a query is compiled for. */
export type CompileMode = 'FULL' | 'DIFFERENTIAL' | 'IMMEDIATE';

/** Text key of a possibly qualified name in the pre-pass maps. */
export function nameKey(name: QualifiedName): string {
  return `${name.schema ?? ''}\u0000${name.name}`;
}

/** A qualified name from a name list (`[schema, name]` or `[name]`); undefined for longer lists. */
export function qualifiedFromList(parts: readonly string[]): QualifiedName | undefined {
  if (parts.length === 1) return { schema: null, name: parts[0] as string };
  if (parts.length === 2) return { schema: parts[0] as string, name: parts[1] as string };
  return undefined;
}

/** What the pre-pass learned about the names a query mentions. */
export interface CatalogFacts {
  readonly relations: ReadonlyMap<string, RelationInfo | null>;
  readonly functions: ReadonlyMap<string, FunctionInfo | null>;
  readonly streamTables: ReadonlyMap<number, StreamTableInfo | null>;
  /** Result shapes of the function calls in FROM, by call location (see `lateral-shapes.ts`). */
  readonly functionShapes?: ReadonlyMap<number, FunctionShape | null>;
  /** Parsed definitions of the views that may be inlined, by oid. */
  readonly views?: ReadonlyMap<number, SelectStmt>;
}

/**
 * Collects every relation and function name in `root` and asks the port about each once. A view
 * that may be inlined is parsed and its names collected too (views over views, to any depth), so
 * the builder can read it as a subquery over its tables.
 */
export async function loadCatalogFacts(root: Node, port: CatalogPort): Promise<CatalogFacts> {
  const relationNames = new Map<string, QualifiedName>();
  const functionNames = new Map<string, QualifiedName>();
  const collect = (tree: Node) =>
    walkAst(tree, (node) => {
      const rv = asNode(node, 'RangeVar');
      if (rv?.relname !== undefined) {
        const q = { schema: rv.schemaname ?? null, name: rv.relname };
        relationNames.set(nameKey(q), q);
      }
      const fc = asNode(node, 'FuncCall');
      if (fc !== undefined) {
        const parts = nameList(fc.funcname);
        const q = parts === undefined ? undefined : qualifiedFromList(parts);
        if (q !== undefined) functionNames.set(nameKey(q), q);
      }
      return undefined;
    });
  collect(root);
  const relations = new Map<string, RelationInfo | null>();
  const functions = new Map<string, FunctionInfo | null>();
  const streamTables = new Map<number, StreamTableInfo | null>();
  const views = new Map<number, SelectStmt>();
  try {
    // One question at a time: the port may run on a single connection (inside a transaction).
    for (let pending = [...relationNames]; pending.length > 0; ) {
      for (const [key, q] of pending) {
        const info = await port.resolveRelation(q);
        relations.set(key, info);
        if (info !== null && port.streamTableOf !== undefined) {
          streamTables.set(info.oid, await port.streamTableOf(info.oid));
        }
        if (info?.view !== undefined && info.view.notInlinable === null && !views.has(info.oid)) {
          const parsed = parseQuery(info.view.definition);
          views.set(info.oid, parsed.select);
          collect(parsed.node);
        }
      }
      pending = [...relationNames].filter(([key]) => !relations.has(key));
    }
    for (const [key, q] of functionNames) {
      functions.set(key, await port.functionInfo(q));
    }
  } catch (error) {
    throw new CatalogError(
      `The catalog lookup failed while compiling the query: ${error instanceof Error ? error.message : String(error)}. Check the ` +
        `connection and the privileges of the compiling role.`,
      { cause: error },
    );
  }
  const functionShapes = await probeFunctionShapes(root, port, (q) => relations.get(nameKey(q)));
  return { relations, functions, streamTables, functionShapes, views };
}

/** Per-build state shared by every part of the builder. */
export class BuildEnv {
  /** Node numbers and column ids. */
  readonly ids = new IdAllocator();
  /** Warnings for the user (e.g. an ORDER BY without LIMIT that was dropped). */
  readonly warnings: string[] = [];
  private readonly sources = new Map<string, SourceRef>();

  constructor(
    readonly facts: CatalogFacts,
    readonly positions: PositionMap,
    readonly mode: CompileMode,
  ) {}

  /** Line:column of an AST location. */
  at(location: number | undefined): SourcePosition | undefined {
    return this.positions.fromByteOffset(location);
  }

  /** Whether the build must produce incremental rules (DIFFERENTIAL or IMMEDIATE). */
  get incremental(): boolean {
    return this.mode !== 'FULL';
  }

  /** Throws `PGT_UNSUPPORTED` for `construct` unless compiling for FULL, where it is fine. */
  requireFullFor(construct: string, location: number | undefined, why = ''): void {
    if (!this.incremental) return;
    throw new UnsupportedQueryError(
      `${construct} in ${this.mode} mode`,
      `${why}${why === '' ? '' : ' '}Use refreshMode 'FULL' (or 'AUTO', which falls back to FULL) for this query.`,
      { position: this.at(location) },
    );
  }

  /** What the pre-pass found for a function name (undefined: not looked up). */
  functionInfo(name: QualifiedName): FunctionInfo | null | undefined {
    return this.facts.functions.get(nameKey(name));
  }

  private readonly inlining = new Set<number>();
  /** The views the query reads (by oid), inlined or not: a change of one's definition means a rebuild. */
  readonly viewsRead = new Map<
    number,
    { readonly oid: number; readonly schema: string; readonly name: string }
  >();

  /** Records that the query reads view `info`. */
  noteView(info: RelationInfo): void {
    this.viewsRead.set(info.oid, { oid: info.oid, schema: info.schema, name: info.name });
  }

  /** Whether view `oid` is being inlined right now (a view cannot contain itself). */
  isInlining(oid: number): boolean {
    return this.inlining.has(oid);
  }

  /** Runs `build` while view `oid` is being inlined. */
  inlined<T>(oid: number, build: () => T): T {
    this.inlining.add(oid);
    try {
      return build();
    } finally {
      this.inlining.delete(oid);
    }
  }

  /** The parsed definition of view `oid` when it may be inlined. */
  viewDefinition(oid: number): SelectStmt | undefined {
    return this.facts.views?.get(oid);
  }

  /**
   * What the pre-pass found for a relation name; a qualified name the query did not write is
   * found by the relation's own name (a stream table's storage, named by the FULL text that
   * reads it in place of the stream table's view).
   */
  relationInfo(name: QualifiedName): RelationInfo | null | undefined {
    const found = this.facts.relations.get(nameKey(name));
    if (found !== undefined || name.schema === null) return found;
    for (const info of this.facts.relations.values())
      if (info !== null && info.schema === name.schema && info.name === name.name) return info;
    return undefined;
  }

  /** The {@link SourceRef} of a resolved relation (one per relation, shared by all its scans). */
  source(info: RelationInfo): SourceRef {
    const key = String(info.oid);
    const known = this.sources.get(key);
    if (known !== undefined) return known;
    const st = this.facts.streamTables.get(info.oid) ?? null;
    const visible = info.columns.filter((c) => !c.name.startsWith(HIDDEN_PREFIX));
    let ref: SourceRef;
    if (st !== null) {
      const rowId = info.columns.find((c) => c.name === ROW_ID_COLUMN);
      const captured = rowId === undefined ? visible : [rowId, ...visible];
      ref = {
        key,
        oid: info.oid,
        schema: info.schema,
        name: info.name,
        kind: 'streamTable',
        pgtId: st.pgtId,
        captured,
        visible,
        idColumns: st.uniqueRowIds ? [ROW_ID_COLUMN] : visible.map((c) => c.name),
        keyed: st.uniqueRowIds,
      };
    } else {
      const pk = info.primaryKey;
      ref = {
        key,
        oid: info.oid,
        schema: info.schema,
        name: info.name,
        kind: 'table',
        pgtId: null,
        captured: info.columns,
        visible: info.columns,
        idColumns: pk === null || pk.length === 0 ? info.columns.map((c) => c.name) : [...pk],
        keyed: pk !== null && pk.length > 0,
        deferrableKey: info.primaryKeyDeferrable === true,
        captureFormat: info.captureFormat ?? 'typed',
      };
    }
    this.sources.set(key, ref);
    return ref;
  }

  /** Every source the build read, in order of first use. */
  sourceList(): SourceRef[] {
    return [...this.sources.values()];
  }
}
