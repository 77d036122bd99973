/**
 * Bad input gets a clear error with a stable code and leaves the database exactly as it was.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { useTrickle } from './support/setup.js';

const { db, trickle } = useTrickle();

/** Everything pgtrickle owns or created, to compare before/after a failed call. */
async function footprint(): Promise<string> {
  const res = await db.query(`
    SELECT (SELECT string_agg(schema_name || '.' || table_name, ',' ORDER BY pgt_id) FROM pgtrickle.pgt_stream_tables) AS sts,
           (SELECT count(*) FROM pgtrickle.pgt_dependencies) AS deps,
           (SELECT count(*) FROM pgtrickle.pgt_change_tracking) AS tracking,
           (SELECT string_agg(c.relname, ',' ORDER BY c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE n.nspname IN ('public', 'pgtrickle_changes') AND c.relkind IN ('r', 'p')) AS tables,
           (SELECT string_agg(tgname, ',' ORDER BY tgname) FROM pg_trigger WHERE NOT tgisinternal) AS triggers`);
  return JSON.stringify(res.rows[0]);
}

beforeAll(async () => {
  await db.query(`
    CREATE TABLE items (id int PRIMARY KEY, name text, price numeric);
    INSERT INTO items VALUES (1, 'a', 1), (2, 'b', 2);
  `);
  await trickle().createStreamTable({ name: 'base_st', query: 'SELECT id, price FROM items' });
  await trickle().createStreamTable({ name: 'reader_st', query: 'SELECT id FROM base_st WHERE price > 1' });
  await trickle().createStreamTable({ name: 'ring_a', query: 'SELECT id FROM items' });
  await trickle().createStreamTable({ name: 'ring_b', query: 'SELECT id FROM ring_a' });
  await trickle().createStreamTable({ name: 'ring_c', query: 'SELECT id FROM ring_b' });
});

