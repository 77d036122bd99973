/**
 * Test support: a stream table maintained by a compiled plan over the test database, the way the
 * client does it (capture DDL per source, storage DDL, population, refreshes in transactions),
 * with the oracle check after each step.
 */
import {
  baseCaptureDdl,
  type CompiledPlan,
  captureSyncDdl,
  changesSchemaDdl,
  compileStreamTable,
  createSqlCatalogPort,
  type DvmError,
  type Frontier,
  type RefreshResult,
  type RequestedMode,
  runRefresh,
  SOURCE_DDL_EVENT_TRIGGER,
  type SqlExecutor,
  type StreamTableInfo,
  sourceDdlEventTriggerDdl,
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
  /** The server version the catalog port reports (default: the test server's own). */
  readonly serverVersionNum?: number;
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
    const captureEpoch = this.consumers > 0 ? String(this.epoch + 1) : null;
    const result = await withTransaction(this.db, (client) =>
      runRefresh(this.plan, client as unknown as SqlExecutor, {
        action,
        frontier: this.frontier,
        captureEpoch,
        pgtId: this.pgtId,
      }),
    );
    this.frontier = result.frontier;
    if (captureEpoch !== null) this.epoch++;
    return result;
  }

  /** The oracle: the table equals its query, no negative counts. */
  async check(): Promise<void> {
    await expectTableEqualsQuery(this.db, this.relation, this.plan.query, {
      ...(this.options.floatDigits === undefined ? {} : { floatDigits: this.options.floatDigits }),
    });
    await expectNoNegativeCounts(this.db, this.relation);
  }

  /** Refresh differentially, then the oracle ({@link check}). */
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

/** The error compiling `query` DIFFERENTIAL fails with (a test failure when it compiles). */
export async function refusalOf(db: TestDatabase, query: string): Promise<DvmError> {
  const error = await compileStreamTable(query, portFor(db), {
    name: { schema: 'public', name: 'st_refused' },
    refreshMode: 'DIFFERENTIAL',
  }).then(
    () => null,
    (e: unknown) => e as DvmError,
  );
  if (error === null) throw new Error(`expected a refusal of: ${query}`);
  return error;
}

const machineryReady = new WeakSet<TestDatabase>();

/**
 * Installs the capture machinery in the test database once, with the DDL event trigger (typed
 * capture) unless `PGTRICKLE_TEST_CAPTURE_FORMAT=text` asks for the text format everywhere.
 */
export async function ensureCaptureMachinery(db: TestDatabase): Promise<void> {
  if (machineryReady.has(db)) return;
  for (const sql of [...changesSchemaDdl(), ...captureSyncDdl()]) await db.query(sql);
  const exists = await db.query('SELECT 1 FROM pg_catalog.pg_event_trigger WHERE evtname = $1', [
    SOURCE_DDL_EVENT_TRIGGER,
  ]);
  if (process.env.PGTRICKLE_TEST_CAPTURE_FORMAT !== 'text' && exists.rows.length === 0) {
    for (const sql of sourceDdlEventTriggerDdl()) await db.query(sql);
  }
  machineryReady.add(db);
}

/** Compiles and creates a stream table `name` for `query`, populated, with capture on its sources. */
export async function maintain(
  db: TestDatabase,
  name: string,
  query: string,
  options: MaintainOptions = {},
): Promise<Maintained> {
  const schema = options.schema ?? 'public';
  await ensureCaptureMachinery(db);
  const base = portFor(db);
  const version = options.serverVersionNum;
  const port = version === undefined ? base : { ...base, serverVersionNum: async () => version };
  const plan = await compileStreamTable(query, port, {
    name: { schema, name },
    refreshMode: options.mode ?? 'DIFFERENTIAL',
  });
  const m = new Maintained(db, plan, name, options);
  await withTransaction(db, async (client) => {
    for (const s of plan.sources) {
      if (s.kind === 'table') {
        for (const sql of baseCaptureDdl({ oid: s.oid })) await client.query(sql);
      } else {
        const up = [...registry.values()].find((r) => r.pgtId === s.pgtId);
        if (up === undefined) throw new Error(`unknown upstream stream table ${s.name}`);
        for (const sql of streamBufferDdl(s.pgtId as number, s.columns)) await client.query(sql);
        up.maintained.consumers++;
      }
    }
    for (const sql of plan.storageDdl()) await client.query(sql);
  });
  const oid = await db.query<{ oid: number }>('SELECT to_regclass($1)::oid::int AS oid', [m.relation]);
  registry.set(Number(oid.rows[0]?.oid), { pgtId: m.pgtId, uniqueRowIds: plan.uniqueRowIds, maintained: m });
  await m.refresh('FULL');
  return m;
}

/** Runs `body` on one pooled connection between BEGIN and COMMIT (ROLLBACK when it throws). */
export async function withTransaction<T>(
  db: TestDatabase,
  body: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const client = await db.pool.connect();
  try {
    await client.query('BEGIN');
    const result = await body(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

/** Runs statements on one connection in a transaction. */
export async function inTransaction(db: TestDatabase, statements: readonly string[]): Promise<void> {
  await withTransaction(db, async (client) => {
    for (const s of statements) await client.query(s);
  });
}
