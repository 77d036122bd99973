/**
 * The roles of the security model (docs/security.md): `pgtrickle_user`, the role the SQL API is
 * granted to, and the roles the sidecar must be able to act as (stream table owners, whose
 * sandbox functions and storage it creates; source owners, whose capture functions it creates).
 */
import { cat, type Queryable } from './schema.js';

/** The role holding exactly what the SQL API needs (created by the catalog's migration 4). */
export const API_ROLE = 'pgtrickle_user';

/** The roles that are members of {@link API_ROLE} (directly or not), by name. */
export async function apiRoleMembers(q: Queryable): Promise<string[]> {
  const res = await q.query(
    `SELECT r.rolname::text AS name FROM pg_catalog.pg_roles AS r
      WHERE r.rolname <> $1 AND NOT r.rolsuper AND EXISTS (SELECT 1 FROM pg_catalog.pg_roles AS a WHERE a.rolname = $1)
        AND pg_catalog.pg_has_role(r.oid, $1, 'MEMBER') ORDER BY 1`,
    [API_ROLE],
  );
  return res.rows.map((r) => String(r.name));
}

/**
 * Roles the connection's role cannot act as but must: owners of stream tables and of captured
 * sources (it creates objects owned by them). Empty for a superuser.
 */
export async function rolesNotActedAs(q: Queryable): Promise<{ role: string; why: string }[]> {
  const res = await q.query(
    `WITH needed AS (
       SELECT s.owner_oid AS role, 'owns stream table ' || pg_catalog.quote_ident(s.schema_name) || '.' || pg_catalog.quote_ident(s.table_name) AS why
         FROM ${cat('pgt_stream_tables')} AS s
       UNION ALL
       SELECT c.relowner, 'owns captured source ' || pg_catalog.quote_ident(t.source_schema) || '.' || pg_catalog.quote_ident(t.source_name)
         FROM ${cat('pgt_change_tracking')} AS t JOIN pg_catalog.pg_class AS c ON c.oid = t.source_oid
     )
     SELECT pg_catalog.pg_get_userbyid(n.role)::text AS role, pg_catalog.min(n.why) AS why
       FROM needed AS n JOIN pg_catalog.pg_roles AS r ON r.oid = n.role
      WHERE NOT pg_catalog.pg_has_role(current_user, n.role, 'MEMBER')
      GROUP BY n.role ORDER BY 1`,
  );
  return res.rows.map((r) => ({ role: String(r.role), why: String(r.why) }));
}
