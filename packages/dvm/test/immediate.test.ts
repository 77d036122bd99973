/**
 * The IMMEDIATE trigger DDL (plan/immediate.ts): per (stream table, source) a BEFORE trigger and
 * four AFTER triggers with the right transition tables on every relation of the source's tree,
 * SECURITY DEFINER functions with the caller's search_path pinned and the storage named for the
 * guard, given to the owner; the lock only where the query needs it (not for a scan under filters
 * and projections); and the IMMEDIATE-only refusals.
 */
import { useTestDatabase } from '@pgtrickle/testkit';
import { describe, expect, it } from 'vitest';
import {
  compileStreamTable,
  createSqlCatalogPort,
  IMMEDIATE_LOCK_CLASS,
  immediateInstallDdl,
  type SqlExecutor,
} from '../src/index.js';
import type { IrNode } from '../src/ir/types.js';
import { IMMEDIATE_SMALL_ROWS } from '../src/plan/immediate.js';
import { imagesCompareSql, inPlaceKeyColumns, isLinearIn } from '../src/plan/immediate-apply.js';

const db = useTestDatabase({
  setupSql: `CREATE TABLE a (id int PRIMARY KEY, k int, v int);
    CREATE TABLE b (k int PRIMARY KEY, w int);
    CREATE TABLE d (id int PRIMARY KEY DEFERRABLE, v int)`,
});

async function plan(query: string) {
  const port = createSqlCatalogPort(db as unknown as SqlExecutor);
  return compileStreamTable(query, port, {
    name: { schema: 'public', name: 'st' },
    refreshMode: 'IMMEDIATE',
  });
}

