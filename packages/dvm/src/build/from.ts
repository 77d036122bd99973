/**
 * The FROM clause: base tables and stream tables become scans, CTE references and subqueries are
 * built as nested queries (inlined: one copy per reference), joins become join nodes, and the
 * scope of names the clause makes visible is assembled (aliases, column renames, USING/NATURAL
 * merged columns, what `*` expands to). A comma list is a left-deep chain of cross joins; WHERE
 * conjuncts are later pushed into those joins (`placePredicates`).
 */
import type { Alias, JoinExpr, Node, RangeSubselect, RangeVar, SelectStmt } from '@pgsql/types';
import {
  InvalidQueryError,
  UnknownColumnError,
  UnknownRelationError,
  UnsupportedQueryError,
} from '../errors.js';
import { makeExpr, refNode } from '../ir/expr.js';
import type { Expr, IrNode } from '../ir/types.js';
import { makeJoin } from '../operators/join.js';
import { makeProject } from '../operators/project.js';
import { makeScan } from '../operators/scan.js';
import { asNode, locationOf, nameList } from '../parse/ast.js';
import type { QueryCtx } from './context.js';
import { andAll, resolveExpr, someInAst } from './expr.js';
import { buildLateral, isLateralItem } from './lateral.js';
import { buildOuterJoin } from './outer-join.js';
import { buildQuery } from './query.js';
import { buildRecursiveCteReference } from './recursive.js';
import { concatScopes, type FromScope, itemScope, Scope, type ScopeColumn, type ScopeItem } from './scope.js';

/** A built part of a FROM clause: its operator tree and the names it makes visible. */
export interface FromPart {
  readonly node: IrNode;
  readonly scope: FromScope;
}

/** Builds a FROM list; null for a SELECT without FROM. */
export function buildFromClause(items: readonly Node[], q: QueryCtx): FromPart | null {
  let acc: FromPart | null = null;
  for (const item of items) {
    if (acc !== null && isLateralItem(item)) {
      acc = buildLateral(item, acc, 'INNER', undefined, q);
      continue;
    }
    const part = buildFromItem(item, q);
    acc = acc === null ? part : crossJoin(acc, part, q);
  }
  if (acc !== null) checkAliases(acc.scope);
  return acc;
}

function crossJoin(left: FromPart, right: FromPart, q: QueryCtx): FromPart {
  return {
    node: makeJoin(q.env.ids, left.node, right.node, null),
    scope: concatScopes(left.scope, right.scope),
  };
}

function checkAliases(scope: FromScope): void {
  const seen = new Set<string>();
  for (const item of scope.items) {
    if (seen.has(item.alias)) {
      throw new InvalidQueryError(
        `Table name "${item.alias}" is specified more than once in one FROM clause; give each its own alias`,
      );
    }
    seen.add(item.alias);
  }
}

/** Builds one FROM item (a relation, a subquery, a join, a function). */
export function buildFromItem(item: Node, q: QueryCtx): FromPart {
  const rv = asNode(item, 'RangeVar');
  if (rv !== undefined) return buildRangeVar(rv, q);
  const sub = asNode(item, 'RangeSubselect');
  if (sub !== undefined) return buildSubselect(sub, q);
  const join = asNode(item, 'JoinExpr');
  if (join !== undefined) return buildJoin(join, q);
  const fn = asNode(item, 'RangeFunction');
  if (fn !== undefined) return buildLateral(item, null, 'INNER', undefined, q);
  if (asNode(item, 'RangeTableSample') !== undefined) {
    throw new UnsupportedQueryError(
      'TABLESAMPLE',
      'A sample is random; a stream table must be a deterministic function of its sources.',
      {
        position: q.env.at(locationOf(item)),
      },
    );
  }
  if (asNode(item, 'JsonTable') !== undefined || asNode(item, 'RangeTableFunc') !== undefined) {
    q.env.requireFullFor(
      asNode(item, 'JsonTable') !== undefined ? 'JSON_TABLE' : 'XMLTABLE',
      locationOf(item),
      'It has no incremental rule yet (a set-returning function such as jsonb_array_elements does).',
    );
  }
  throw new UnsupportedQueryError(
    `${Object.keys(item)[0]} in FROM`,
    'Use tables, subqueries, joins or set-returning functions in FROM.',
    {
      position: q.env.at(locationOf(item)),
    },
  );
}

