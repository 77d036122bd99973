/**
 * Who acts, and on whose behalf. Rule: every operation on a stream table is done by an actor (the
 * connection's `current_user` for the TypeScript API, the recorded requester for the SQL API);
 * creating makes a stream table owned by the actor (or by a role the actor is a member of), and
 * altering, refreshing, explaining and dropping need the owner's rights — the owner or a member
 * that inherits it — as PostgreSQL's own ownership checks do (`pgtrickle.acts_as`).
 */
import { cat, type Queryable } from '../catalog/schema.js';
import { PermissionDeniedError, ReservedNameError } from '../errors.js';

/** A role acting on stream tables, and the search_path its queries' names resolve by. */
export interface Actor {
  readonly oid: number;
  readonly name: string;
  readonly searchPath: string;
}

/** The connection's own role, with its current search_path. */
export async function currentActor(q: Queryable): Promise<Actor> {
  const res = await q.query(
    `SELECT r.oid::int8 AS oid, r.rolname::text AS name, pg_catalog.current_setting('search_path') AS path
     FROM pg_catalog.pg_roles AS r WHERE r.rolname = current_user`,
  );
  const r = res.rows[0];
  return { oid: Number(r?.oid), name: String(r?.name), searchPath: String(r?.path) };
}

/** The role named `name` (exactly as stored: no case folding). */
export async function roleNamed(q: Queryable, name: string, searchPath: string): Promise<Actor> {
  const res = await q.query('SELECT r.oid::int8 AS oid FROM pg_catalog.pg_roles AS r WHERE r.rolname = $1', [
    name,
  ]);
  const oid = res.rows[0]?.oid;
  if (oid === undefined)
    throw new PermissionDeniedError(`There is no role ${JSON.stringify(name)} to own the stream table.`);
  return { oid: Number(oid), name, searchPath };
}

/** Whether `actor` has the rights of role `owner` (is it, or a member inheriting it). */
export async function actsAs(q: Queryable, actor: number, owner: number): Promise<boolean> {
  if (actor === owner) return true;
  const res = await q.query(`SELECT ${cat('acts_as')}($1::oid, $2::oid) AS ok`, [actor, owner]);
  return res.rows[0]?.ok === true;
}

/** Throws PermissionDeniedError unless `actor` has the rights of the stream table's owner. */
export async function requireOwnership(
  q: Queryable,
  actor: Actor,
  table: { readonly display: string; readonly ownerOid: number; readonly owner: string },
  doing: string,
): Promise<void> {
  if (await actsAs(q, actor.oid, table.ownerOid)) return;
  throw new PermissionDeniedError(
    `${actor.name} may not ${doing} stream table ${table.display}: it is owned by ${table.owner}. ` +
      `Only its owner or a member of the owning role may (GRANT ${table.owner} TO ${actor.name}).`,
  );
}

/** Schemas where no stream table may be created. */
const RESERVED_SCHEMAS = new Set([
  'pgtrickle',
  'pgtrickle_changes',
  'pg_catalog',
  'information_schema',
  'pg_toast',
]);

/** Throws ReservedNameError for a name in a reserved schema or under pgtrickle's own prefix. */
export function checkStreamTableName(schema: string, name: string, display: string): void {
  if (RESERVED_SCHEMAS.has(schema) || schema === 'pg_temp' || /^pg_(toast_)?temp_\d+$/.test(schema)) {
    throw new ReservedNameError(display, `schema ${schema} is reserved`);
  }
  if (name.startsWith('__pgt')) {
    throw new ReservedNameError(
      display,
      "names starting with __pgt are reserved for pgtrickle's own objects",
    );
  }
}

/** Throws PermissionDeniedError unless `owner` may create tables in `schema`. */
export async function requireCreateOnSchema(q: Queryable, owner: Actor, schema: string): Promise<void> {
  const res = await q.query(`SELECT pg_catalog.has_schema_privilege($1::oid, $2, 'CREATE') AS ok`, [
    owner.oid,
    schema,
  ]);
  if (res.rows[0]?.ok === true) return;
  throw new PermissionDeniedError(
    `${owner.name} may not create stream table in schema ${schema}: creating one needs CREATE on its schema, as a materialized view does (GRANT CREATE ON SCHEMA ${schema} TO ${owner.name}).`,
  );
}