describe('refused input leaves nothing behind', () => {
  const cases: { what: string; run: () => Promise<unknown>; code: string; message: RegExp }[] = [
    {
      what: 'a syntax error',
      run: () => trickle().createStreamTable({ name: 's1', query: 'SELEC id FROM items' }),
      code: 'PGT_SYNTAX',
      message: /syntax error at or near "SELEC".*line 1/,
    },
    {
      what: 'an unknown table',
      run: () => trickle().createStreamTable({ name: 's2', query: 'SELECT * FROM nope' }),
      code: 'PGT_UNKNOWN_RELATION',
      message: /"nope" does not exist/,
    },
    {
      what: 'an unknown column',
      run: () => trickle().createStreamTable({ name: 's3', query: 'SELECT nope FROM items' }),
      code: 'PGT_UNKNOWN_COLUMN',
      message: /"nope" does not exist/,
    },
    {
      what: 'an ambiguous column in FULL mode (PostgreSQL names no candidates)',
      run: () =>
        trickle().createStreamTable({
          name: 's3a',
          query: 'SELECT id FROM items AS a, items AS b',
          refreshMode: 'FULL',
        }),
      code: 'PGT_AMBIGUOUS_COLUMN',
      message: /"id" is ambiguous.*: more than one FROM item has a column of that name\. Qualify it/,
    },
    {
      what: 'an ambiguous column (DIFFERENTIAL), naming the candidates',
      run: () =>
        trickle().createStreamTable({
          name: 's3b',
          query: 'SELECT id FROM items AS a, items AS b',
          refreshMode: 'DIFFERENTIAL',
        }),
      code: 'PGT_AMBIGUOUS_COLUMN',
      message: /it could be "a"\."id" or "b"\."id"/,
    },
    {
      what: 'a duplicate name',
      run: () => trickle().createStreamTable({ name: 'base_st', query: 'SELECT id FROM items' }),
      code: 'PGT_ALREADY_EXISTS',
      message: /base_st already exists/,
    },
    {
      what: 'a name taken by a plain table',
      run: () => trickle().createStreamTable({ name: 'items', query: 'SELECT id FROM items' }),
      code: 'PGT_ALREADY_EXISTS',
      message: /table or view/,
    },
    {
      what: 'a volatile function in DIFFERENTIAL mode',
      run: () =>
        trickle().createStreamTable({
          name: 's4',
          query: 'SELECT id, random() AS r FROM items',
          refreshMode: 'DIFFERENTIAL',
        }),
      code: 'PGT_UNSUPPORTED',
      message: /volatile function random\(\)/,
    },
    {
      what: 'now() in DIFFERENTIAL mode',
      run: () =>
        trickle().createStreamTable({
          name: 's5',
          query: 'SELECT id FROM items WHERE now() > now()',
          refreshMode: 'DIFFERENTIAL',
        }),
      code: 'PGT_UNSUPPORTED',
      message: /time-dependent function now\(\)/,
    },
    {
      what: 'IMMEDIATE with a TopK beyond its bound',
      run: () =>
        trickle().createStreamTable({
          name: 's6',
          query: 'SELECT id FROM items ORDER BY id LIMIT 5000',
          refreshMode: 'IMMEDIATE',
        }),
      code: 'PGT_UNSUPPORTED',
      message: /IMMEDIATE/,
    },
    {
      what: 'an invalid schedule',
      run: () => trickle().createStreamTable({ name: 's7', query: 'SELECT id FROM items', schedule: 'soon' }),
      code: 'PGT_INVALID_ARGUMENT',
      message: /not a schedule/,
    },
    {
      what: 'an invalid mode',
      run: () =>
        trickle().createStreamTable({
          name: 's8',
          query: 'SELECT id FROM items',
          refreshMode: 'SOMETIMES' as never,
        }),
      code: 'PGT_INVALID_ARGUMENT',
      message: /refreshMode must be/,
    },
    {
      what: 'two statements',
      run: () => trickle().createStreamTable({ name: 's9', query: 'SELECT 1 FROM items; DROP TABLE items' }),
      code: 'PGT_UNSUPPORTED',
      message: /2 statements/,
    },
    {
      what: 'a non-SELECT statement',
      run: () => trickle().createStreamTable({ name: 's10', query: 'DELETE FROM items' }),
      code: 'PGT_UNSUPPORTED',
      message: /DELETE statement/,
    },
    {
      what: 'duplicate output column names',
      run: () => trickle().createStreamTable({ name: 's11', query: 'SELECT id, id FROM items' }),
      code: 'PGT_INVALID_QUERY',
      message: /Two output columns are named "id"/,
    },
    {
      what: 'a malformed name',
      run: () => trickle().createStreamTable({ name: 'a.b.c', query: 'SELECT id FROM items' }),
      code: 'PGT_INVALID_ARGUMENT',
      message: /\[schema\.\]name/,
    },
    {
      what: 'a schema that does not exist',
      run: () => trickle().createStreamTable({ name: 'nowhere.x', query: 'SELECT id FROM items' }),
      code: 'PGT_INVALID_ARGUMENT',
      message: /Schema "nowhere" does not exist/,
    },
    {
      what: 'a cycle between stream tables',
      run: () =>
        trickle().alterStreamTable('base_st', { query: 'SELECT id, 1::numeric AS price FROM reader_st' }),
      code: 'PGT_CYCLE',
      message: /cycle: .*base_st.*reader_st|cycle: .*reader_st.*base_st/,
    },
    {
      what: 'a longer cycle, named in order',
      run: () => trickle().alterStreamTable('ring_a', { query: 'SELECT id FROM ring_c' }),
      code: 'PGT_CYCLE',
      message: /cycle: public\.ring_a → public\.ring_c → public\.ring_b → public\.ring_a/,
    },
    {
      what: 'dropping a stream table another one reads',
      run: () => trickle().dropStreamTable('base_st'),
      code: 'PGT_HAS_DEPENDENTS',
      message: /read by public\.reader_st.*cascade/,
    },
    {
      what: 'dropping an unknown stream table',
      run: () => trickle().dropStreamTable('ghost'),
      code: 'PGT_NOT_FOUND',
      message: /no stream table public\.ghost/,
    },
    {
      what: 'refreshing an unknown stream table',
      run: () => trickle().refresh('ghost'),
      code: 'PGT_NOT_FOUND',
      message: /no stream table/,
    },
  ];
  for (const c of cases) {
    it(`refuses ${c.what}`, async () => {
      const before = await footprint();
      const error = await c.run().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error, 'the call must fail').toBeInstanceOf(Error);
      expect((error as { code?: string }).code).toBe(c.code);
      expect((error as Error).message).toMatch(c.message);
      expect(await footprint()).toBe(before);
    });
  }

  it('AUTO falls back to FULL for a query without a delta rule yet, and says why', async () => {
    const st = await trickle().createStreamTable({
      name: 'auto_st',
      query: 'SELECT id, random() > 2 AS never FROM items',
    });
    expect(st.effectiveMode).toBe('FULL');
    expect(st.modeReason).toMatch(/volatile function random\(\)/);
    await trickle().dropStreamTable('auto_st');
  });

  it('drops a stream table with its readers when asked to cascade', async () => {
    await trickle().createStreamTable({ name: 'up2', query: 'SELECT id FROM items' });
    await trickle().createStreamTable({ name: 'down2', query: 'SELECT id FROM up2' });
    const { dropped } = await trickle().dropStreamTable('up2', { cascade: true });
    expect(dropped).toEqual(['public.down2', 'public.up2']);
    const left = await db.query(
      `SELECT count(*)::int AS n FROM pgtrickle.pgt_stream_tables WHERE table_name IN ('up2', 'down2')`,
    );
    expect(left.rows[0]?.n).toBe(0);
  });
});
