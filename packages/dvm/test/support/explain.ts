/**
 * Test support for the cost test: an {@link SqlExecutor} that plans every statement a refresh
 * runs (`EXPLAIN (FORMAT JSON)` with the same parameters, in the same transaction, right before
 * running it), and a walk over the captured plans that finds reads of a whole relation.
 */
import type { SqlExecutor, SqlResult } from '@pgtrickle/dvm';

/** One plan node as `EXPLAIN (FORMAT JSON)` prints it (the fields used here). */
export interface PlanNode {
  readonly 'Node Type': string;
  readonly 'Relation Name'?: string;
  readonly Schema?: string;
  readonly Alias?: string;
  readonly 'Index Name'?: string;
  readonly 'Index Cond'?: string;
  readonly 'Recheck Cond'?: string;
  readonly Filter?: string;
  readonly 'Plan Rows': number;
  readonly Plans?: readonly PlanNode[];
}

/** A statement a refresh ran, with its plan (null: not plannable, e.g. DDL). */
export interface PlannedStatement {
  readonly sql: string;
  readonly plan: PlanNode | null;
}

/** Statements EXPLAIN accepts (and that read data): queries, DML, CREATE TABLE … AS <query>. */
function explainable(sql: string): boolean {
  const s = sql.trimStart().toUpperCase();
  if (/^(WITH|SELECT|INSERT|UPDATE|DELETE|MERGE)\b/.test(s)) return true;
  return /^CREATE TEMP TABLE\b[\s\S]*\bAS\b/.test(s) && !/WITH NO DATA\s*$/.test(s);
}

/** Wraps `exec`: every plannable statement is EXPLAINed (same parameters) before it runs. */
export function explainingExecutor(exec: SqlExecutor, out: PlannedStatement[]): SqlExecutor {
  return {
    async query(sql: string, params?: unknown[]): Promise<SqlResult> {
      if (explainable(sql)) {
        const res = await exec.query(`EXPLAIN (FORMAT JSON) ${sql}`, params);
        const json = res.rows[0]?.['QUERY PLAN'] as { Plan: PlanNode }[] | string;
        const parsed = typeof json === 'string' ? (JSON.parse(json) as { Plan: PlanNode }[]) : json;
        out.push({ sql, plan: parsed[0]?.Plan ?? null });
      } else out.push({ sql, plan: null });
      return exec.query(sql, params);
    },
  };
}

/** Every node of a plan tree (depth first). */
export function planNodes(node: PlanNode): PlanNode[] {
  return [node, ...(node.Plans ?? []).flatMap(planNodes)];
}

/** A read of a whole relation found in a plan. */
export interface FullRead {
  readonly statement: string;
  readonly node: string;
  readonly relation: string;
  readonly planRows: number;
  readonly detail: string;
}

/** Nodes that pass rows through one at a time (a Limit above them still stops the scan below early). */
const STREAMING = new Set(['Subquery Scan', 'Result', 'Append', 'Merge Append', 'Unique', 'Limit']);

/**
 * Nodes of `statements` that read all of relation `schema.name` (about `rows` rows): a Seq
 * Scan, an index scan without an index condition (a full index walk), or any scan expected to
 * return more than `fraction` of the table (a bitmap heap scan covering it, say). An index scan
 * that feeds a Limit through streaming nodes only reads as many rows as the Limit takes (a
 * top-N read in index order) and is not counted; a Seq Scan always is.
 */
export function fullReads(
  statements: readonly PlannedStatement[],
  schema: string,
  name: string,
  rows: number,
  fraction = 0.1,
): FullRead[] {
  const out: FullRead[] = [];
  const visit = (st: PlannedStatement, n: PlanNode, limited: boolean): void => {
    const type = n['Node Type'];
    const here = type === 'Limit' || (limited && STREAMING.has(type));
    for (const child of n.Plans ?? []) visit(st, child, here);
    if (n['Relation Name'] !== name || (n.Schema !== undefined && n.Schema !== schema)) return;
    const isIndex = type === 'Index Scan' || type === 'Index Only Scan';
    const whole =
      type === 'Seq Scan' ||
      type === 'Tid Range Scan' ||
      (!(isIndex && limited) &&
        ((isIndex && n['Index Cond'] === undefined) || n['Plan Rows'] > rows * fraction));
    if (whole) {
      out.push({
        statement: st.sql,
        node: type,
        relation: `${n.Schema ?? schema}.${name}${n.Alias !== undefined && n.Alias !== name ? ` AS ${n.Alias}` : ''}`,
        planRows: n['Plan Rows'],
        detail: n.Filter ?? n['Index Cond'] ?? n['Recheck Cond'] ?? '',
      });
    }
  };
  for (const st of statements) if (st.plan !== null) visit(st, st.plan, false);
  return out;
}

/** A plan as indented text lines (node type, relation, index, condition, rows) for messages. */
export function planText(node: PlanNode, depth = 0): string {
  const rel = node['Relation Name'] === undefined ? '' : ` on ${node['Relation Name']}`;
  const alias = node.Alias !== undefined && node.Alias !== node['Relation Name'] ? ` ${node.Alias}` : '';
  const idx = node['Index Name'] === undefined ? '' : ` using ${node['Index Name']}`;
  const cond = node['Index Cond'] ?? node.Filter;
  const line = `${'  '.repeat(depth)}${node['Node Type']}${rel}${alias}${idx}${cond === undefined ? '' : ` [${cond}]`} (rows=${node['Plan Rows']})`;
  return [line, ...(node.Plans ?? []).map((p) => planText(p, depth + 1))].join('\n');
}
