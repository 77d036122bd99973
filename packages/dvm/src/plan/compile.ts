/**
 * Compiling a defining query into the plan of one stream table: everything needed to create,
 * populate and maintain it, as SQL text. One plan per stream table and refresh mode:
 * - FULL plans evaluate the query as written (stream-table sources seen through their visible
 *   columns) and replace the contents on each refresh; row ids hash the whole row.
 * - DIFFERENTIAL / IMMEDIATE plans build the operator tree; population and FULL refresh use the
 *   tree's new-side snapshot, deltas its delta rules, so the three compute row ids the same way.
 * - AUTO tries DIFFERENTIAL and falls back to FULL (recording why) when the query has a construct
 *   without a delta rule.
 */

import type { Node, RangeVar } from '@pgsql/types';
import { BuildEnv, type CatalogFacts, loadCatalogFacts } from '../build/env.js';
import { SYSTEM_COLUMNS } from '../build/expr.js';
import { buildDefiningQuery } from '../build/index.js';
import type { CatalogPort, QueryColumn, TypeShape } from '../catalog/port.js';
import {
  type DeltaParam,
  type DeltaSource,
  DiffContext,
  deltaParams,
  type StorageBinding,
} from '../diff/context.js';
import { FULL_ROW_ID_SQL, type IdPart, printWithTypeShapes, recordIdPartTypes } from '../diff/rowid.js';
import {
  AmbiguousColumnError,
  DvmError,
  InternalError,
  InvalidQueryError,
  UnknownColumnError,
  UnknownRelationError,
  UnsupportedQueryError,
} from '../errors.js';
import { onlyChild } from '../ir/children.js';
import { makeExpr, refExpr, refNode, substitute } from '../ir/expr.js';
import { passedColumn } from '../ir/nullability.js';
import type { IrColumn, IrNode, SourceRef } from '../ir/types.js';
import { HIDDEN_PREFIX, ROW_ID_COLUMN, rowIdIndexName, shortHash, WEIGHT_COLUMN } from '../names.js';
import { trimRootAggregateState } from '../operators/aggregate-state.js';
import { rulesOf } from '../operators/index.js';
import type { ProjectNode } from '../operators/project.js';
import { baseWindowSql } from '../operators/scan.js';
import type { TopNNode } from '../operators/top-n.js';
import { cloneAst, mapAst } from '../parse/ast.js';
import { deparseNode } from '../parse/deparse.js';
import { initParser, type ParsedQuery, parseQuery } from '../parse/parser.js';
import { sql } from '../sql/sql.js';
import {
  type ApplyTarget,
  applyInOneStatement,
  consolidatedSelect,
  type KeyedChanges,
  keyedRefreshParts,
  refreshStatementParts,
} from './apply.js';
import { MERGE_IN_WITH_VERSION_NUM } from './apply-merge.js';
import { baseBuffer, streamBuffer } from './capture.js';
import { CONSUMED_SNAPSHOT_SQL, epochsSql, fullFrontierSelectSql } from './frontier.js';
import {
  inPlaceKeyColumns,
  inPlaceSameSql,
  inPlaceUpdateStatement,
  isLinearIn,
  linearApplyStatement,
  linearDeltaMaterialized,
} from './immediate-apply.js';

/** The refresh modes a stream table can be created with. */
export type RequestedMode = 'AUTO' | 'FULL' | 'DIFFERENTIAL' | 'IMMEDIATE';

/** The mode a plan actually maintains the table in. */
export type PlanMode = 'FULL' | 'DIFFERENTIAL' | 'IMMEDIATE';

/** A stream table's storage table name (schema resolved). */
export interface StreamTableName {
  readonly schema: string;
  readonly name: string;
}

/** Options of {@link compileStreamTable}. */
export interface CompileOptions {
  /** The storage table. */
  readonly name: StreamTableName;
  /** The requested refresh mode (default AUTO). */
  readonly refreshMode?: RequestedMode;
  /** Names the temp tables of this table's refreshes (default: a hash of the name). */
  readonly tag?: string;
}

/**
 * A source the plan reads: its identity as the operator tree's {@link SourceRef} has it (`key`:
 * the relation oid as text; `kind`: `table`, a trigger-captured buffer, or `streamTable`, the
 * epoch buffer of another stream table; `pgtId` for a stream table), and its columns.
 */
export interface PlanSource extends Pick<SourceRef, 'key' | 'oid' | 'schema' | 'name' | 'kind' | 'pgtId'> {
  /** All columns of a base table (captured), or the visible columns of a stream table. */
  readonly columns: readonly { readonly name: string; readonly type: string; readonly notNull: boolean }[];
}

/** A view a plan reads. */
export interface PlanView {
  readonly oid: number;
  readonly schema: string;
  readonly name: string;
}

