/**
 * The SQL text of a recursive CTE, regenerated from the user's parse tree so that PostgreSQL
 * can evaluate it over any snapshot of its sources:
 * - a source relation becomes the placeholder `__pgt_src_<n>` (a CTE the operator defines over
 *   that source's old or new snapshot, with the source's column names) under the reference's
 *   alias (or the relation's name);
 * - a reference to another CTE (a sibling or one of an enclosing WITH) becomes the placeholder
 *   `__pgt_cte_<n>`, defined as that CTE's own rewritten text (a recursive one as a nested
 *   `WITH RECURSIVE … SELECT * FROM name`);
 * - the CTE's references to itself stay (and, for the semi-naive rule, a copy of the recursive
 *   term reads `__pgt_inc`, the working table of the incremental evaluation, instead);
 * - names defined by WITH clauses inside the body shadow everything above, as in SQL.
 */
import type { CommonTableExpr, Node, RangeVar, SelectStmt } from '@pgsql/types';
import { UnsupportedQueryError } from '../errors.js';
import type { RecursiveSource } from '../operators/recursive.js';
import type { ScanNode } from '../operators/scan.js';
import { deparseNode } from '../parse/deparse.js';
import { sql } from '../sql/sql.js';
import type { CteDef, CteEnv } from './context.js';
import type { BuildEnv } from './env.js';

/** The rewritten text of a recursive CTE. */
export interface RecursiveCteText {
  /** `name(cols) AS (…) [SEARCH …] [CYCLE …]` over the placeholders. */
  readonly cteSql: string;
  /** Definitions of the inlined CTEs it reads. */
  readonly inlined: readonly string[];
  /** The sources it reads, with their placeholders. */
  readonly sources: readonly RecursiveSource[];
  /** Its non-recursive term alone. */
  readonly baseTerm: string;
  /** Its recursive term alone, reading `__pgt_inc` (a working table) for the CTE. */
  readonly recursiveTerm: string;
}

/** Name of the working table of the semi-naive evaluation. */
export const WORKING_TABLE = '__pgt_inc';

interface Scope {
  /** The CTE whose self-references these are, and what to rename them to (null: keep). */
  readonly self: string | null;
  readonly selfAs: string | null;
  /** CTE definitions visible from outside the text being rewritten. */
  readonly ctes: CteEnv | null;
  /** Names defined by WITH clauses inside the text (they shadow `ctes` and relations). */
  readonly shadow: ReadonlySet<string>;
}

class Rewriter {
  readonly sources = new Map<string, RecursiveSource>();
  readonly inlinedNames = new Map<CteDef, string>();
  readonly inlined: string[] = [];
  private depth = 0;

  constructor(
    private readonly env: BuildEnv,
    private readonly scans: ReadonlyMap<string, ScanNode>,
  ) {}

  value(v: unknown, s: Scope): unknown {
    if (Array.isArray(v)) return v.map((x) => this.value(x, s));
    if (v === null || typeof v !== 'object') return v;
    const keys = Object.keys(v);
    const tag = keys[0];
    if (keys.length === 1 && tag !== undefined && /^[A-Z]/.test(tag)) {
      const body = (v as Record<string, unknown>)[tag];
      if (tag === 'RangeVar') return this.rangeVar(body as RangeVar, s);
      if (tag === 'SelectStmt') return { SelectStmt: this.select(body as SelectStmt, s) };
      return { [tag]: this.value(body, s) };
    }
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = this.value(x, s);
    return out;
  }

