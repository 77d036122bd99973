/**
 * The catalog port dvm compiles through, over this database: dvm's SQL port (pg_catalog), plus
 * "is this relation a stream table?" from pgtrickle's own catalog. Also source fingerprints:
 * a hash of a relation's name, columns (names, types, NOT NULL) and primary key, recorded per
 * dependency so a later change of the source is noticed before a refresh reads it.
 */
import { type CatalogPort, CHANGES_SCHEMA, createSqlCatalogPort, quoteQualified } from '@pgtrickle/dvm';
import { streamTableOfStorage } from './catalog/find-stream-table.js';
import { type Conn, type Db, executor } from './db.js';
import { storageResolvingPort } from './public-view.js';
import { describingPort } from './security/sandbox.js';

const CAPTURE_STATE = quoteQualified(CHANGES_SCHEMA, 'capture_state');
const TRIGGER_COUNT = quoteQualified(CHANGES_SCHEMA, 'capture_trigger_count');

/**
 * A catalog port on `q` that knows pgtrickle's stream tables. On a connection (always inside a
 * transaction here), describing a query runs under a savepoint: a query PostgreSQL rejects must
 * not abort the caller's transaction.
 */
export function catalogPort(q: Conn | Db): CatalogPort {
  const target = 'pool' in q ? q.pool : q;
  const port = storageResolvingPort(
    createSqlCatalogPort(executor(target), {
      streamTableOf: (oid: number) => streamTableOfStorage(target, oid),
    }),
    target,
  );
  if ('pool' in q) return port;
  return describingPort(q, port, (sql) => port.describeQuery(sql));
}

/**
 * Current fingerprints of relations by oid (null: the relation no longer exists): an md5 of the
 * name, the columns (names, types, NOT NULL, the collation when not the type's default: values
 * read back get it, and storage columns carry it), the primary key, `relnatts` (so a column added and
 * dropped again is noticed) and the partitions or children; then, for a captured table,
 * `;capture=<shape version>:<enabled triggers>/<expected>` — the generator's shape version and
 * whether every capture trigger of the tree is there and enabled (a trigger disabled or a child
 * without capture means writes may have been missed).
 */
export async function fingerprints(
  q: Conn | Db,
  oids: readonly number[],
): Promise<Map<number, string | null>> {
  const res = await q.query(fingerprintsSql('$1'), [oids]);
  return fingerprintMap(res.rows);
}

/** The fingerprints by oid of the rows {@link fingerprintsSql} returns (or their json aggregate). */
export function fingerprintMap(
  rows: readonly { readonly oid: unknown; readonly fp: unknown }[],
): Map<number, string | null> {
  return new Map(rows.map((r) => [Number(r.oid), r.fp === null ? null : String(r.fp)]));
}

/**
 * The SELECT of {@link fingerprints} (`oid`, `fp` per relation) for the oid array bound as `oidsParam`;
 * every catalog row it reads is looked up by its oid (an index probe, whatever the plan: no scan of
 * pg_class or pg_type, which a refresh would pay for every relation of the database).
 */
export function fingerprintsSql(oidsParam: string): string {
  return `SELECT o.oid::int8 AS oid,
            CASE WHEN c.oid IS NULL THEN NULL ELSE pg_catalog.md5(
              (SELECT n.nspname FROM pg_catalog.pg_namespace AS n WHERE n.oid = c.relnamespace) || '.' || c.relname || '|' ||
              COALESCE((SELECT pg_catalog.string_agg(a.attname || ' ' || pg_catalog.format_type(a.atttypid, a.atttypmod) || ' ' || a.attnotnull::text
                                  || CASE WHEN a.attcollation <> (SELECT t.typcollation FROM pg_catalog.pg_type AS t WHERE t.oid = a.atttypid)
                                          THEN ' collate ' || a.attcollation::text ELSE '' END, ',' ORDER BY a.attnum)
                        FROM pg_catalog.pg_attribute AS a
                        WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '')
              || '|' ||
              COALESCE((SELECT pg_catalog.string_agg(a.attname, ',' ORDER BY k.ord)
                        FROM pg_catalog.pg_index AS i
                        CROSS JOIN LATERAL pg_catalog.unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
                        JOIN pg_catalog.pg_attribute AS a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                        WHERE i.indrelid = c.oid AND i.indisprimary), '')
              || '|' || c.relnatts || '|' ||
              CASE WHEN c.relkind = 'v' THEN pg_catalog.pg_get_viewdef(c.oid) || '|' || c.relowner || '|' || COALESCE(pg_catalog.array_to_string(c.reloptions, ','), '') || '|' ELSE '' END ||
              COALESCE((WITH RECURSIVE tree(relid) AS (
                          SELECT i.inhrelid FROM pg_catalog.pg_inherits AS i WHERE i.inhparent = c.oid
                          UNION SELECT i.inhrelid FROM pg_catalog.pg_inherits AS i JOIN tree AS t ON i.inhparent = t.relid)
                        SELECT pg_catalog.string_agg(relid::text, ',' ORDER BY relid) FROM tree), '')
            ) || COALESCE((SELECT ';capture=' || s.shape_version || ':' || n.enabled || '/' || n.expected
                           FROM ${CAPTURE_STATE} AS s CROSS JOIN LATERAL ${TRIGGER_COUNT}(s.relations) AS n
                          WHERE s.source_oid = c.oid), '') END AS fp
     FROM pg_catalog.unnest(${oidsParam}::oid[]) AS o(oid)
     LEFT JOIN LATERAL (SELECT * FROM pg_catalog.pg_class AS r WHERE r.oid = o.oid OFFSET 0) AS c ON true`;
}

/** Whether two fingerprints differ only in their capture part (the source itself is unchanged). */
export function onlyCaptureChanged(recorded: string, current: string): boolean {
  return recorded.split(';')[0] === current.split(';')[0] && recorded !== current;
}