/** The compiled plan of one stream table. */
export interface CompiledPlan {
  /** The defining query as given. */
  readonly query: string;
  readonly requestedMode: RequestedMode;
  readonly mode: PlanMode;
  /** Why AUTO fell back to FULL (the refusal's message), else null. */
  readonly fallbackReason: string | null;
  readonly storage: StreamTableName;
  /** The visible output columns, in order, with PostgreSQL's types. */
  readonly columns: readonly QueryColumn[];
  /** Hidden bookkeeping columns of the storage table (after the visible ones). */
  readonly hiddenColumns: readonly string[];
  /** Whether `__pgt_row_id` is unique. */
  readonly uniqueRowIds: boolean;
  readonly sources: readonly PlanSource[];
  /** The views the query reads (inlined or not): a change of one's definition means a rebuild. */
  readonly views: readonly PlanView[];
  /** Parameters of the differential delta statement. */
  readonly params: readonly DeltaParam[];
  readonly warnings: readonly string[];
  /** Names the temp tables of a refresh. */
  readonly tag: string;
  /** The operator tree (null for FULL plans). */
  readonly tree: IrNode | null;
  /** Statements creating the storage table and its indexes. */
  storageDdl(): string[];
  /** The SELECT of the full result with row ids, in storage column order (no frontier capture). */
  populationSelect(): string;
  /**
   * The SELECT of a FULL statement's frontier (`snapshot` text, `epochs` jsonb), taken by the
   * statement that inserts the full result (`full-statement.ts`), so under the same snapshot.
   */
  fullFrontierSelect(): string;
  /**
   * ONE statement of a DIFFERENTIAL refresh: the delta over the window since the previous
   * frontier (params as the delta statement's), consolidated, applied to the storage table and,
   * with `capturePgtId`, appended to that stream table's own buffer under the epoch bound as the
   * parameter after the delta's; its one result row is the new frontier (`snapshot` text,
   * `epochs` jsonb) and the rows inserted and deleted (`ins`, `del`). Null for FULL plans.
   */
  refreshSql(capturePgtId?: number | null): string | null;
  /**
   * Whether the root delta comes out consolidated and clean (per row id at most the stored row
   * as −1 and its new values as +1, only when they differ), so the refresh applies it as it is.
   */
  readonly consolidatedDelta: boolean;
  /** What the apply statements need. */
  applyTarget(): ApplyTarget;
  /**
   * Counts of pending changes per source in the window (params as the delta), TRUNCATE flags,
   * table sizes. `firstParam` (default 1): the number its parameters start from, to embed it
   * in a statement that has parameters of its own before them. With `capped`, three more
   * parameters follow the delta's — a count `c` (`bigint`, NULL for none), a ratio `r`
   * (`float8`) and a floor `f` (`bigint`) —, and each source's window is counted up to
   * `LEAST(c, GREATEST(ceil(GREATEST(reltuples, 1000) × r) + 1, f))` records only; a source whose
   * count reached it is flagged `capped` (its count is then a lower bound and its TRUNCATE flag
   * may miss one): {@link WindowInspection.capped}.
   */
  inspectSql(firstParam?: number, capped?: boolean): string;
  /**
   * IMMEDIATE: ONE statement applying the changes of one statement on source `source.source`
   * (its transition tables, named as given) to the storage table; every other source is read in
   * its current state. `large`: the copy run for statements of many rows (see
   * `IMMEDIATE_SMALL_ROWS`). Null for FULL plans.
   */
  immediateSql(source: TransitionTables, large?: boolean): string | null;
  /**
   * IMMEDIATE, an UPDATE on source `source.source` (both transition tables): the statement
   * applying its NEW rows in place when the UPDATE left the columns `keys` of every row unchanged
   * (see `inPlaceKeyColumns`), which the caller checks for a one-row UPDATE with `same` (a
   * boolean expression over its OLD row `o` and its NEW row `x`). Null when the delta is not
   * linear in that source (or for FULL plans).
   */
  immediateInPlace(
    source: TransitionTables,
  ): { readonly keys: readonly string[]; readonly same: string; readonly sql: string } | null;
  /**
   * ONE statement bringing the storage table to the query's current result by applying the
   * difference (rows that did not change are not touched). Null for FULL plans.
   */
  recomputeSql(): string | null;
  /**
   * Whether every output row derives from one row of one source alone (a scan under filters and
   * projections): maintaining it never reads other rows, so concurrent writers need no lock.
   */
  readonly rowLocal: boolean;
}

/** One statement's transition tables on one source (see {@link DeltaSource}). */
export type TransitionTables = Extract<DeltaSource, { kind: 'transitionTable' }>;

/** Builder errors that PostgreSQL may not agree with (then they are our limitation). */
const BUILDER_NAME_ERRORS = new Set(['PGT_INVALID_QUERY', 'PGT_UNKNOWN_COLUMN', 'PGT_AMBIGUOUS_COLUMN']);

/** Compiles the defining query `query` through `port`. */
export async function compileStreamTable(
  query: string,
  port: CatalogPort,
  options: CompileOptions,
): Promise<CompiledPlan> {
  await initParser();
  const parsed = parseQuery(query);
  const facts = await loadCatalogFacts(parsed.node, port);
  const requested = options.refreshMode ?? 'AUTO';
  const tag = options.tag ?? shortHash(`${options.name.schema}.${options.name.name}`);

  // The query as PostgreSQL will run it in FULL mode: stream-table sources through their visible columns.
  const fullEnv = new BuildEnv(facts, parsed.positions, 'FULL');
  checkRelationsExist(parsed.node, fullEnv);
  const fullText = visibleQueryText(parsed, fullEnv, facts);
  const mode: PlanMode = requested === 'IMMEDIATE' ? 'IMMEDIATE' : 'DIFFERENTIAL';
  // Incremental modes build the tree first: its name errors point into the user's text.
  let built: ReturnType<typeof buildDefiningQuery> | null = null;
  let fallback: string | null = null;
  let builderError: DvmError | null = null;
  if (requested !== 'FULL') {
    try {
      built = buildDefiningQuery(parsed, facts, mode);
    } catch (error) {
      if (requested === 'AUTO' && error instanceof UnsupportedQueryError) fallback = error.message;
      else if (error instanceof DvmError && BUILDER_NAME_ERRORS.has(error.code)) builderError = error;
      else throw error;
    }
  }
  let columns: readonly QueryColumn[];
  try {
    columns = await describe(port, fullText);
  } catch (error) {
    throw builderError ?? error; // the builder's error points into the user's text
  }
  if (builderError !== null) {
    // PostgreSQL accepts the query but the incremental builder could not resolve it: a limit
    // of ours, not a mistake of the user's.
    const refusal = new UnsupportedQueryError(
      'a query the incremental compiler cannot resolve',
      `${builderError.message.replace(/\.$/, '')}; PostgreSQL accepts the query, so use refreshMode 'FULL' (or 'AUTO').`,
      { position: builderError.position, cause: builderError },
    );
    if (requested !== 'AUTO') throw refusal;
    fallback = refusal.message;
  }
  checkOutputNames(columns);
  const full = async (reason: string | null): Promise<CompiledPlan> => {
    return fullPlan(query, requested, reason, options.name, tag, columns, fullText, fullEnv);
  };
  if (built === null) return await full(fallback);
  if (mode === 'IMMEDIATE') {
    checkImmediateSources(built.sources);
    checkImmediateTopN(built.root);
  }
  try {
    await analyzeTree(built.root, port, deltaParams(built.sources));
    // The stored aggregate keeps only the state its delta rule reads (known after the analysis).
    const root = trimRootAggregateState(built.root);
    const version = (await port.serverVersionNum?.()) ?? 0;
    const plan = incrementalPlan(
      query,
      requested,
      mode,
      options.name,
      tag,
      columns,
      root,
      built.outputs,
      built.sources,
      built.views,
      built.warnings,
      version >= MERGE_IN_WITH_VERSION_NUM,
    );
    const printedParts = recordIdPartTypes(() => checkPrintable(plan));
    const shapes = await typeShapesOf(
      printedParts.flatMap((p) => (p.type === undefined ? [] : [p.type])),
      port,
    );
    const shaped = shapes.size === 0 ? plan : printingWithTypeShapes(plan, shapes);
    const idParts = shaped === plan ? printedParts : recordIdPartTypes(() => checkPrintable(shaped));
    await checkHashable(idParts, shaped, port);
    return shaped;
  } catch (error) {
    if (requested === 'AUTO' && error instanceof UnsupportedQueryError) return await full(error.message);
    throw error;
  }
}

