/**
 * The catalog: a fresh install equals an install upgraded migration by migration; versions and
 * checksums are recorded; a tampered or newer catalog is refused.
 */
import { createTestDatabase, type OwnedTestDatabase, testServerUrl } from '@pgtrickle/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { parseMigration, STATEMENT_BREAKPOINT } from '../src/catalog/migrations.js';
import { CATALOG_VERSION, Db, installCatalog, MIGRATIONS, migrationChecksum } from '../src/index.js';

const owned: OwnedTestDatabase[] = [];
afterAll(async () => {
  for (const d of owned) await d.drop();
});

async function freshDb(label: string): Promise<{ handle: OwnedTestDatabase; db: Db }> {
  const handle = await createTestDatabase(testServerUrl(), { label });
  owned.push(handle);
  return { handle, db: new Db(handle.url) };
}

/** Every object of schema pgtrickle, described by PostgreSQL itself. */
async function describeCatalog(db: Db): Promise<string[]> {
  const res = await db.query(`
    SELECT 'column ' || c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod) || ' ' || a.attnotnull
           || ' ' || COALESCE(pg_get_expr(d.adbin, d.adrelid), '') AS o
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
      LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
     WHERE n.nspname = 'pgtrickle' AND c.relkind IN ('r', 'v', 'p')
    UNION ALL
    SELECT 'constraint ' || conrelid::regclass || ' ' || pg_get_constraintdef(oid) FROM pg_constraint
     WHERE connamespace = 'pgtrickle'::regnamespace
    UNION ALL
    SELECT 'index ' || indexdef FROM pg_indexes WHERE schemaname = 'pgtrickle'
    UNION ALL
    SELECT 'function ' || p.proname || ' ' || md5(pg_get_functiondef(p.oid)) FROM pg_proc p WHERE p.pronamespace = 'pgtrickle'::regnamespace
    UNION ALL
    SELECT 'view ' || viewname || ' ' || md5(definition) FROM pg_views WHERE schemaname = 'pgtrickle'
    ORDER BY 1`);
  return res.rows.map((r) => String(r.o));
}

describe('catalog migration files', () => {
  it('produce the released migrations 1–3 with exactly the checksums existing installs recorded', () => {
    // Recorded by every install made before the migrations moved to sql/migrations/*.sql: never change these.
    const released: Record<number, [string, string]> = {
      1: ['core catalog', 'a25ee9463557b7ad68457b8bda6a9766fbab4897bbafec3473e2c670f971c4be'],
      2: ['refresh history', '43eed861e52020b9a8b4684ebf09f08d75ff103cd9748bf583a9fbf09f8b7618'],
      3: [
        'sql api, requests, leadership',
        '1aa5f212909a07fe6c3efffa143c04265c5b3e6aa6eea4d6416fa1fcb87e93be',
      ],
    };
    for (const [version, [name, checksum]] of Object.entries(released)) {
      const m = MIGRATIONS.find((x) => x.version === Number(version));
      expect(m?.name).toBe(name);
      expect(m && migrationChecksum(m)).toBe(checksum);
    }
    expect(MIGRATIONS.map((m) => m.version)).toEqual(MIGRATIONS.map((_, i) => i + 1));
  });

  it('split at the breakpoint line only, so dollar-quoted bodies keep their semicolons', () => {
    const m = parseMigration(
      7,
      [
        '-- header',
        '-- name: test one',
        '',
        'SELECT 1;',
        STATEMENT_BREAKPOINT,
        '-- lead comment',
        'DO $x$ BEGIN PERFORM 1; END $x$',
      ].join('\n'),
    );
    expect(m).toEqual({
      version: 7,
      name: 'test one',
      statements: ['SELECT 1;', 'DO $x$ BEGIN PERFORM 1; END $x$'],
    });
  });
});

describe('catalog migrations', () => {
  it('a fresh install equals an install upgraded one migration at a time', async () => {
    const fresh = await freshDb('mig_fresh');
    const stepped = await freshDb('mig_stepped');
    try {
      const all = await installCatalog(fresh.db);
      expect(all.applied).toEqual(MIGRATIONS.map((m) => m.version));
      for (const m of MIGRATIONS) {
        const r = await installCatalog(stepped.db, m.version);
        expect(r.applied).toEqual([m.version]);
      }
      expect(MIGRATIONS.length).toBeGreaterThan(1);
      const a = await describeCatalog(fresh.db);
      const b = await describeCatalog(stepped.db);
      expect(a.length).toBeGreaterThan(20);
      expect(b).toEqual(a);
      const again = await installCatalog(stepped.db);
      expect(again).toEqual({ applied: [], version: CATALOG_VERSION });
    } finally {
      await fresh.db.close();
      await stepped.db.close();
    }
  });

  it('records every migration with its checksum and refuses a tampered or newer catalog', async () => {
    const { db } = await freshDb('mig_tamper');
    try {
      await installCatalog(db);
      const rows = await db.query(
        'SELECT version, name, checksum FROM pgtrickle.pgt_schema_version ORDER BY version',
      );
      expect(rows.rows.map((r) => r.version)).toEqual(MIGRATIONS.map((m) => m.version));
      await db.query(`UPDATE pgtrickle.pgt_schema_version SET checksum = 'x' WHERE version = 1`);
      await expect(installCatalog(db)).rejects.toMatchObject({
        code: 'PGT_SCHEMA_VERSION',
        message: /different statements/,
      });
      await db.query(`UPDATE pgtrickle.pgt_schema_version SET checksum = $1 WHERE version = 1`, [
        rows.rows[0]?.checksum,
      ]);
      await db.query(`INSERT INTO pgtrickle.pgt_schema_version VALUES (999, 'future', 'x')`);
      await expect(installCatalog(db)).rejects.toMatchObject({
        code: 'PGT_SCHEMA_VERSION',
        message: /newer than this client/,
      });
    } finally {
      await db.close();
    }
  });

  it('installs once when many processes install at the same time', async () => {
    const { handle } = await freshDb('mig_race');
    const dbs = Array.from({ length: 5 }, () => new Db(handle.url));
    try {
      const results = await Promise.all(dbs.map((d) => installCatalog(d)));
      const applied = results.flatMap((r) => r.applied);
      expect(applied.sort()).toEqual(MIGRATIONS.map((m) => m.version).sort());
      expect(results.filter((r) => r.applied.length > 0)).toHaveLength(1);
    } finally {
      await Promise.all(dbs.map((d) => d.close()));
    }
  });
});
