/**
 * Test support: an upgrade across one catalog migration. `downgrade` puts the database as the
 * previous version left it (in one transaction, with the migration's version row removed), then
 * the catalog is installed again by a fresh connection, which must apply exactly that migration.
 */
import type { TestDatabase } from '@pgtrickle/testkit';
import type pg from 'pg';
import { expect } from 'vitest';
import { Db, installCatalog, MIGRATIONS } from '../../src/index.js';

/** Rolls the catalog back before migration `name` with `downgrade`, then upgrades across it. */
export async function upgradeAcross(
  db: TestDatabase,
  name: string,
  downgrade: (conn: pg.Client) => Promise<void>,
): Promise<void> {
  const migration = MIGRATIONS.find((m) => m.name === name);
  expect(migration, `migration "${name}"`).toBeDefined();
  const conn = await db.client();
  try {
    await conn.query('BEGIN');
    await downgrade(conn);
    await conn.query('DELETE FROM pgtrickle.pgt_schema_version WHERE version = $1', [migration?.version]);
    await conn.query('COMMIT');
  } finally {
    await conn.end();
  }
  const admin = new Db(db.url);
  try {
    expect((await installCatalog(admin)).applied).toEqual([migration?.version]);
  } finally {
    await admin.close();
  }
}