/**
 * The shapes of `types` (the id parts' types hashed by their type's own function when printed
 * without shapes) and of the types they are built from, as far as they go: domains, arrays,
 * ranges and composites; plain types are left out.
 */
export async function typeShapesOf(
  types: readonly string[],
  port: CatalogPort,
): Promise<Map<string, TypeShape>> {
  const found = new Map<string, TypeShape>();
  if (port.describeTypes === undefined) return found;
  let pending = new Set(types);
  while (pending.size > 0) {
    const described = await port.describeTypes([...pending]);
    const next = new Set<string>();
    for (const [name, shape] of described) {
      found.set(name, shape);
      for (const child of typeShapeChildren(shape))
        if (!found.has(child) && !pending.has(child)) next.add(child);
    }
    for (const name of pending) if (!found.has(name)) found.set(name, { kind: 'plain' });
    pending = next;
  }
  return new Map([...found].filter(([, shape]) => shape.kind !== 'plain'));
}

/** The types a shape is built from. */
function typeShapeChildren(shape: TypeShape): string[] {
  switch (shape.kind) {
    case 'domain':
      return [shape.base];
    case 'array':
      return [shape.element];
    case 'range':
      return [shape.subtype];
    case 'composite':
      return shape.fields.map((f) => f.type);
    case 'plain':
      return [];
  }
}

/** `plan` whose every printing method runs with `shapes` in effect (see `printWithTypeShapes`). */
function printingWithTypeShapes(plan: CompiledPlan, shapes: ReadonlyMap<string, TypeShape>): CompiledPlan {
  const within =
    <A extends unknown[], R>(f: (...args: A) => R) =>
    (...args: A): R =>
      printWithTypeShapes(shapes, () => f(...args));
  return {
    ...plan,
    storageDdl: within(plan.storageDdl),
    populationSelect: within(plan.populationSelect),
    fullFrontierSelect: within(plan.fullFrontierSelect),
    refreshSql: within(plan.refreshSql),
    applyTarget: within(plan.applyTarget),
    inspectSql: within(plan.inspectSql),
    immediateSql: within(plan.immediateSql),
    immediateInPlace: within(plan.immediateInPlace),
    recomputeSql: within(plan.recomputeSql),
  };
}

/**
 * Refuses an incremental plan whose row ids hash a value of a type without an extended hash
 * function (a composite, domain or range over such a type: PostgreSQL would fail at the first
 * refresh that hashes one), naming the column and its type (`PGT_UNSUPPORTED`; AUTO falls back
 * to FULL, whose row ids take the value's binary form instead).
 */
async function checkHashable(parts: readonly IdPart[], plan: CompiledPlan, port: CatalogPort): Promise<void> {
  const typed = parts.filter((p): p is IdPart & { type: string } => p.type !== undefined);
  if (typed.length === 0 || port.unhashableTypes === undefined) return;
  const missing = await port.unhashableTypes(typed.map((p) => p.type));
  const first = typed.find((p) => missing.has(p.type));
  if (first === undefined) return;
  const column = columnNameOf(first, plan);
  throw new UnsupportedQueryError(
    `a row identity over ${column === null ? 'a value' : `the column ${column}`} of type ${first.type}, which has no hash function`,
    `The stream table identifies rows by hashing it, and PostgreSQL has no extended hash function for ${first.type} ` +
      "(a composite, domain, array or range over a type without a hash operator class). Leave the column out of keys, DISTINCT and GROUP BY, give the source a primary key of hashable columns, or use refreshMode 'FULL'.",
  );
}

/**
 * The user's name of the column an id part reads: its last quoted identifier (a column id or a
 * source column name) by the tree's names; for an internal column (a GROUP BY key), the one
 * output column of its type, if there is one.
 */
function columnNameOf(part: IdPart & { type: string }, plan: CompiledPlan): string | null {
  const quoted = [...part.expr.matchAll(/"((?:[^"]|"")*)"/g)].map((m) =>
    (m[1] as string).replaceAll('""', '"'),
  );
  const last = quoted.at(-1);
  const names = new Map<string, string>();
  const visit = (node: IrNode): void => {
    for (const c of node.columns) if (!names.has(c.id)) names.set(c.id, c.name);
    for (const child of node.children) visit(child);
  };
  if (plan.tree !== null) visit(plan.tree);
  const name = last === undefined ? undefined : (names.get(last) ?? last);
  if (name !== undefined && !name.startsWith(HIDDEN_PREFIX)) return name;
  const outputs = plan.columns.filter((c) => c.type === part.type);
  return outputs.length === 1 ? (outputs[0] as QueryColumn).name : null;
}

/**
 * Refuses IMMEDIATE over a source whose primary key is DEFERRABLE: between two statements of a
 * transaction it may hold two rows of one key, so row ids taken from it are not unique there.
 */
function checkImmediateSources(sources: readonly SourceRef[]): void {
  const deferrable = sources.find((s) => s.deferrableKey === true);
  if (deferrable !== undefined) {
    throw new UnsupportedQueryError(
      `refreshMode IMMEDIATE over ${deferrable.schema}.${deferrable.name}, whose primary key is DEFERRABLE`,
      "between two statements of a transaction the table may hold two rows of one key; use 'DIFFERENTIAL' (or make the key NOT DEFERRABLE).",
    );
  }
}

/** The largest LIMIT (plus OFFSET) a TopK stream table may have in IMMEDIATE. */
export const IMMEDIATE_TOPK_MAX_LIMIT = 1000;