/** Column names of `alias(colnames)` applied over `names`: the first ones renamed. */
export function renameColumns(
  names: readonly string[],
  alias: Alias | undefined,
  q: QueryCtx,
  location?: number,
): string[] {
  const renames = nameList(alias?.colnames) ?? [];
  if (renames.length > names.length) {
    throw new InvalidQueryError(
      `"${alias?.aliasname}" has ${names.length} columns available but ${renames.length} column names were given`,
      { position: q.env.at(location) },
    );
  }
  return names.map((n, i) => renames[i] ?? n);
}

function buildRangeVar(rv: RangeVar, q: QueryCtx): FromPart {
  const name = rv.relname as string;
  const alias = rv.alias?.aliasname ?? name;
  const cte = rv.schemaname === undefined ? q.ctes?.lookup(name) : undefined;
  if (cte !== undefined) {
    const built =
      cte.recursive && refersTo(cte.query, name)
        ? buildRecursiveCteReference(cte, q)
        : buildQuery(cte.query, { env: q.env, ctes: cte.ctes, outer: cte.outer, top: false });
    const names = renameColumns(
      renameColumns(
        built.outputs.map((c) => c.name),
        cte.columnNames === undefined
          ? undefined
          : { aliasname: name, colnames: cte.columnNames.map((s) => ({ String: { sval: s } })) },
        q,
      ),
      rv.alias,
      q,
      rv.location,
    );
    return subqueryPart(built.node, built.outputs, names, alias, null);
  }
  const qname = { schema: rv.schemaname ?? null, name };
  const info = q.env.relationInfo(qname);
  if (info === null || info === undefined) {
    throw new UnknownRelationError(
      rv.schemaname === undefined ? `"${name}"` : `"${rv.schemaname}"."${name}"`,
      {
        position: q.env.at(rv.location),
      },
    );
  }
  if (rv.inh === false) {
    q.env.requireFullFor(
      'FROM ONLY',
      rv.location,
      'Changes are captured for a table and all its partitions or children.',
    );
  }
  if (info.kind === 'view') {
    q.env.noteView(info);
    const definition = q.env.viewDefinition(info.oid);
    if (definition !== undefined) {
      // Inlined: the view read as a subquery of its definition (its tables are then captured).
      if (q.env.isInlining(info.oid)) {
        throw new UnsupportedQueryError(`the view ${info.schema}.${info.name}, which refers to itself`, '', {
          position: q.env.at(rv.location),
        });
      }
      const built = q.env.inlined(info.oid, () =>
        buildQuery(definition, { env: q.env, ctes: null, outer: null, top: false }),
      );
      const names = renameColumns(
        built.outputs.map((c) => c.name),
        rv.alias,
        q,
        rv.location,
      );
      return subqueryPart(built.node, built.outputs, names, alias, info.schema);
    }
    q.env.requireFullFor(
      `the view ${info.schema}.${info.name} as a source`,
      rv.location,
      `It cannot be read inline: ${info.view?.notInlinable ?? 'its definition is not available'}.`,
    );
  }
  if (info.kind !== 'table' && info.kind !== 'partitioned') {
    q.env.requireFullFor(
      `the ${
        info.kind === 'matview'
          ? 'materialized view'
          : info.kind === 'foreign'
            ? 'foreign ' + 'table'
            : 'relation'
      } ${info.schema}.${info.name} as a source`,
      rv.location,
      info.kind === 'matview' || info.kind === 'foreign'
        ? `Only tables (and stream tables) have their changes captured; a FULL refresh reads the ${
            info.kind === 'matview'
              ? 'materialized view as of its last REFRESH MATERIALIZED VIEW'
              : 'foreign table'
          }, on the stream table's schedule (a change to it does not wake the refresh).`
        : 'Only tables (and stream tables) can have their changes captured.',
    );
  }
  const source = q.env.source(info);
  const scan = makeScan(q.env.ids, source, alias);
  const names = renameColumns(
    scan.columns.map((c) => c.name),
    rv.alias,
    q,
    rv.location,
  );
  const columns: ScopeColumn[] = scan.columns.map((c, i) => ({ name: names[i] as string, id: c.id }));
  return { node: scan, scope: itemScope({ alias, schema: info.schema, columns }) };
}