describe('immediateInstallDdl', () => {
  it('compiles a join: five statement and three row triggers per relation, locked, functions given to the owner (SECURITY DEFINER but the BEFORE one)', async () => {
    const p = await plan('SELECT a.id, b.w FROM a JOIN b ON b.k = a.k');
    expect(p.mode).toBe('IMMEDIATE');
    expect(p.rowLocal).toBe(false);
    const ddl = immediateInstallDdl(p, {
      pgtId: 7,
      storageOid: 4242,
      owner: 'app',
      descendants: new Map([[p.sources[0]?.oid ?? 0, [{ schema: 'public', name: 'a_child' }]]]),
    });
    const triggers = ddl.filter((s) => s.startsWith('CREATE TRIGGER'));
    const rowTriggers = triggers.filter((s) => s.includes('FOR EACH ROW'));
    // a and its child: 5 statement + 3 row triggers each; b: the same
    expect(triggers).toHaveLength(24);
    expect(rowTriggers).toHaveLength(9);
    expect(triggers.filter((s) => s.includes('ON "public"."a_child"'))).toHaveLength(8);
    expect(triggers.find((s) => s.includes('AFTER UPDATE') && s.includes('FOR EACH STATEMENT'))).toContain(
      'REFERENCING OLD TABLE AS "__pgt_old" NEW TABLE AS "__pgt_new"',
    );
    const functions = ddl.filter((s) => s.startsWith('CREATE OR REPLACE FUNCTION'));
    expect(functions).toHaveLength(1 + 2 * 7);
    // Row bodies read the trigger's record variables, after the lock, unless a statement is in flight.
    const rowUpdate = functions.find((f) => f.includes('_rupd"()')) ?? '';
    expect(rowUpdate).toContain('(SELECT (old).*)');
    expect(rowUpdate).toContain('(SELECT (new).*)');
    expect(rowUpdate).toContain("current_setting('pgtrickle.ivm_s_7', true)");
    expect(rowUpdate).toContain(`pg_advisory_xact_lock(${IMMEDIATE_LOCK_CLASS}, 7)`);
    // ... and the marker of its maintainers, owned by the owner and written by its maintenance only.
    expect(rowUpdate).toContain(`setval('"pgtrickle_changes"."ivm_7_last"'::pg_catalog.regclass`);
    // The BEFORE function runs as the writer (it reads no table); every other one as the owner.
    expect(functions[0]).toContain('"ivm_7_before"()');
    expect(functions[0]).toContain('SECURITY INVOKER');
    expect(functions[0]).not.toContain('SECURITY DEFINER');
    expect(functions[0]).not.toContain('SET search_path');
    for (const f of functions.slice(1)) {
      expect(f).toContain('SECURITY DEFINER');
      expect(f).toContain('SET search_path FROM CURRENT');
      expect(f).toContain("SET pgtrickle.immediate_storage = '4242'");
    }
    expect(functions[0]).toContain(`pg_advisory_xact_lock(${IMMEDIATE_LOCK_CLASS}, 7)`);
    expect(functions[0]).not.toContain('setval');
    for (const f of functions.filter((x) => /_(ins|upd|del|trunc)"\(\)/.test(x))) {
      expect(f).toContain("'40001'");
      expect(f).toContain(`setval('"pgtrickle_changes"."ivm_7_last"'::pg_catalog.regclass`);
    }
    expect(ddl).toContain('CREATE SEQUENCE "pgtrickle_changes"."ivm_7_last" AS bigint MINVALUE 0');
    expect(ddl).toContain('CREATE SEQUENCE "pgtrickle_changes"."ivm_7_prev" AS bigint MINVALUE 0');
    expect(ddl.filter((s) => s.includes('OWNER TO "app"'))).toHaveLength(functions.length + 2);
    // The BEFORE function counts the statement and takes the lock in one expression, at every
    // statement (a lock already held is granted again), reading no flag.
    expect(functions[0]).not.toContain('ivm_locked_7');
    expect(ddl.filter((s) => s.includes('ENABLE ALWAYS TRIGGER'))).toHaveLength(15);
    expect(ddl.filter((s) => s.includes('ENABLE REPLICA TRIGGER'))).toHaveLength(9);
  });

  it('takes no lock for a scan under filters and projections', async () => {
    const p = await plan('SELECT id, v * 2 AS v2 FROM a WHERE v > 0');
    expect(p.rowLocal).toBe(true);
    const ddl = immediateInstallDdl(p, { pgtId: 8, storageOid: 1, owner: 'app' });
    expect(ddl.some((s) => s.includes('pg_advisory_xact_lock') || s.includes('SEQUENCE'))).toBe(false);
  });

  it('puts row triggers on the relations holding rows only (not on a partitioned table)', async () => {
    const p = await plan('SELECT id, v FROM a');
    const oid = p.sources[0]?.oid ?? 0;
    const ddl = immediateInstallDdl(p, {
      pgtId: 9,
      storageOid: 1,
      owner: 'app',
      partitionedSources: new Set([oid]),
      descendants: new Map([
        [
          oid,
          [
            { schema: 'public', name: 'a_mid', partitioned: true },
            { schema: 'public', name: 'a_leaf' },
          ],
        ],
      ]),
    });
    const rowOn = ddl
      .filter((s) => s.startsWith('CREATE TRIGGER') && s.includes('FOR EACH ROW'))
      .map((s) => /ON (\S+)/.exec(s)?.[1]);
    expect(rowOn).toEqual(['"public"."a_leaf"', '"public"."a_leaf"', '"public"."a_leaf"']);
  });

  it('refuses a DEFERRABLE source key and an unbounded TopK', async () => {
    await expect(plan('SELECT id, v FROM d')).rejects.toMatchObject({ code: 'PGT_UNSUPPORTED' });
    await expect(plan('SELECT id, v FROM a ORDER BY v LIMIT 1001')).rejects.toMatchObject({
      code: 'PGT_UNSUPPORTED',
    });
    expect((await plan('SELECT id, v FROM a ORDER BY v, id LIMIT 1000')).mode).toBe('IMMEDIATE');
  });
});

describe('linear deltas (immediate-apply.ts)', () => {
  const linear = (p: { tree: IrNode | null; sources: readonly { key: string }[] }, i: number) => {
    if (p.tree === null) throw new Error('no operator tree');
    return isLinearIn(p.tree, p.sources[i]?.key ?? '');
  };
  const bodies = async (query: string) => {
    const p = await plan(query);
    const ddl = immediateInstallDdl(p, { pgtId: 5, storageOid: 1, owner: 'app' });
    const a = p.sources.find((s) => s.name === 'a')?.oid;
    const fn = (event: string) => ddl.find((s) => s.includes(`"ivm_5_${a}_${event}"()`)) ?? '';
    return { p, ins: fn('ins'), upd: fn('upd'), del: fn('del'), rupd: fn('rupd') };
  };

  it('knows a delta is linear in a source scanned once under scans, filters, projections and inner joins', async () => {
    const { p } = await bodies('SELECT a.id, b.w FROM a JOIN b ON b.k = a.k WHERE a.v > 0');
    expect([linear(p, 0), linear(p, 1)]).toEqual([true, true]);
    const self = await plan('SELECT x.id, y.v FROM a AS x JOIN a AS y ON y.id = x.k');
    expect(linear(self, 0)).toBe(false);
    const agg = await plan('SELECT a.k, count(*) AS n FROM a GROUP BY a.k');
    expect(linear(agg, 0)).toBe(false);
    const outer = await plan('SELECT a.id, b.w FROM a LEFT JOIN b ON b.k = a.k');
    expect([linear(outer, 0), linear(outer, 1)]).toEqual([false, false]);
  });

  it('applies a linear delta without consolidation: INSERT, DELETE, and one MERGE by id for an UPDATE', async () => {
    const { ins, upd, del, rupd } = await bodies('SELECT a.id, b.w FROM a JOIN b ON b.k = a.k');
    // The in-flight recompute (same in every body) consolidates; the statement's own apply does not.
    // It follows the statement's first row (for an UPDATE, its first pair of rows).
    const own = (body: string) => body.slice(body.indexOf('NOT FOUND'));
    expect(own(ins)).toContain('INSERT INTO "public"."st"');
    expect(own(ins)).not.toContain('MERGE');
    expect(own(del)).toContain('DELETE FROM "public"."st" AS st');
    expect(own(del)).not.toContain('MERGE');
    expect(own(upd)).toContain('__pgt_delta AS MATERIALIZED (');
    expect(own(upd)).toContain('SELECT DISTINCT ON (x."__pgt_row_id") x.* FROM __pgt_delta AS x');
    for (const body of [ins, upd, del]) {
      expect(own(body)).not.toContain('__pgt_consolidated');
      // Written twice: one copy planned for small statements, one for large ones (and, for an
      // UPDATE, a third applying a one-row statement in place).
      expect(own(body).match(/__pgt_delta AS (MATERIALIZED )?\(/g)).toHaveLength(body === upd ? 3 : 2);
      // A row past the small size sends it to the large copy; no aggregate counts the rows.
      expect(body).toContain(
        `EXISTS (SELECT FROM "__pgt_${body === del ? 'old' : 'new'}" OFFSET ${IMMEDIATE_SMALL_ROWS})`,
      );
      expect(own(body)).not.toContain('pg_catalog.count(*)');
    }
    expect(rupd).toContain('MERGE INTO "public"."st"');
    expect(rupd).not.toContain('__pgt_consolidated');
  });

  it('keeps consolidation where ids may repeat within a sign (an aggregate, a self-join)', async () => {
    for (const q of [
      'SELECT a.k, count(*) AS n FROM a GROUP BY a.k',
      'SELECT x.id, y.v FROM a AS x JOIN a AS y ON y.id = x.k',
    ]) {
      const { upd } = await bodies(q);
      expect(upd.slice(upd.indexOf('NOT FOUND'))).toContain('__pgt_consolidated');
    }
  });

  it('applies a one-row UPDATE in place when the columns deciding its ids, partners and filters are unchanged', async () => {
    const keys = async (query: string, source: string) => {
      const p = await plan(query);
      if (p.tree === null) throw new Error('no operator tree');
      const scans: IrNode[] = [];
      const walk = (n: IrNode): void => {
        if (n.kind === 'scan' && n.source.name === source) scans.push(n);
        n.children.forEach(walk);
      };
      walk(p.tree);
      const scan = scans[0];
      if (scan?.kind !== 'scan') throw new Error(`no scan of ${source}`);
      return inPlaceKeyColumns(p.tree, scan.source)?.sort() ?? null;
    };
    // The key, the join column, a filter's column, also read through a projection.
    expect(await keys('SELECT a.id, b.w FROM a JOIN b ON b.k = a.k', 'a')).toEqual(['id', 'k']);
    expect(await keys('SELECT a.id, b.w FROM a JOIN b ON b.k = a.k', 'b')).toEqual(['k']);
    expect(await keys('SELECT a.id, a.k FROM a WHERE a.v > 0', 'a')).toEqual(['id', 'v']);
    expect(
      await keys(
        'SELECT x.id, b.w FROM (SELECT a.id, a.k + a.v AS kv FROM a) AS x JOIN b ON b.k = x.kv',
        'a',
      ),
    ).toEqual(['id', 'k', 'v']);
    // Not linear: no in-place path.
    expect(await keys('SELECT a.k, count(*) AS n FROM a GROUP BY a.k', 'a')).toBeNull();
    const { upd, ins } = await bodies('SELECT a.id, b.w FROM a JOIN b ON b.k = a.k');
    // Integer key columns: compared by equality (their images are equal exactly when they are),
    // for the first pair of OLD and NEW rows when it is the only one; no aggregate.
    expect(upd).toContain(
      'SELECT NOT EXISTS (SELECT FROM "__pgt_new" OFFSET 1) AND ROW(o."id", o."k") IS NOT DISTINCT FROM ROW(x."id", x."k")\n    INTO __pgt_same FROM "__pgt_old" AS o, "__pgt_new" AS x LIMIT 1;',
    );
    // The stored row rewritten where its integer column differs (no image read).
    expect(upd).toContain('AND (ROW(st."id", st."w") IS DISTINCT FROM ROW(d."id", d."w"))');
    expect(upd).toContain('UPDATE "public"."st" AS st SET');
    expect(ins).not.toContain('__pgt_same');
    const { upd: aggregate } = await bodies('SELECT a.k, count(*) AS n FROM a GROUP BY a.k');
    expect(aggregate).not.toContain('__pgt_same');
  });
});

describe('imagesCompareSql', () => {
  it('compares by equality only the types whose equal values have equal images, the others by image', () => {
    const columns = [
      { name: 'id', type: 'bigint' },
      { name: 'code', type: 'character varying(20)' },
      { name: 'price', type: 'numeric(10,2)' },
      { name: 'at', type: 'timestamp with time zone' },
      { name: 'x', type: 'double precision' },
      { name: 'label', type: 'text' },
      { name: 'hidden', type: null },
    ];
    expect(imagesCompareSql('o', 'x', columns, false)).toBe(
      'ROW(o."id", o."at") IS NOT DISTINCT FROM ROW(x."id", x."at") AND ' +
        'pg_catalog.record_send(ROW(o."code", o."price", o."x", o."label", o."hidden")) IS NOT DISTINCT FROM ' +
        'pg_catalog.record_send(ROW(x."code", x."price", x."x", x."label", x."hidden"))',
    );
    expect(imagesCompareSql('st', 'd', [{ name: 'price', type: 'numeric' }], true)).toBe(
      'pg_catalog.record_send(ROW(st."price")) IS DISTINCT FROM pg_catalog.record_send(ROW(d."price"))',
    );
    expect(imagesCompareSql('st', 'd', [{ name: 'n', type: 'integer' }], true)).toBe(
      'ROW(st."n") IS DISTINCT FROM ROW(d."n")',
    );
  });
});