/** The integer value of a constant LIMIT / OFFSET expression, or null when it is not a plain integer literal. */
function integerConstant(expr: { readonly ast: Node } | null): number | null {
  const c = (expr?.ast as { A_Const?: { ival?: { ival?: number } } } | undefined)?.A_Const;
  if (c?.ival === undefined) return null;
  return c.ival.ival ?? 0;
}

/**
 * Refuses a TopK (ORDER BY … LIMIT) in IMMEDIATE unless its LIMIT plus OFFSET is an integer of at
 * most {@link IMMEDIATE_TOPK_MAX_LIMIT}: every statement that touches it re-ranks its rows
 * inside the writer's transaction, which must stay bounded.
 */
function checkImmediateTopN(root: IrNode): void {
  const visit = (node: IrNode): void => {
    if (node.kind === 'topN') {
      const t = node as TopNNode;
      const limit = integerConstant(t.limit);
      const offset = t.offset === null ? 0 : integerConstant(t.offset);
      if (limit === null || offset === null || limit + offset > IMMEDIATE_TOPK_MAX_LIMIT) {
        throw new UnsupportedQueryError(
          'a TopK (ORDER BY … LIMIT) whose LIMIT + OFFSET is not an integer of at most 1000 in IMMEDIATE',
          `each write re-ranks the top rows inside the writer's transaction, so IMMEDIATE keeps TopK to at most ${IMMEDIATE_TOPK_MAX_LIMIT} rows; lower the LIMIT or use 'DIFFERENTIAL'.`,
        );
      }
    }
    for (const child of node.children) visit(child);
  };
  visit(root);
}

/**
 * Prints every statement a refresh of an incremental plan may run once, so an expression the SQL
 * printer cannot reproduce is refused now (`PGT_UNSUPPORTED`; AUTO falls back to FULL), not at a
 * refresh: the storage, the population and the FULL statement's frontier, and the DIFFERENTIAL statement both without consumers
 * (where a root operator may apply its changes keyed by id) and with them (the delta netted,
 * applied and captured; the stream-table id only names the buffer in the printed text).
 */
function checkPrintable(plan: CompiledPlan): CompiledPlan {
  plan.storageDdl();
  plan.populationSelect();
  plan.fullFrontierSelect();
  plan.refreshSql(null);
  plan.refreshSql(0);
  return plan;
}

/** Runs every operator's compile-time analysis (children first). */
async function analyzeTree(root: IrNode, port: CatalogPort, params: readonly DeltaParam[]): Promise<void> {
  const seen = new Set<number>();
  const visit = async (node: IrNode): Promise<void> => {
    if (seen.has(node.nid)) return;
    seen.add(node.nid);
    for (const child of node.children) await visit(child);
    const rules = rulesOf(node);
    if (rules.analyze === undefined) return;
    await rules.analyze(node, {
      describe: (sql) => describe(port, sql),
      snapshotSql(n: IrNode): string {
        const ctx = new DiffContext({ kind: 'changeBuffer' }, params, null);
        return ctx.stmt.build(ctx.snapshot(n, 'new'));
      },
    });
  };
  await visit(root);
}

async function describe(port: CatalogPort, sql: string): Promise<readonly QueryColumn[]> {
  try {
    return await port.describeQuery(sql);
  } catch (error) {
    if (error instanceof DvmError) throw error;
    const msg = error instanceof Error ? error.message : String(error);
    const code = (error as { code?: unknown }).code;
    // Name the usual mistakes with their own codes (PostgreSQL's message says which name).
    const systemColumn =
      code === '42703' ? /^column (?:\w+\.)?"?(\w+)"? does not exist$/.exec(msg)?.[1] : undefined;
    if (systemColumn !== undefined && SYSTEM_COLUMNS.has(systemColumn))
      // A stream-table source is read through a subquery of its visible columns: no system columns.
      throw new UnsupportedQueryError(
        `the system column ${systemColumn} of a stream table`,
        'A stream table is read through its visible columns only; select a column of its own instead.',
        { cause: error },
      );
    if (code === '42703')
      throw new UnknownColumnError(msg.replace(/^column /, '').replace(/ does not exist$/, ''), {
        cause: error,
      });
    if (code === '42P01')
      throw new UnknownRelationError(msg.replace(/^relation /, '').replace(/ does not exist$/, ''), {
        cause: error,
      });
    if (code === '42702')
      throw new AmbiguousColumnError(
        msg.replace(/^column reference /, '').replace(/ is ambiguous$/, ''),
        [],
        { cause: error },
      );
    // A port that describes through a view reports duplicate output names itself.
    const duplicate = code === '42701' ? /^column "(.*)" specified more than once$/.exec(msg) : null;
    if (duplicate !== null) throw duplicateColumnError(duplicate[1] as string, error);
    throw new InvalidQueryError(`PostgreSQL rejects the defining query: ${msg}. Fix the query`, {
      cause: error,
    });
  }
}

/** Two output columns share `name`. */
function duplicateColumnError(name: string, cause?: unknown): InvalidQueryError {
  return new InvalidQueryError(
    `Two output columns are named "${name}"; give them distinct aliases (a table cannot have duplicate column names)`,
    cause === undefined ? {} : { cause },
  );
}

/** Refuses a relation name that does not exist (CTE names aside), with its position. */
function checkRelationsExist(root: Node, env: BuildEnv): void {
  const cteNames = new Set<string>();
  mapAst(root, (node) => {
    const cte = (node as { CommonTableExpr?: { ctename?: string } }).CommonTableExpr;
    if (cte?.ctename !== undefined) cteNames.add(cte.ctename);
    return undefined;
  });
  mapAst(root, (node) => {
    const rv = (node as { RangeVar?: RangeVar }).RangeVar;
    if (rv?.relname === undefined) return undefined;
    if (rv.schemaname === undefined && cteNames.has(rv.relname)) return undefined;
    if (env.relationInfo({ schema: rv.schemaname ?? null, name: rv.relname }) === null) {
      const shown = rv.schemaname === undefined ? `"${rv.relname}"` : `"${rv.schemaname}"."${rv.relname}"`;
      throw new UnknownRelationError(shown, { position: env.at(rv.location) });
    }
    return undefined;
  });
}