/** Whether `stmt` mentions relation `name` anywhere (a recursive CTE referring to itself). */
function refersTo(stmt: SelectStmt, name: string): boolean {
  return someInAst(stmt, (v) => {
    const rv = (v as { RangeVar?: RangeVar }).RangeVar;
    return rv !== undefined && rv.schemaname === undefined && rv.relname === name;
  });
}

/** The FROM part of a built subquery under `alias` with column names `names`. */
export function subqueryPart(
  node: IrNode,
  outputs: readonly ScopeColumn[],
  names: readonly string[],
  alias: string,
  schema: string | null,
): FromPart {
  const columns: ScopeColumn[] = outputs.map((c, i) => ({ name: names[i] as string, id: c.id }));
  const item: ScopeItem = { alias, schema, columns };
  return { node, scope: itemScope(item) };
}

function buildSubselect(sub: RangeSubselect, q: QueryCtx): FromPart {
  const stmt = asNode(sub.subquery, 'SelectStmt');
  if (stmt === undefined) throw new UnsupportedQueryError('this subquery in FROM', 'Use a SELECT.', {});
  // A LATERAL subquery with nothing before it can only refer to enclosing query levels: a plain subquery.
  const built = buildQuery(stmt, { env: q.env, ctes: q.ctes, outer: q.outer, top: false });
  const alias = sub.alias?.aliasname ?? `unnamed_subquery`;
  const names = renameColumns(
    built.outputs.map((c) => c.name),
    sub.alias,
    q,
    locationOf(sub.subquery),
  );
  return subqueryPart(built.node, built.outputs, names, alias, null);
}

function buildJoin(join: JoinExpr, q: QueryCtx): FromPart {
  const larg = join.larg as Node;
  const rarg = join.rarg as Node;
  const left = buildFromItem(larg, q);
  const type = join.jointype ?? 'JOIN_INNER';
  const kind =
    type === 'JOIN_LEFT' ? 'LEFT' : type === 'JOIN_RIGHT' ? 'RIGHT' : type === 'JOIN_FULL' ? 'FULL' : 'INNER';
  if (type !== 'JOIN_INNER' && kind === 'INNER') {
    throw new UnsupportedQueryError(`join type ${type}`, 'Use INNER, LEFT, RIGHT or FULL joins.', {});
  }
  let part: FromPart;
  if (isLateralItem(rarg)) {
    if (join.usingClause !== undefined || join.isNatural === true) {
      throw new UnsupportedQueryError(
        'USING or NATURAL with a LATERAL item',
        'Write the join condition with ON.',
        {},
      );
    }
    if (kind !== 'INNER' && kind !== 'LEFT') {
      throw new InvalidQueryError(`A LATERAL item cannot be on the right of a ${kind} JOIN`);
    }
    part = buildLateral(rarg, left, kind, join.quals, q);
  } else {
    const right = buildFromItem(rarg, q);
    part = joinParts(join, kind, left, right, q);
  }
  if (join.alias !== undefined) {
    const alias = join.alias.aliasname as string;
    const names = renameColumns(
      part.scope.star.map((c) => c.name),
      join.alias,
      q,
    );
    const columns = part.scope.star.map((c, i) => ({ name: names[i] as string, id: c.id }));
    return { node: part.node, scope: itemScope({ alias, schema: null, columns }) };
  }
  if (join.join_using_alias !== undefined) {
    throw new UnsupportedQueryError(
      'a JOIN … USING (…) AS alias',
      'Drop the alias after USING and qualify with the table aliases.',
      {},
    );
  }
  return part;
}

