/**
 * The one statement of a FULL refresh that fills the storage (after its TRUNCATE): an unreferenced
 * data-modifying CTE inserting the rows — from the population query directly, or from
 * `full_rows(<query>)` when the query plans in parallel (`full-parallel.ts`) — under an outer
 * SELECT that returns the statement's frontier (taken under the same snapshot as the rows) and
 * the storage's insert counter as the INSERT began, from which `full-bulk.ts` tells the rows
 * inserted without counting the table.
 */
import { CHANGES_SCHEMA } from '../names.js';
import { sql } from '../sql/sql.js';
import type { CompiledPlan } from './compile.js';
import { INSERTED_BEFORE_COLUMN, insertedSoFarSql } from './full-bulk.js';
import { FULL_ROWS_FUNCTION, fullColumns } from './full-parallel.js';

/**
 * ONE FULL statement of `plan`: with `types` (the storage's types of {@link fullColumns}, in that
 * order), its rows come from `full_rows` (`full-parallel.ts`), else from its population query
 * directly. Its one result row is the statement's frontier (`snapshot`, `epochs`:
 * `plan.fullFrontierSelect()`) and the insert counter of the storage as the INSERT began (`full-bulk.ts`).
 */
export function fullStatementSql(plan: CompiledPlan, types: readonly string[] | null): string {
  const columns = fullColumns(plan);
  const relation = plan.applyTarget().relation;
  const ids = columns.map((c) => sql.id(c));
  let rows: string;
  const population = plan.populationSelect();
  if (types === null) rows = population;
  else {
    if (types.length !== columns.length)
      throw new RangeError(`${columns.length} storage columns, ${types.length} types`);
    const casts = sql.join(columns.map((c, i) => sql`s.${sql.id(c)}::${sql.raw(types[i] as string)}`));
    const inner = sql`SELECT ${casts}\nFROM (${population}) AS s(${sql.join(ids)})`;
    const definition = sql.join(columns.map((c, i) => sql`${sql.id(c)} ${sql.raw(types[i] as string)}`));
    rows = sql`SELECT * FROM ${sql.id(CHANGES_SCHEMA, FULL_ROWS_FUNCTION)}(${sql.lit(inner)}) AS r(${definition})`;
  }
  return sql`WITH __pgt_insert AS (
INSERT INTO ${sql.raw(relation)} (${sql.join(ids)})
${rows})
SELECT f.*, ${insertedSoFarSql(relation)} AS ${sql.id(INSERTED_BEFORE_COLUMN)}
FROM (${plan.fullFrontierSelect()}) AS f`;
}