  /** A SELECT body: its WITH names shadow, for its CTEs (recursive: all; else the earlier) and its body. */
  select(stmt: SelectStmt, s: Scope): SelectStmt {
    let inner = s;
    let withClause = stmt.withClause;
    if (withClause !== undefined) {
      const defs = (withClause.ctes ?? []).map(
        (c) => (c as { CommonTableExpr?: CommonTableExpr }).CommonTableExpr,
      );
      const names = defs.map((d) => d?.ctename).filter((n): n is string => n !== undefined);
      const all = new Set([...s.shadow, ...names]);
      const ctes = (withClause.ctes ?? []).map((c, i) => {
        const seen = withClause?.recursive === true ? all : new Set([...s.shadow, ...names.slice(0, i)]);
        return this.value(c, { ...s, shadow: seen }) as Node;
      });
      withClause = { ...withClause, ctes };
      inner = { ...s, shadow: all };
    }
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(stmt)) {
      if (k === 'withClause') continue;
      out[k] = k === 'larg' || k === 'rarg' ? this.select(x as SelectStmt, inner) : this.value(x, inner);
    }
    if (withClause !== undefined) out.withClause = withClause;
    return out as SelectStmt;
  }

  private rangeVar(rv: RangeVar, s: Scope): Node {
    const name = rv.relname as string;
    const alias = rv.alias ?? { aliasname: name };
    const renamed = (relname: string): Node => ({
      RangeVar: {
        relname,
        inh: true,
        relpersistence: 'p',
        alias,
        ...(rv.location === undefined ? {} : { location: rv.location }),
      },
    });
    if (rv.schemaname === undefined) {
      if (s.shadow.has(name)) return { RangeVar: rv };
      if (name === s.self) return s.selfAs === null ? { RangeVar: rv } : renamed(s.selfAs);
      const def = s.ctes?.lookup(name);
      if (def !== undefined) return renamed(this.inline(def));
    }
    const info = this.env.relationInfo({ schema: rv.schemaname ?? null, name });
    const scan = info === null || info === undefined ? undefined : this.scans.get(this.env.source(info).key);
    if (info === null || info === undefined || scan === undefined) {
      throw new UnsupportedQueryError(
        `the relation ${rv.schemaname === undefined ? '' : `${rv.schemaname}.`}${name} in a recursive CTE`,
        "It could not be matched to a source of the CTE; use refreshMode 'FULL'.",
        { position: this.env.at(rv.location) },
      );
    }
    let source = this.sources.get(scan.source.key);
    if (source === undefined) {
      source = { name: `__pgt_src_${this.sources.size + 1}`, scan };
      this.sources.set(scan.source.key, source);
    }
    return renamed(source.name);
  }

  /** The placeholder of an inlined CTE (defined once, after the CTEs it reads). */
  private inline(def: CteDef): string {
    const known = this.inlinedNames.get(def);
    if (known !== undefined) return known;
    if (++this.depth > 32) {
      throw new UnsupportedQueryError(
        'CTEs nested this deeply in a recursive CTE',
        "Use refreshMode 'FULL'.",
      );
    }
    const name = `__pgt_cte_${this.inlinedNames.size + 1}`;
    this.inlinedNames.set(def, name);
    const recursive = def.recursive && mentions(def.query, def.name);
    const body = this.select(def.query, {
      self: recursive ? def.name : null,
      selfAs: null,
      ctes: def.ctes,
      shadow: new Set(),
    });
    const cols =
      def.columnNames === undefined ? '' : sql`(${sql.join(def.columnNames.map((n) => sql.id(n)))})`;
    if (recursive) {
      const cte = deparseNode({ CommonTableExpr: { ...def.ast, ctequery: { SelectStmt: body } } });
      this.inlined.push(sql`${name} AS (WITH RECURSIVE ${cte} SELECT * FROM ${sql.id(def.name)})`);
    } else {
      this.inlined.push(sql`${name}${cols} AS (${deparseNode({ SelectStmt: body })})`);
    }
    this.depth--;
    return name;
  }
}

/** Whether `stmt` has a RangeVar named `name` (no schema) anywhere. */
function mentions(stmt: SelectStmt, name: string): boolean {
  return JSON.stringify(stmt).includes(`"relname":${JSON.stringify(name)}`);
}

/** Rewrites recursive CTE `def` over placeholders for the sources `scans` (by source key). */
export function rewriteRecursiveCte(
  def: CteDef,
  env: BuildEnv,
  scans: ReadonlyMap<string, ScanNode>,
): RecursiveCteText {
  const rw = new Rewriter(env, scans);
  const scope: Scope = { self: def.name, selfAs: null, ctes: def.ctes, shadow: new Set() };
  const body = rw.select(def.query, scope);
  const cteSql = deparseNode({ CommonTableExpr: { ...def.ast, ctequery: { SelectStmt: body } } });
  // Each term alone, the recursive one reading the working table (the body's WITH, if any, kept).
  const term = rw.select(def.query, { ...scope, selfAs: WORKING_TABLE });
  const alone = (t: SelectStmt): string => {
    const outer = term.withClause;
    const own = t.withClause;
    const merged =
      outer === undefined
        ? t
        : own === undefined
          ? { ...t, withClause: outer }
          : {
              ...t,
              withClause: {
                ...own,
                recursive: own.recursive === true || outer.recursive === true,
                ctes: [...(outer.ctes ?? []), ...(own.ctes ?? [])],
              },
            };
    return deparseNode({ SelectStmt: merged });
  };
  return {
    cteSql,
    inlined: rw.inlined,
    sources: [...rw.sources.values()],
    baseTerm: alone(term.larg as SelectStmt),
    recursiveTerm: alone(term.rarg as SelectStmt),
  };
}
