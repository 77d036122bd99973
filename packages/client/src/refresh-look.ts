/**
 * The opening read of a `refresh()` call: ONE read-only statement, outside any transaction, with
 * everything the call needs before it decides whether to open one — the installed catalog version,
 * the stream table the name resolves to (in the current schema when unqualified), its
 * dependencies, the acting role and whether it has the owner's rights, and whether the refresh
 * would be quiet (the rule of `refresh-quiet.ts`: the guard fires, no source has a change in its
 * window, every fingerprint is the recorded one; fingerprints are computed only when the rest
 * already says quiet) with the age of its freshness mark.
 *
 * The statement has no parameters (the name is a literal in it): it is kept prepared per name
 * (`prepared.ts`) and planned once.
 *
 * Rule: the quiet probes read the change buffers of the sources a previous call saw for the same
 * name (kept in the engine: the buffers are named in the statement); the answer counts only when
 * the dependencies read by the same statement are still those, otherwise it is "unknown" and the
 * refresh checks again inside its transaction. Anything this statement cannot answer (no catalog,
 * another catalog version, a buffer gone) makes the caller take the ordinary path, which checks
 * everything again.
 */
import { quoteLiteral } from '@pgtrickle/dvm';
import { CHECK_GRANULARITY_MS } from './catalog/freshness.js';
import { type DependencyRow, ST_COLUMNS, type StreamTableRow, toDependency, toRow } from './catalog/rows.js';
import { cat, type Queryable } from './catalog/schema.js';
import { InvalidArgumentError } from './errors.js';
import { parseName } from './names.js';
import { fingerprintMap, fingerprintsSql } from './port.js';
import { repeatedQuery } from './prepared.js';
import { fingerprintsUnchanged, guardFires, mayBeQuiet, pendingProbes } from './refresh-quiet.js';
import type { Actor } from './security/actor.js';
import { GUARD_TRIGGER } from './storage.js';

/** What a previous look saw of a name: the table it resolved to and that table's sources. */
export interface LookMemory {
  readonly pgtId: number;
  readonly deps: readonly DependencyRow[];
}

/** The answers of {@link lookForRefresh}. */
export interface RefreshLook {
  /** The installed catalog version. */
  readonly version: number;
  /** The resolved schema and name. */
  readonly schema: string;
  readonly name: string;
  /** The connection's role. */
  readonly actor: Actor;
  /** The stream table (null: none by that name). */
  readonly row: StreamTableRow | null;
  readonly deps: readonly DependencyRow[];
  /** Whether the actor has the owner's rights. */
  readonly actsAsOwner: boolean;
  /** Whether a refresh now would be quiet; null: not known from this statement. */
  readonly quiet: boolean | null;
  /** Whether the freshness mark is younger than its granularity (no need to write it again). */
  readonly freshnessRecent: boolean;
}

/** The identity of a dependency list for the probes (the buffers it names). */
function depsKey(deps: readonly DependencyRow[]): string {
  return JSON.stringify(deps.map((d) => [d.sourceOid, d.sourceKind, d.sourcePgtId]));
}

/** The lateral subquery probing quietness of the table `memory` describes (columns __pgt_guard, __pgt_pending, __pgt_fps, __pgt_recent). */
function probeSql(memory: LookMemory): string {
  const probes = pendingProbes(
    memory.deps,
    'st.frontier_snapshot::pg_catalog.pg_snapshot',
    (pgtId) => `COALESCE((st.frontier_epochs ->> ${quoteLiteral(String(pgtId))})::bigint, 0)`,
  );
  const oids = quoteLiteral(`{${memory.deps.map((d) => Number(d.sourceOid)).join(',')}}`);
  return `SELECT g.__pgt_guard, g.__pgt_pending,
       CASE WHEN g.__pgt_guard IN ('O', 'A') AND NOT g.__pgt_pending THEN
         (SELECT pg_catalog.json_agg(pg_catalog.json_build_object('oid', f.oid, 'fp', f.fp))
            FROM (${fingerprintsSql(oids)}) AS f) END AS __pgt_fps,
       (SELECT fr.checked_at > pg_catalog.clock_timestamp() - pg_catalog.make_interval(secs => ${Number(CHECK_GRANULARITY_MS)}::float8 / 1000)
          FROM ${cat('pgt_freshness')} AS fr WHERE fr.pgt_id = st.pgt_id) AS __pgt_recent
  FROM (SELECT (SELECT t.tgenabled::text FROM pg_catalog.pg_trigger AS t
                 WHERE t.tgrelid = st.storage_oid::pg_catalog.oid AND t.tgname = ${quoteLiteral(GUARD_TRIGGER)}) AS __pgt_guard,
               (${[...probes, 'false'].join(' OR ')}) AS __pgt_pending
         WHERE st.pgt_id = ${Number(memory.pgtId)}) AS g`;
}