function checkOutputNames(columns: readonly QueryColumn[]): void {
  const seen = new Set<string>();
  for (const c of columns) {
    if (c.name.startsWith(HIDDEN_PREFIX)) {
      throw new InvalidQueryError(
        `Output column "${c.name}" uses the reserved prefix ${HIDDEN_PREFIX}; rename it`,
      );
    }
    if (SYSTEM_COLUMNS.has(c.name)) {
      throw new UnsupportedQueryError(
        `an output column named ${c.name}`,
        `A table cannot have a column named like the system column ${c.name}; give it an alias (e.g. ${c.name} AS row_${c.name}).`,
      );
    }
    if (seen.has(c.name)) throw duplicateColumnError(c.name);
    seen.add(c.name);
  }
  if (columns.length === 0) throw new InvalidQueryError('The defining query has no output columns');
}

/**
 * The query a FULL plan runs: the user's own text when it reads no stream table (nothing is
 * re-printed, so nothing can be altered), else the query with every stream-table source replaced
 * by a subquery of its visible columns, printed from the tree (checked to round-trip). The text
 * ends with a line break, so a trailing `--` comment cannot swallow what a caller appends.
 */
function visibleQueryText(parsed: ParsedQuery, env: BuildEnv, facts: CatalogFacts): string {
  let rewrote = false;
  const rewritten = mapAst(parsed.node, (node) => {
    const rv = (node as { RangeVar?: RangeVar }).RangeVar;
    if (rv === undefined || rv.relname === undefined) return undefined;
    const info = env.relationInfo({ schema: rv.schemaname ?? null, name: rv.relname });
    if (info === null || info === undefined || facts.streamTables.get(info.oid) == null) return undefined;
    const cols = info.columns.filter((c) => !c.name.startsWith(HIDDEN_PREFIX)).map((c) => sql.id(c.name));
    const inner = sql`SELECT ${sql.join(cols)} FROM ${sql.id(info.schema, info.name)}`;
    const alias = rv.alias ?? { aliasname: rv.relname };
    rewrote = true;
    return { RangeSubselect: { subquery: parseSubselect(inner), alias } } as Node;
  }) as Node;
  return `${rewrote ? deparseNode(rewritten) : parsed.statement.trim()}\n`;
}

function parseSubselect(sql: string): Node {
  const parsed = parseQuery(sql);
  return parsed.node;
}

/** Sources of a FULL plan: every relation the text names (CTE names excluded), through inlinable views. */
function fullSources(root: Node, env: BuildEnv, out = new Map<string, SourceRef>()): SourceRef[] {
  const cteNames = new Set<string>();
  mapAst(root, (node) => {
    const cte = (node as { CommonTableExpr?: { ctename?: string } }).CommonTableExpr;
    if (cte?.ctename !== undefined) cteNames.add(cte.ctename);
    return undefined;
  });
  mapAst(root, (node) => {
    const rv = (node as { RangeVar?: RangeVar }).RangeVar;
    if (rv?.relname === undefined) return undefined;
    if (rv.schemaname === undefined && cteNames.has(rv.relname)) return undefined;
    const info = env.relationInfo({ schema: rv.schemaname ?? null, name: rv.relname });
    if (info === null || info === undefined) return undefined;
    if (info.kind === 'view' && !env.viewsRead.has(info.oid)) {
      env.noteView(info);
      const definition = env.viewDefinition(info.oid);
      if (definition !== undefined) fullSources({ SelectStmt: definition } as Node, env, out);
    }
    if (info.kind !== 'table' && info.kind !== 'partitioned') return undefined;
    const ref = env.source(info);
    out.set(ref.key, ref);
    return undefined;
  });
  return [...out.values()];
}

function planSource(s: SourceRef): PlanSource {
  return {
    key: s.key,
    oid: s.oid,
    schema: s.schema,
    name: s.name,
    kind: s.kind,
    pgtId: s.pgtId,
    columns: s.kind === 'streamTable' ? s.visible : s.captured,
  };
}

/** What the storage's row-id rules read of a plan. */
type StoragePlan = { storage: StreamTableName; uniqueRowIds: boolean; mode: PlanMode };

/**
 * The storage's row-id index (UNIQUE when the ids are), or null for a FULL plan, whose non-unique
 * ids no statement looks a row up by: an index there would only be rebuilt at every FULL refresh.
 */
export function rowIdIndexSql(plan: StoragePlan): string | null {
  if (plan.mode === 'FULL') return null;
  const rel = sql.id(plan.storage.schema, plan.storage.name);
  const index = sql.id(rowIdIndexName(plan.storage.name));
  return sql`CREATE ${plan.uniqueRowIds ? 'UNIQUE ' : ''}INDEX ${index} ON ${rel} (${sql.id(ROW_ID_COLUMN)})`;
}

/** The storage's row-id column made NOT NULL, and its row-id index ({@link rowIdIndexSql}). */
function storageColumnsSql(plan: StoragePlan): string[] {
  const rel = sql.id(plan.storage.schema, plan.storage.name);
  const notNull = sql`ALTER TABLE ${rel} ALTER COLUMN ${sql.id(ROW_ID_COLUMN)} SET NOT NULL`;
  const index = rowIdIndexSql(plan);
  return index === null ? [notNull] : [notNull, index];
}

