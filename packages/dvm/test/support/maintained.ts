/**
 * Test support: a stream table maintained by a compiled plan over the test database, the way the
 * client does it (capture DDL per source, storage DDL, population, refreshes in transactions),
 * with the oracle check after each step.
 */
import {
  baseCaptureDdl,
  type CompiledPlan,
  compileStreamTable,
  createSqlCatalogPort,
  type Frontier,
  type RefreshResult,
  type RequestedMode,
  runRefresh,
  type SqlExecutor,
  type StreamTableInfo,
  streamBufferDdl,
} from '@pgtrickle/dvm';
import { expectNoNegativeCounts, expectTableEqualsQuery, type TestDatabase } from '@pgtrickle/testkit';
import type pg from 'pg';

/** Stream tables created in this file, by storage oid (for `streamTableOf`). */
const registry = new Map<number, { pgtId: number; uniqueRowIds: boolean; maintained: Maintained }>();
let nextPgtId = 1;

/** Options of {@link maintain}. */
export interface MaintainOptions {
  readonly mode?: RequestedMode;
  readonly schema?: string;
  /** Oracle float rounding. */
  readonly floatDigits?: number;
}

/** A stream table under test. */
export class Maintained {
  frontier: Frontier | null = null;
  epoch = 0;
  consumers = 0;
  readonly pgtId: number;

  constructor(
    readonly db: TestDatabase,
    readonly plan: CompiledPlan,
    readonly name: string,
    readonly options: MaintainOptions,
  ) {
    this.pgtId = nextPgtId++;
  }

  /** The qualified storage name as SQL. */
  get relation(): string {
    return `"${this.plan.storage.schema}"."${this.plan.storage.name}"`;
  }

  /** One refresh in its own transaction. */
  async refresh(action: 'FULL' | 'DIFFERENTIAL' = 'DIFFERENTIAL'): Promise<RefreshResult> {
    const client = await this.db.pool.connect();
    try {
      await client.query('BEGIN');
      const captureEpoch = this.consumers > 0 ? String(this.epoch + 1) : null;
      const result = await runRefresh(this.plan, client as unknown as SqlExecutor, {
        action,
        frontier: this.frontier,
        captureEpoch,
        pgtId: this.pgtId,
      });
      await client.query('COMMIT');
      this.frontier = result.frontier;
      if (captureEpoch !== null) this.epoch++;
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  /** The oracle: the table equals its query, no negative counts. */
  async check(): Promise<void> {
    await expectTableEqualsQuery(this.db, this.relation, this.plan.query, {
      ...(this.options.floatDigits === undefined ? {} : { floatDigits: this.options.floatDigits }),
    });
    await expectNoNegativeCounts(this.db, this.relation);
  }

  /** Refresh differentially, check; then check a FULL refresh agrees too (on a copy of the state). */
  async refreshAndCheck(): Promise<RefreshResult> {
    const r = await this.refresh('DIFFERENTIAL');
    await this.check();
    return r;
  }
}

/** A catalog port over the test database that knows this file's stream tables. */
export function portFor(db: TestDatabase) {
  return createSqlCatalogPort(db.pool as unknown as SqlExecutor, {
    async streamTableOf(oid: number): Promise<StreamTableInfo | null> {
      const st = registry.get(oid);
      return st === undefined ? null : { pgtId: st.pgtId, uniqueRowIds: st.uniqueRowIds };
    },
  });
}

/** Compiles and creates a stream table `name` for `query`, populated, with capture on its sources. */
export async function maintain(
  db: TestDatabase,
  name: string,
  query: string,
  options: MaintainOptions = {},
): Promise<Maintained> {
  const schema = options.schema ?? 'public';
  const plan = await compileStreamTable(query, portFor(db), {
    name: { schema, name },
    refreshMode: options.mode ?? 'DIFFERENTIAL',
  });
  const m = new Maintained(db, plan, name, options);
  const client = await db.pool.connect();
  try {
    await client.query('BEGIN');
    for (const s of plan.sources) {
      if (s.kind === 'table') {
        for (const sql of baseCaptureDdl({ oid: s.oid, schema: s.schema, name: s.name, columns: s.columns }))
          await client.query(sql);
      } else {
        const up = [...registry.values()].find((r) => r.pgtId === s.pgtId);
        if (up === undefined) throw new Error(`unknown upstream stream table ${s.name}`);
        for (const sql of streamBufferDdl(s.pgtId as number, s.columns)) await client.query(sql);
        up.maintained.consumers++;
      }
    }
    for (const sql of plan.storageDdl()) await client.query(sql);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
  const oid = await db.query<{ oid: number }>('SELECT to_regclass($1)::oid::int AS oid', [m.relation]);
  registry.set(Number(oid.rows[0]?.oid), { pgtId: m.pgtId, uniqueRowIds: plan.uniqueRowIds, maintained: m });
  await m.refresh('FULL');
  return m;
}

/** Runs statements on one connection in a transaction. */
export async function inTransaction(db: TestDatabase, statements: readonly string[]): Promise<void> {
  const client: pg.PoolClient = await db.pool.connect();
  try {
    await client.query('BEGIN');
    for (const s of statements) await client.query(s);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}