/**
 * Reads the {@link RefreshLook} of the stream table `text` names, in one statement. `memory`
 * (per name) holds what earlier looks saw and is updated; a database error (no catalog, a
 * buffer dropped) is thrown for the caller to fall back on the ordinary path.
 */
export async function lookForRefresh(
  q: Queryable,
  memory: Map<string, LookMemory>,
  text: string,
): Promise<RefreshLook> {
  const parsed = parseName(text);
  const known = memory.get(text);
  const probe =
    known === undefined
      ? 'SELECT NULL::text AS __pgt_guard, NULL::boolean AS __pgt_pending, NULL::json AS __pgt_fps, NULL::boolean AS __pgt_recent'
      : probeSql(known);
  let res: Awaited<ReturnType<Queryable['query']>>;
  try {
    res = await repeatedQuery(
      q,
      `WITH a AS MATERIALIZED (
         SELECT (SELECT pg_catalog.max(v.version) FROM ${cat('pgt_schema_version')} AS v) AS __pgt_version,
                pg_catalog.current_schema()::text AS __pgt_schema, r.oid::int8 AS __pgt_actor_oid,
                r.rolname::text AS __pgt_actor_name, pg_catalog.current_setting('search_path') AS __pgt_actor_path
           FROM pg_catalog.pg_roles AS r WHERE r.rolname = current_user),
       st AS MATERIALIZED (
         SELECT ${ST_COLUMNS} FROM ${cat('pgt_stream_tables')}
          WHERE schema_name = COALESCE(${parsed.schema === null ? 'NULL' : quoteLiteral(parsed.schema)}, (SELECT a.__pgt_schema FROM a))
            AND table_name = ${quoteLiteral(parsed.name)})
       SELECT a.*, st.*,
              (SELECT pg_catalog.json_agg(d ORDER BY d.source_oid) FROM ${cat('pgt_dependencies')} AS d
                WHERE d.pgt_id = st.pgt_id) AS __pgt_deps,
              (st.owner_oid = a.__pgt_actor_oid
                OR ${cat('acts_as')}(a.__pgt_actor_oid::pg_catalog.oid, st.owner_oid::pg_catalog.oid)) AS __pgt_acts,
              p.*
         FROM a LEFT JOIN st ON true LEFT JOIN LATERAL (${probe}) AS p ON true`,
    );
  } catch (error) {
    // The probes name buffers: one gone means the sources changed; forget them.
    memory.delete(text);
    throw error;
  }
  const r = res.rows[0] ?? {};
  const schema = parsed.schema ?? (r.__pgt_schema as string | null);
  if (typeof schema !== 'string')
    throw new InvalidArgumentError(`No current schema to find ${text} in; qualify the name.`);
  const actor: Actor = {
    oid: Number(r.__pgt_actor_oid),
    name: String(r.__pgt_actor_name),
    searchPath: String(r.__pgt_actor_path),
  };
  const row = r.pgt_id === null || r.pgt_id === undefined ? null : toRow(r);
  const deps = ((r.__pgt_deps ?? []) as Record<string, unknown>[]).map(toDependency);
  let quiet: boolean | null = null;
  if (
    row !== null &&
    known !== undefined &&
    known.pgtId === row.pgtId &&
    depsKey(known.deps) === depsKey(deps)
  ) {
    const fps = (r.__pgt_fps ?? null) as { oid: number | string; fp: string | null }[] | null;
    quiet =
      mayBeQuiet(row) &&
      guardFires(r.__pgt_guard) &&
      r.__pgt_pending === false &&
      fps !== null &&
      fingerprintsUnchanged(deps, fingerprintMap(fps));
  }
  if (row === null) memory.delete(text);
  else memory.set(text, { pgtId: row.pgtId, deps });
  return {
    version: Number(r.__pgt_version ?? 0),
    schema,
    name: parsed.name,
    actor,
    row,
    deps,
    actsAsOwner: r.__pgt_acts === true,
    quiet,
    freshnessRecent: r.__pgt_recent === true,
  };
}