function fullPlan(
  query: string,
  requested: RequestedMode,
  fallbackReason: string | null,
  name: StreamTableName,
  tag: string,
  columns: readonly QueryColumn[],
  fullText: string,
  env: BuildEnv,
): CompiledPlan {
  const parsed = parseQuery(fullText);
  const refs = fullSources(parsed.node, env);
  const params = deltaParams(refs);
  const rel = sql.id(name.schema, name.name).text;
  const visible = columns.map((c) => c.name);
  const typed = visible.map(
    (c, i) => sql`q.${sql.id(c)}::${(columns[i] as QueryColumn).type} AS ${sql.id(c)}`,
  );
  // A FULL plan's ids need only be the same for the same row (they are not unique, and nothing
  // reads them): one constant (`FULL_ROW_ID_SQL`).
  const select = sql`SELECT ${sql.raw(FULL_ROW_ID_SQL)} AS ${sql.id(ROW_ID_COLUMN)},
  ${sql.join(typed)}
FROM (${fullText}) AS q`;
  const plan: CompiledPlan = {
    query,
    requestedMode: requested,
    mode: 'FULL',
    fallbackReason,
    storage: name,
    columns,
    hiddenColumns: [],
    uniqueRowIds: false,
    sources: refs.map(planSource),
    views: [...env.viewsRead.values()],
    params,
    warnings: env.warnings,
    tag,
    tree: null,
    storageDdl: () => [sql`CREATE TABLE ${rel} AS ${select} WITH NO DATA`, ...storageColumnsSql(plan)],
    populationSelect: () => select,
    fullFrontierSelect: () => fullFrontierSelectSql(refs),
    refreshSql: () => null,
    consolidatedDelta: false,
    applyTarget: () => ({ relation: rel, columns: visible, visible, uniqueRowIds: false, tag }),
    inspectSql: (firstParam = 1, capped = false) =>
      inspect(refs, shiftedParams(params, firstParam), capped ? firstParam + params.length : null),
    immediateSql: () => null,
    immediateInPlace: () => null,
    recomputeSql: () => null,
    rowLocal: false,
  };
  return plan;
}

/** Finds the operator whose state the storage keeps: the top node below projections, if it declares state. */
function stateOperator(
  root: IrNode,
): { chain: ProjectNode[]; node: IrNode; state: readonly IrColumn[] } | null {
  const chain: ProjectNode[] = [];
  let node = root;
  while (node.kind === 'project') {
    chain.push(node);
    node = onlyChild(node);
  }
  const state = rulesOf(node).rootState?.(node) ?? null;
  if (state === null || state.length === 0) return null;
  return { chain, node, state };
}

/**
 * The state columns of an aggregate under the root's projections that an output column already
 * holds unchanged (a group key or a call result selected as it is), by state column id → output
 * id: they are stored once, under the output's name, not again as a hidden copy.
 */
function statePassedToOutputs(
  info: { chain: ProjectNode[]; node: IrNode; state: readonly IrColumn[] },
  outputIds: ReadonlySet<string>,
): Map<string, string> {
  const passed = new Map<string, string>();
  if (info.node.kind !== 'aggregate' || info.chain.length === 0) return passed;
  for (const s of info.state) {
    let id: string | null = s.id;
    for (const p of [...info.chain].reverse()) {
      const current: string = id;
      id = p.projections.find((x) => passedColumn(x.expr) === current)?.column.id ?? null;
      if (id === null) break;
    }
    if (id !== null && outputIds.has(id)) passed.set(s.id, id);
  }
  return passed;
}

/**
 * Rebuilds the projection chain above the state operator so it also passes the state columns
 * through (all but those an output already holds, `passed`).
 */
function passState(
  root: IrNode,
  info: { chain: ProjectNode[]; node: IrNode; state: readonly IrColumn[] },
  passed: ReadonlyMap<string, string> = new Map(),
): IrNode {
  let rebuilt: IrNode = info.node;
  for (const p of [...info.chain].reverse()) {
    const extra = info.state
      .filter((s) => !passed.has(s.id) && !p.projections.some((x) => x.column.id === s.id))
      .map((s) => ({ column: s, expr: makeExpr(refNode(s.id)) }));
    rebuilt = {
      ...p,
      children: [rebuilt],
      projections: [...p.projections, ...extra],
      columns: [...p.columns, ...extra.map((e) => e.column)],
    } as ProjectNode;
  }
  void root;
  return rebuilt;
}

