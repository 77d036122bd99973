/**
 * What dvm asks of the database (docs/dvm-design.md §6). dvm never connects anywhere: the client
 * implements this port with catalog queries, the tests implement it over the test database.
 */

/** A possibly schema-qualified name as written in the query (schema null = resolve with search_path). */
export interface QualifiedName {
  readonly schema: string | null;
  readonly name: string;
}

/** Relation kinds the port may report. Only `table` and `partitioned` can be captured by triggers. */
export type RelationKind = 'table' | 'partitioned' | 'view' | 'matview' | 'foreign' | 'other';

/** A column of a relation. */
export interface ColumnInfo {
  /** Column name (exact case). */
  readonly name: string;
  /** SQL type as `format_type(atttypid, atttypmod)` prints it (usable in DDL, e.g. `numeric(10,2)`). */
  readonly type: string;
  /** Whether the column is NOT NULL. */
  readonly notNull: boolean;
  /** Its attnum (names its typed buffer column `c<attnum>`); absent for query outputs. */
  readonly attnum?: number;
  /** The type its typed buffer column stores when it differs from `type` (a domain's base type). */
  readonly storedType?: string;
  /** For a virtual generated column, its generation expression (PostgreSQL's own text). */
  readonly virtualExpr?: string;
  /**
   * The column's collation (schema and name) when it is not its type's default collation; absent
   * otherwise. Values read back from a change buffer get it again.
   */
  readonly collation?: { readonly schema: string; readonly name: string };
  /**
   * True when its type has no extended hash function (e.g. a composite with a `point` member): a
   * keyless source's row ids then take the value's binary form.
   */
  readonly unhashable?: boolean;
}

/** A relation, resolved. */
export interface RelationInfo {
  /** pg_class oid. */
  readonly oid: number;
  /** The schema it lives in (resolved, never null). */
  readonly schema: string;
  /** Its name. */
  readonly name: string;
  readonly kind: RelationKind;
  /** Columns in attnum order, dropped columns excluded. */
  readonly columns: readonly ColumnInfo[];
  /** Primary key column names in key order, or null when the relation has no primary key. */
  readonly primaryKey: readonly string[] | null;
  /** Whether the primary key is DEFERRABLE (a transaction may then change its rows in any order). */
  readonly primaryKeyDeferrable?: boolean;
  /** How its change buffer stores rows (default `typed`). */
  readonly captureFormat?: 'typed' | 'text';
  /** For a view: its definition, and whether it may be inlined (read with the reader's rights). */
  readonly view?: ViewInfo;
}

/** A view's definition as PostgreSQL prints it, and whether reading it inline means the same. */
export interface ViewInfo {
  /** `pg_get_viewdef`: a SELECT whose names resolve under the current search_path. */
  readonly definition: string;
  /**
   * Why it may not be inlined, or null when it may: a view reads its tables with its owner's
   * rights (and row-level security), so only a view owned by the reader, or a
   * `security_invoker` one, reads the same rows inlined.
   */
  readonly notInlinable: string | null;
}

/** An output column of a query. */
export interface QueryColumn {
  readonly name: string;
  /** SQL type with modifiers, as `format_type` prints it. */
  readonly type: string;
  /**
   * The column's collation (schema and name) when it is not its type's default collation; absent
   * otherwise (or when the port does not report collations). Its storage column gets it.
   */
  readonly collation?: { readonly schema: string; readonly name: string };
}

/** Function volatility as pg_proc.provolatile. */
export type Volatility = 'immutable' | 'stable' | 'volatile';

/** What dvm needs to know about a function name (over all its overloads). */
export interface FunctionInfo {
  /** The most volatile overload's volatility. */
  readonly volatility: Volatility;
  /** Whether an overload is an aggregate (`prokind = 'a'`). */
  readonly aggregate: boolean;
  /** Whether an overload is a window function (`prokind = 'w'`). */
  readonly window: boolean;
  /** Whether an overload returns a set (`proretset`). */
  readonly returnsSet: boolean;
}

/** What dvm knows about a relation that is itself a stream table. */
export interface StreamTableInfo {
  /** The stream table's id (names its change buffer `changes_st_<pgtId>`). */
  readonly pgtId: number;
  /** Whether its `__pgt_row_id` values are unique (it then serves as the source's key). */
  readonly uniqueRowIds: boolean;
}

/** The port dvm compiles through. */
export interface CatalogPort {
  /**
   * Resolves a relation name (schema null: search_path semantics, the port's business).
   * Returns null when no such relation exists.
   */
  resolveRelation(name: QualifiedName): Promise<RelationInfo | null>;
  /**
   * Output columns of a SELECT (names and types), e.g. from a temporary view or a prepared
   * statement. It must not run the query. Errors are reported by throwing.
   */
  describeQuery(sql: string): Promise<readonly QueryColumn[]>;
  /**
   * What a function name stands for, over all overloads visible under that name (schema null:
   * search_path semantics). Returns null when no function of that name exists.
   */
  functionInfo(name: QualifiedName): Promise<FunctionInfo | null>;
  /** Whether relation `oid` is a stream table (optional: without it no source is a stream table). */
  streamTableOf?(oid: number): Promise<StreamTableInfo | null>;
  /**
   * Of `types` (as `format_type` prints them), those PostgreSQL has no extended hash function
   * for (`hash_record_extended` would fail on a value of one: e.g. a composite, domain or range
   * over a type without a hash operator class). Optional: without it none is assumed missing.
   */
  unhashableTypes?(types: readonly string[]): Promise<ReadonlySet<string>>;
  /**
   * How each of `types` (as `format_type` prints them) is built: a domain's base type, an
   * array's element type, a range's or multirange's subtype, a composite's fields; `plain` for
   * anything else. Row ids use it where a type's hash drops what its equality keeps (a numeric
   * sign inside a domain, range or composite). Optional: without it such types hash as they are.
   */
  describeTypes?(types: readonly string[]): Promise<ReadonlyMap<string, TypeShape>>;
  /**
   * The server's `server_version_num` (e.g. 180004). Optional: without it the plan uses only
   * what every supported version runs (PostgreSQL 14).
   */
  serverVersionNum?(): Promise<number>;
}

/** How a type is built, as far as row ids need to know (see {@link CatalogPort.describeTypes}). */
export type TypeShape =
  | { readonly kind: 'domain'; readonly base: string }
  | { readonly kind: 'array'; readonly element: string }
  | { readonly kind: 'range'; readonly subtype: string }
  | {
      readonly kind: 'composite';
      readonly fields: readonly { readonly name: string; readonly type: string }[];
    }
  | { readonly kind: 'plain' };