function joinParts(
  join: JoinExpr,
  kind: 'INNER' | 'LEFT' | 'RIGHT' | 'FULL',
  left: FromPart,
  right: FromPart,
  q: QueryCtx,
): FromPart {
  const both = concatScopes(left.scope, right.scope);
  let condition: Expr | null = null;
  let scope = both;
  let merged: { name: string; left: string; right: string }[] = [];
  if (join.isNatural === true || join.usingClause !== undefined) {
    const names =
      join.isNatural === true ? naturalColumns(left.scope, right.scope) : (nameList(join.usingClause) ?? []);
    merged = names.map((name) => ({
      name,
      left: usingSide(left.scope, name, 'left', q),
      right: usingSide(right.scope, name, 'right', q),
    }));
    condition = andAll(
      merged.map((m) =>
        makeExpr({
          A_Expr: {
            kind: 'AEXPR_OP',
            name: [{ String: { sval: '=' } }],
            lexpr: refNode(m.left),
            rexpr: refNode(m.right),
          },
        }),
      ),
    );
  } else if (join.quals !== undefined) {
    const s = new Scope(both, q.outer, q.env);
    condition = resolveExpr(join.quals, s, q.env, { clause: 'a JOIN condition' });
  }
  let node: IrNode =
    kind === 'INNER'
      ? makeJoin(q.env.ids, left.node, right.node, condition)
      : buildOuterJoin(kind, left.node, right.node, condition, q.env, undefined);
  if (merged.length > 0) {
    let mergedCols: ScopeColumn[];
    if (kind === 'FULL') {
      // The merged column of a FULL join is COALESCE(left, right): a computed column.
      const items = node.columns.map((c) => ({ name: c.name, expr: makeExpr(refNode(c.id)), id: c.id }));
      mergedCols = merged.map((m) => ({ name: m.name, id: q.env.ids.column(`merged_${m.name}`) }));
      const extra = merged.map((m, i) => ({
        name: m.name,
        id: (mergedCols[i] as ScopeColumn).id,
        expr: makeExpr({ CoalesceExpr: { args: [refNode(m.left), refNode(m.right)] } }),
      }));
      node = makeProject(q.env.ids, node, [...items, ...extra]);
    } else {
      mergedCols = merged.map((m) => ({ name: m.name, id: kind === 'RIGHT' ? m.right : m.left }));
    }
    const covered = new Set([...both.covered, ...merged.flatMap((m) => [m.left, m.right])]);
    const mergedNames = new Set(merged.map((m) => m.name));
    scope = {
      items: both.items,
      merged: [...mergedCols, ...both.merged.filter((c) => !mergedNames.has(c.name))],
      covered,
      star: [...mergedCols, ...both.star.filter((c) => !covered.has(c.id))],
    };
  }
  return { node, scope };
}

function naturalColumns(left: FromScope, right: FromScope): string[] {
  const rightNames = new Set(right.star.map((c) => c.name));
  return left.star.map((c) => c.name).filter((n) => rightNames.has(n));
}

function usingSide(scope: FromScope, name: string, side: string, q: QueryCtx): string {
  const s = new Scope(scope, null, q.env);
  try {
    return s.resolve([name], undefined).id;
  } catch (error) {
    if (error instanceof UnknownColumnError) {
      throw new InvalidQueryError(
        `Column "${name}" named in the join's USING clause does not exist in its ${side} side`,
        {
          cause: error,
        },
      );
    }
    throw error;
  }
}