function incrementalPlan(
  query: string,
  requested: RequestedMode,
  mode: PlanMode,
  name: StreamTableName,
  tag: string,
  columns: readonly QueryColumn[],
  builtRoot: IrNode,
  outputs: readonly { name: string; id: string }[],
  sourceRefs: readonly SourceRef[],
  views: readonly PlanView[],
  warnings: readonly string[],
  mergeInWith: boolean,
): CompiledPlan {
  if (outputs.length !== columns.length) {
    throw new InvalidQueryError(
      `Internal mismatch: the query has ${columns.length} output columns but ${outputs.length} were built; please report it with the query`,
    );
  }
  const state = stateOperator(builtRoot);
  const outputIds = new Set(outputs.map((o) => o.id));
  const passed = state === null ? new Map<string, string>() : statePassedToOutputs(state, outputIds);
  const root = state === null ? builtRoot : passState(builtRoot, state, passed);
  // Storage columns: visible outputs (PostgreSQL's names), then hidden ones (state, sort keys).
  const hidden = root.columns.filter((c) => !outputIds.has(c.id));
  for (const h of hidden) {
    if (!h.name.startsWith(HIDDEN_PREFIX)) {
      throw new InvalidQueryError(
        `Internal error: hidden column ${h.name} lacks the ${HIDDEN_PREFIX} prefix; please report it with the query`,
      );
    }
  }
  const visible = columns.map((c) => c.name);
  const storageCols: { id: string; name: string; type: string | null }[] = [
    ...outputs.map((o, i) => ({
      id: o.id,
      name: (columns[i] as QueryColumn).name,
      type: (columns[i] as QueryColumn).type,
    })),
    ...hidden.map((h) => ({ id: h.id, name: h.name, type: null })),
  ];
  const rel = sql.id(name.schema, name.name).text;
  const params = deltaParams(sourceRefs);
  const binding: StorageBinding | null =
    state === null
      ? null
      : {
          relation: rel,
          stateNid: state.node.nid,
          column(id: string): string {
            const stored = passed.get(id) ?? id;
            const col = storageCols.find((c) => c.id === stored);
            if (col === undefined)
              throw new InvalidQueryError(`Internal error: state column ${id} is not stored`);
            return col.name;
          },
        };
  const project = (alias: string) =>
    sql.join(
      storageCols.map(
        (c) => sql`${alias}.${sql.id(c.id)}${c.type === null ? '' : `::${c.type}`} AS ${sql.id(c.name)}`,
      ),
    );
  const snapshotSelect = (): { ctx: DiffContext; body: string } => {
    const ctx = new DiffContext({ kind: 'changeBuffer' }, params, null);
    const snap = ctx.snapshot(root, 'new');
    return { ctx, body: sql`SELECT r.${sql.id(ROW_ID_COLUMN)}, ${project('r')}\nFROM (${snap}) AS r` };
  };
  const allCols = storageCols.map((c) => c.name);
  const plan: CompiledPlan = {
    query,
    requestedMode: requested,
    mode,
    fallbackReason: null,
    storage: name,
    columns,
    hiddenColumns: hidden.map((h) => h.name),
    uniqueRowIds: root.uniqueIds,
    sources: sourceRefs.map(planSource),
    views,
    params,
    warnings,
    tag,
    tree: root,
    storageDdl() {
      const { ctx, body } = snapshotSelect();
      return [sql`CREATE TABLE ${rel} AS ${ctx.stmt.build(body)} WITH NO DATA`, ...storageColumnsSql(plan)];
    },
    populationSelect() {
      const { ctx, body } = snapshotSelect();
      return ctx.stmt.build(body);
    },
    fullFrontierSelect() {
      // IMMEDIATE reads no buffer: its frontier records a snapshot only.
      return fullFrontierSelectSql(mode === 'IMMEDIATE' ? [] : sourceRefs);
    },
    refreshSql(capturePgtId: number | null = null) {
      const ctx = new DiffContext({ kind: 'changeBuffer' }, params, binding);
      // Without consumers (nothing to capture), a root operator that gives its changes one row
      // per id is applied from them directly.
      const keyed = capturePgtId === null && root.uniqueIds ? keyedRootChanges(root, ctx, storageCols) : null;
      if (keyed !== null) {
        ctx.stmt.addNamed('__pgt_params', paramsDeclaration(params));
        const { ctes, body } = keyedRefreshParts(plan.applyTarget(), keyed, {
          snapshot: sql`(${CONSUMED_SNAPSHOT_SQL})::text`,
          epochs: epochsSql(sourceRefs, params),
        });
        for (const c of ctes) ctx.stmt.addNamed(c.name, c.sql);
        return ctx.stmt.build(body);
      }
      const d = ctx.delta(root);
      ctx.stmt.addNamed('__pgt_params', paramsDeclaration(params));
      const cols = sql.join(storageCols.map((c) => sql`d.${sql.id(c.id)} AS ${sql.id(c.name)}`));
      const delta = ctx.stmt.addNamed(
        '__pgt_delta',
        sql`SELECT d.${sql.id(ROW_ID_COLUMN)}, d.${WEIGHT_COLUMN}, ${cols}\nFROM ${d} AS d`,
      );
      const { ctes, body } = refreshStatementParts(plan.applyTarget(), delta, {
        consolidated: plan.consolidatedDelta,
        merge: mergeInWith,
        capture:
          capturePgtId === null ? null : { pgtId: capturePgtId, epoch: sql`$${params.length + 1}::bigint` },
        snapshot: sql`(${CONSUMED_SNAPSHOT_SQL})::text`,
        epochs: epochsSql(sourceRefs, params),
      });
      for (const c of ctes) ctx.stmt.addNamed(c.name, c.sql, c.materialized);
      return ctx.stmt.build(body);
    },
    // The root aggregate's delta (algebraic or by rescan) is one −1 stored row and one +1 new row
    // per changed group, already compared; projections above it keep every state column, so two
    // different images stay different.
    consolidatedDelta: root.uniqueIds && state !== null && state.node.kind === 'aggregate',
    applyTarget: () => ({ relation: rel, columns: allCols, visible, uniqueRowIds: root.uniqueIds, tag }),
    inspectSql: (firstParam = 1, capped = false) =>
      inspect(sourceRefs, shiftedParams(params, firstParam), capped ? firstParam + params.length : null),
    immediateSql(source: TransitionTables, large = false) {
      const ctx = new DiffContext(source, [], binding);
      const d = ctx.delta(root);
      const cols = sql.join(storageCols.map((c) => sql`d.${sql.id(c.id)} AS ${sql.id(c.name)}`));
      const linear = isLinearIn(root, source.source);
      const event = { old: source.oldTable !== null, new: source.newTable !== null };
      const delta = ctx.stmt.addNamed(
        '__pgt_delta',
        sql`SELECT d.${sql.id(ROW_ID_COLUMN)}, d.${WEIGHT_COLUMN}, ${cols}\nFROM ${d} AS d`,
        linear ? linearDeltaMaterialized(event, large) : undefined,
      );
      if (linear) return linearApplyStatement(ctx, plan.applyTarget(), delta, event);
      return applyStatement(ctx, plan.applyTarget(), delta);
    },
    immediateInPlace(source: TransitionTables) {
      if (source.oldTable === null || source.newTable === null || source.rowVariables === true) return null;
      const ref = sourceRefs.find((s) => s.key === source.source);
      const keys = ref === undefined ? null : inPlaceKeyColumns(root, ref);
      if (keys === null) return null;
      const ctx = new DiffContext({ ...source, oldTable: null }, [], binding);
      const d = ctx.delta(root);
      const cols = sql.join(storageCols.map((c) => sql`d.${sql.id(c.id)} AS ${sql.id(c.name)}`));
      const delta = ctx.stmt.addNamed(
        '__pgt_delta',
        sql`SELECT d.${sql.id(ROW_ID_COLUMN)}, d.${WEIGHT_COLUMN}, ${cols}\nFROM ${d} AS d`,
      );
      // The storage columns' types: those of IMAGE_EQUALITY types are compared by equality.
      const types = new Map(storageCols.map((c) => [c.name, c.type]));
      const apply = inPlaceUpdateStatement(ctx, plan.applyTarget(), delta, types);
      if (apply === null || ref === undefined) return null;
      return { keys, same: inPlaceSameSql(ref, keys), sql: apply };
    },
    recomputeSql() {
      const { ctx, body } = snapshotSelect();
      const target = plan.applyTarget();
      const both = ctx.stmt.addNamed(
        '__pgt_delta',
        sql`SELECT n.${sql.id(ROW_ID_COLUMN)}, 1::bigint AS ${WEIGHT_COLUMN}, ${sql.join(allCols.map((c) => sql`n.${sql.id(c)}`))}
FROM (${body}) AS n
UNION ALL
SELECT s.${sql.id(ROW_ID_COLUMN)}, -1::bigint, ${sql.join(allCols.map((c) => sql`s.${sql.id(c)}`))}
FROM ${rel} AS s`,
      );
      return applyStatement(ctx, target, both);
    },
    rowLocal: isRowLocal(root, sourceRefs),
  };
  return plan;
}

