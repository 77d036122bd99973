/**
 * The sidecar without superuser (docs/security.md, "Running the sidecar without superuser"): a
 * role with CREATE on the database and membership in the application's role installs the catalog,
 * executes an application's SQL-API requests, and keeps a DIFFERENTIAL stream table exact.
 */
import { expectTableEqualsQuery, useTestDatabase } from '@pgtrickle/testkit';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, processRequests, rolesNotActedAs, type Trickle } from '../src/index.js';
import { TestRoles } from './support/roles.js';

const db = useTestDatabase();
const roles = new TestRoles(() => db.url);
const sidecarRole = roles.name('pgt_sidecar');
const app = roles.name('pgt_lp_app');
const password = roles.password;
let sidecar: Trickle;
let asApp: pg.Client;

beforeAll(async () => {
  // What a DBA does once (the role pgtrickle_user may already exist: roles are cluster-wide).
  await db.query(`
    CREATE ROLE ${sidecarRole} LOGIN PASSWORD '${password}' NOSUPERUSER NOCREATEROLE;
    CREATE ROLE ${app} LOGIN PASSWORD '${password}';
    DO $$ BEGIN
      IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'pgtrickle_user') THEN CREATE ROLE pgtrickle_user NOLOGIN; END IF;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;
    GRANT CREATE ON DATABASE ${db.name} TO ${sidecarRole};
    GRANT pgtrickle_user TO ${app};
    GRANT ${app} TO ${sidecarRole};
    CREATE SCHEMA shop AUTHORIZATION ${app};
  `);
  asApp = await roles.client(app);
  await asApp.query(`
    CREATE TABLE shop.orders (id int PRIMARY KEY, customer int NOT NULL, amount numeric NOT NULL);
    INSERT INTO shop.orders SELECT g, g % 5, g * 2 FROM generate_series(1, 40) g;
  `);
  sidecar = await connect({ connectionString: roles.url(sidecarRole) });
});

afterAll(async () => {
  await asApp?.end().catch(() => undefined);
  await sidecar?.close();
  await db.query(
    `DROP SCHEMA IF EXISTS shop CASCADE; DROP SCHEMA IF EXISTS pgtrickle CASCADE; DROP SCHEMA IF EXISTS pgtrickle_changes CASCADE`,
  );
  for (const role of [app, sidecarRole]) {
    await db.query(`DROP OWNED BY ${role} CASCADE; DROP ROLE ${role}`).catch(() => undefined);
  }
});

describe('a sidecar that is not a superuser', () => {
  it("installs the catalog, executes an application's requests and keeps its stream table exact", async () => {
    const role = await db.query('SELECT rolsuper FROM pg_roles WHERE rolname = $1', [sidecarRole]);
    expect(role.rows[0]?.rolsuper).toBe(false);
    await sidecar.install();
    const query = 'SELECT customer, count(*) AS n, sum(amount) AS total FROM shop.orders GROUP BY customer';
    const created = await asApp.query(
      `SELECT pgtrickle.create_stream_table('shop.totals', $1, '1s', 'DIFFERENTIAL') AS id`,
      [query],
    );
    expect(created.rows[0]?.id).toBeDefined();
    await processRequests(sidecar);
    const status = await asApp.query(
      `SELECT status, owner, last_error FROM pgtrickle.pgt_status WHERE name = 'shop.totals'`,
    );
    expect(status.rows).toEqual([{ status: 'ACTIVE', owner: app, last_error: null }]);
    await asApp.query(`
      UPDATE shop.orders SET amount = amount + 1 WHERE id % 3 = 0;
      DELETE FROM shop.orders WHERE id % 7 = 0;
      INSERT INTO shop.orders VALUES (100, 2, 5), (101, 9, 7);
    `);
    const refreshed = await sidecar.refresh('shop.totals');
    expect(refreshed.action).toBe('DIFFERENTIAL');
    await expectTableEqualsQuery(db, 'shop.totals', query);
    expect(await rolesNotActedAs(sidecar.db)).toEqual([]);
  });
});