/**
 * The changes of the operator under the root's projections as {@link KeyedChanges}, when its rules
 * give them one row per id (null otherwise): each storage column's new value is its projection
 * expression, through every projection down to that operator's new values.
 */
function keyedRootChanges(
  root: IrNode,
  ctx: DiffContext,
  storageCols: readonly { readonly id: string }[],
): KeyedChanges | null {
  const chain: ProjectNode[] = [];
  let node = root;
  while (node.kind === 'project') {
    chain.push(node);
    node = onlyChild(node);
  }
  const keyed = rulesOf(node).keyedRootDelta?.(node, ctx) ?? null;
  if (keyed === null) return null;
  const value = (id: string): string => {
    let expr = refExpr(id);
    for (const p of chain) {
      const byId = new Map(p.projections.map((x) => [x.column.id, x.expr.ast]));
      expr = substitute(expr, (ref) => {
        const ast = byId.get(ref);
        if (ast === undefined)
          throw new InternalError(`a projection above the root operator lacks column ${ref}`);
        return cloneAst(ast);
      });
    }
    return ctx.render(
      substitute(expr, (ref) => refNode(keyed.column(ref))),
      'f',
    );
  };
  return {
    relation: keyed.relation,
    deletes: sql`${keyed.had} AND NOT ${keyed.keep}`,
    updates: sql`${keyed.had} AND ${keyed.keep} AND ${keyed.changed}`,
    inserts: sql`${keyed.keep} AND NOT ${keyed.had}`,
    values: storageCols.map((c) => value(c.id)),
    ...(keyed.storedCtid === undefined ? {} : { storedCtid: keyed.storedCtid }),
  };
}

/** The consolidated `delta` CTE applied to the storage in the statement `ctx` builds. */
function applyStatement(ctx: DiffContext, target: ApplyTarget, delta: string): string {
  const consolidated = ctx.stmt.addNamed('__pgt_consolidated', consolidatedSelect(target, delta));
  const { ctes, body } = applyInOneStatement(target, consolidated);
  for (const c of ctes) ctx.stmt.addNamed(c.name, c.sql);
  return ctx.stmt.build(body);
}

/** A scan of one source under filters and projections only (see {@link CompiledPlan.rowLocal}). */
function isRowLocal(root: IrNode, sources: readonly SourceRef[]): boolean {
  if (sources.length !== 1) return false;
  let node = root;
  while (node.kind === 'project' || node.kind === 'filter') node = onlyChild(node);
  return node.kind === 'scan';
}

/** Per source: changes pending in the window, whether a TRUNCATE is among them, and the table's size estimate. */
/**
 * The window inspection of `sources` (see `CompiledPlan.inspectSql`); with `capIndex`, each
 * source's records are counted up to the value of that parameter only (`capped` when reached).
 */
function inspect(
  sources: readonly SourceRef[],
  params: readonly DeltaParam[],
  capIndex: number | null,
): string {
  const cappedColumn = capIndex === null ? sql`` : sql`, false AS capped`;
  if (sources.length === 0) {
    return sql`WITH __pgt_params AS (${paramsDeclaration(params)})
SELECT NULL::text AS source, 0::bigint AS changes, false AS truncated, 0::float8 AS reltuples${cappedColumn} WHERE false`;
  }
  const ctx = new DiffContext({ kind: 'changeBuffer' }, params, null);
  const parts = sources.map((s) => {
    const p = ctx.param(s);
    const key = sql.lit(s.key);
    const size = sql`(SELECT c.reltuples::float8 FROM pg_catalog.pg_class AS c WHERE c.oid = ${s.oid})`;
    const cap =
      capIndex === null
        ? null
        : sql`(SELECT LEAST($${capIndex}::bigint, GREATEST(
    pg_catalog.ceil(GREATEST(${size}, 1000) * $${capIndex + 1}::float8)::bigint + 1, $${capIndex + 2}::bigint)))`;
    if (s.kind === 'streamTable') {
      const buf = streamBuffer(s.pgtId as number);
      if (cap === null) {
        return sql`SELECT ${key}::text AS source, (SELECT pg_catalog.count(*) FROM ${buf} AS b WHERE b.epoch >
  ${p})::bigint AS changes, false AS truncated, ${size} AS reltuples`;
      }
      return sql`SELECT ${key}::text AS source, n.n AS changes, false AS truncated, ${size} AS reltuples, n.n >= ${cap} AS capped
FROM (SELECT pg_catalog.count(*)::bigint AS n FROM (SELECT 1 FROM ${buf} AS b WHERE b.epoch > ${p} LIMIT ${cap}) AS b) AS n`;
    }
    const buf = baseBuffer(s.oid);
    const from =
      cap === null
        ? sql`${buf} AS b WHERE ${baseWindowSql(p)}`
        : sql`(SELECT b.action FROM ${buf} AS b WHERE ${baseWindowSql(p)} LIMIT ${cap}) AS b`;
    const capped = cap === null ? sql`` : sql`, pg_catalog.count(*) >= ${cap} AS capped`;
    return sql`SELECT ${key}::text AS source, pg_catalog.count(*) FILTER (WHERE b.action <> 'T')::bigint AS changes,
  COALESCE(pg_catalog.bool_or(b.action = 'T'), false) AS truncated, ${size} AS reltuples${capped}
FROM ${from}`;
  });
  return sql`WITH __pgt_params AS (${paramsDeclaration(params)})\n${sql.join(parts, '\nUNION ALL\n')}`;
}

/** `params` numbered from `first` on (the same order and meaning). */
function shiftedParams(params: readonly DeltaParam[], first: number): DeltaParam[] {
  return params.map((p) => ({ ...p, index: p.index + first - 1 }));
}

/** A SELECT naming every parameter with its type, so a statement that reads only some still types them all. */
function paramsDeclaration(params: readonly DeltaParam[]): string {
  const declared = params.map((p) => {
    const type = p.kind === 'prevSnapshot' ? 'pg_catalog.pg_snapshot' : 'bigint';
    return sql`$${p.index}::${type} AS p${p.index}`;
  });
  return sql`SELECT ${sql.join(declared)}`;
}
