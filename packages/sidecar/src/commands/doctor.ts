/**
 * `pgtrickle doctor`: checks a database for running pgtrickle, one line each (pass / warn / fail /
 * info), and exits non-zero when any check fails. Failing checks are what keeps pgtrickle from
 * working (no connection, a server older than 14, a foreign catalog, missing privileges); warnings
 * need attention but do not stop it (a catalog to migrate, tables in ERROR or SUSPENDED, large
 * change buffers, no live leader, requests nobody processes).
 * Every check runs on its own: one that cannot run (e.g. permission denied on pgtrickle's tables
 * for a role without privileges) fails with the reason, and the others still run. Without a
 * catalog, capture triggers left behind (their buffers keep filling) fail the check `capture`.
 */
import {
  API_ROLE,
  allStreamTables,
  apiRoleMembers,
  CATALOG_SCHEMA_NAME,
  CATALOG_VERSION,
  CHANGES_SCHEMA_NAME,
  captureGrants,
  captureHealth,
  captureTriggers,
  catalogSchemaGrants,
  catalogState,
  changeBufferSizes,
  Db,
  DEFAULT_MAX_PINNED_ROWS,
  displayName,
  failedCreateRequests,
  LEADER_LOCK_KEY,
  missingPublicViews,
  missingStorageOids,
  pendingRequestSummary,
  pinnedBuffers,
  readLease,
  rolesNotActedAs,
  streamTableSchemas,
} from '@pgtrickle/client';
import { redactUrl } from '../config.js';
import { asConnectionError, type CommandContext } from '../context.js';
import { SidecarError } from '../errors.js';
import { formatAge, textTable } from './tables.js';

/** The outcome of one check. */
export type CheckStatus = 'pass' | 'warn' | 'fail' | 'info';

/** One check's line. */
export interface CheckResult {
  readonly check: string;
  readonly status: CheckStatus;
  readonly message: string;
}

/** The oldest server version pgtrickle supports. */
export const MIN_SERVER_VERSION_NUM = 140000;
/** A change buffer with more rows than this is reported (its consumers lag or are not refreshed). */
export const BUFFER_ROWS_WARN = 100_000;
/** A PENDING request older than this means no leader processes requests. */
export const PENDING_REQUEST_WARN_S = 60;

type Row = Record<string, unknown>;

async function rows(db: Db, sql: string, params: unknown[] = []): Promise<Row[]> {
  return (await db.query(sql, params)).rows as Row[];
}

/**
 * Runs every check against `db`; `leaseMs` is the configured lease (for the leader's age),
 * `maxPinnedRows` the bound past which the service releases a stuck table's buffers.
 */
export async function runChecks(
  db: Db,
  url: string,
  leaseMs: number,
  maxPinnedRows: number = DEFAULT_MAX_PINNED_ROWS,
): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  const add = (check: string, status: CheckStatus, message: string) =>
    results.push({ check, status, message });
  // A check that cannot even run (e.g. permission denied on pgtrickle's tables) fails with the reason.
  const guard = async (check: string, body: () => Promise<void>) => {
    try {
      await body();
    } catch (error) {
      add(check, 'fail', `could not check: ${error instanceof Error ? error.message : String(error)}`);
    }
  };

  // Connectivity and version.
  let server: Row;
  try {
    server = (
      await rows(
        db,
        `SELECT current_setting('server_version') AS version, current_setting('server_version_num')::int AS num,
                current_database() AS db, current_user AS usr,
                (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) AS superuser`,
      )
    )[0] as Row;
  } catch (error) {
    const wrapped = asConnectionError(error, url);
    add('connection', 'fail', wrapped instanceof Error ? wrapped.message : String(wrapped));
    return results;
  }
  const num = Number(server.num);
  add(
    'connection',
    num >= MIN_SERVER_VERSION_NUM ? 'pass' : 'fail',
    `PostgreSQL ${String(server.version)} at ${redactUrl(url)} as ${String(server.usr)}${server.superuser === true ? ' (superuser)' : ''}` +
      (num >= MIN_SERVER_VERSION_NUM ? '' : `: pgtrickle needs PostgreSQL 14 or later`),
  );

  // Catalog.
  let state: Awaited<ReturnType<typeof catalogState>>;
  try {
    state = await catalogState(db);
  } catch (error) {
    add(
      'catalog',
      'fail',
      `could not check: ${error instanceof Error ? error.message : String(error)} (this role needs USAGE on schema ${CATALOG_SCHEMA_NAME} and SELECT on its tables; connect as the role that installed pgtrickle)`,
    );
    await guard('settings', () => settingsChecks(db, add));
    return results;
  }
  const hasCatalog = state.installed;
  const installed = state.version;
  if (!hasCatalog) {
    add(
      'catalog',
      'warn',
      `not installed; \`pgtrickle migrate\` (or \`pgtrickle run\`) installs version ${CATALOG_VERSION}`,
    );
    await guard('capture', async () => {
      const left = await captureTriggers(db);
      const buffers = await rows(
        db,
        `SELECT count(*)::int AS n FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = $1 AND c.relkind = 'r'`,
        [CHANGES_SCHEMA_NAME],
      );
      const nBuffers = Number(buffers[0]?.n ?? 0);
      if (left.length > 0)
        add(
          'capture',
          'fail',
          `${left.length} capture trigger(s) left without a catalog (on ${[...new Set(left.map((t) => t.table))].join(', ')}): every write still fills ${nBuffers} change buffer(s) nobody reads. \`pgtrickle uninstall\` removes them (or \`pgtrickle migrate\` reinstalls the catalog)`,
        );
      else if (nBuffers > 0)
        add(
          'capture',
          'warn',
          `${nBuffers} change buffer(s) left in schema ${CHANGES_SCHEMA_NAME} without a catalog: \`pgtrickle uninstall\` removes them`,
        );
    });
  } else if (state.unknown.length > 0)
    add(
      'catalog',
      'fail',
      `version ${installed} is newer than this pgtrickle (${CATALOG_VERSION}); upgrade pgtrickle`,
    );
  else if (state.mismatched.length > 0)
    add(
      'catalog',
      'fail',
      `migration ${state.mismatched.join(', ')} was applied from other statements (another pgtrickle version)`,
    );
  else if (installed < CATALOG_VERSION)
    add(
      'catalog',
      'warn',
      `version ${installed}, ${CATALOG_VERSION - installed} migration(s) pending: \`pgtrickle plan\` shows them, \`pgtrickle migrate\` applies them`,
    );
  else add('catalog', 'pass', `installed, version ${installed} (current)`);
  const hasTables = hasCatalog && installed >= 1;
  const hasApi = hasCatalog && installed >= 3;

  // Privileges.
  await guard('privileges', async () => {
    if (server.superuser === true) {
      add('privileges', 'pass', 'superuser: every privilege pgtrickle needs');
      const members = hasCatalog && installed >= 4 ? await apiRoleMembers(db) : [];
      if (members.length > 0)
        add(
          'least privilege',
          'warn',
          `${String(server.usr)} is a superuser while roles use the SQL API (members of ${API_ROLE}: ${members.join(', ')}). ` +
            'Their queries run with their own rights either way, but the sidecar needs far less: the catalog schemas, ' +
            'TRIGGER on captured sources and membership in the owning roles — see docs/security.md, "Running the sidecar without superuser".',
        );
    } else {
      const missing: string[] = [];
      if (!hasCatalog) {
        const ok =
          (await rows(db, `SELECT has_database_privilege(current_database(), 'CREATE') AS ok`))[0]?.ok ===
          true;
        if (!ok)
          missing.push(
            `CREATE on database ${String(server.db)} (to create the schemas ${CATALOG_SCHEMA_NAME} and ${CHANGES_SCHEMA_NAME})`,
          );
      } else {
        for (const g of await catalogSchemaGrants(db))
          if (g.exists && !g.ok) missing.push(`CREATE, USAGE on schema ${g.schema}`);
      }
      const schemas = hasTables ? await streamTableSchemas(db) : [];
      if (schemas.length === 0)
        schemas.push(String((await rows(db, 'SELECT current_schema() AS s'))[0]?.s ?? 'public'));
      for (const s of schemas) {
        const ok = (await rows(db, `SELECT has_schema_privilege($1, 'CREATE') AS ok`, [s]))[0]?.ok === true;
        if (!ok) missing.push(`CREATE on schema ${s} (stream tables' storage)`);
      }
      if (hasTables) {
        for (const s of await captureGrants(db)) {
          if (!s.trigger) missing.push(`TRIGGER on ${s.name}`);
          if (!s.select) missing.push(`SELECT on ${s.name}`);
        }
      }
      if (hasCatalog && installed >= 4) {
        for (const r of await rolesNotActedAs(db))
          missing.push(
            `membership in role ${r.role}, which ${r.why} (GRANT ${r.role} TO ${String(server.usr)})`,
          );
      }
      if (missing.length === 0)
        add(
          'privileges',
          'pass',
          `${String(server.usr)} has CREATE on the schemas it uses and TRIGGER on every captured source`,
        );
      else add('privileges', 'fail', `${String(server.usr)} lacks ${missing.join('; ')}`);
    }
  });

  // Settings: informational.
  await guard('settings', () => settingsChecks(db, add));

  if (!hasTables) return results;

  // Requests of the SQL API.
  await guard('requests', async () => {
    if (hasApi) {
      const pending = await pendingRequestSummary(db);
      const n = pending.count;
      const oldest = pending.oldestSeconds ?? 0;
      if (n === 0) add('requests', 'pass', 'no pending SQL-API requests');
      else if (oldest > PENDING_REQUEST_WARN_S)
        add(
          'requests',
          'warn',
          `${n} pending request(s), the oldest ${formatAge(oldest)} old: is a \`pgtrickle run\` leading?`,
        );
      else add('requests', 'pass', `${n} pending request(s), the oldest ${formatAge(oldest)} old`);
    }
  });

  // Stream tables.
  await guard('stream tables', async () => {
    const rows = await allStreamTables(db);
    const missing = await missingStorageOids(
      db,
      rows.flatMap((t) => (t.storageOid === null ? [] : [t.storageOid])),
    );
    const views = await missingPublicViews(
      db,
      rows.flatMap((t) => (t.publicOid === null ? [] : [t.publicOid])),
    );
    const tables = rows
      .sort((a, b) => a.schema.localeCompare(b.schema) || a.name.localeCompare(b.name))
      .map((t) => ({
        name: displayName(t.schema, t.name),
        status: t.status,
        lastError: t.lastError,
        storageMissing:
          (t.storageOid !== null && missing.has(t.storageOid)) ||
          (t.publicOid !== null && views.has(t.publicOid)),
      }));
    const gone = tables.filter((t) => t.storageMissing);
    const bad = tables.filter((t) => !t.storageMissing && (t.status === 'ERROR' || t.status === 'SUSPENDED'));
    const failedRequests = hasApi ? await failedCreateRequests(db) : [];
    if (bad.length === 0 && gone.length === 0 && failedRequests.length === 0)
      add('stream tables', 'pass', `${tables.length} stream table(s), none in ERROR or SUSPENDED`);
    for (const t of gone) {
      add(
        'stream tables',
        'warn',
        `${t.name} (${t.status}) has lost its storage table or the view of its name (dropped behind pgtrickle) and cannot be refreshed — drop it with \`pgtrickle drop ${t.name}\` (or SELECT pgtrickle.drop_stream_table('${t.name}')), then create it again if needed`,
      );
    }
    for (const t of bad) {
      add(
        'stream tables',
        'warn',
        `${t.name} is ${t.status}: ${(t.lastError ?? '(no message)').replace(/\s+/g, ' ')} — fix the cause, then \`pgtrickle resume ${t.name}\` (or SELECT pgtrickle.resume_stream_table('${t.name}')), or recreate it`,
      );
    }
    for (const r of failedRequests) {
      add('stream tables', 'warn', `creating ${r.name} failed: ${(r.error ?? '').replace(/\s+/g, ' ')}`);
    }
  });

  // Change buffers.
  await guard('change buffers', async () => {
    const sized = await changeBufferSizes(db, BUFFER_ROWS_WARN * 10);
    const total = sized.reduce((s, b) => s + b.rows, 0);
    const big = sized.filter((b) => b.rows > BUFFER_ROWS_WARN);
    const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
    if (big.length === 0)
      add(
        'change buffers',
        'pass',
        `${sized.length} buffer(s), ${total} row(s) waiting, ${mb(sized.reduce((s, b) => s + b.bytes, 0))}`,
      );
    for (const b of big) {
      add(
        'change buffers',
        'warn',
        `${b.name}: ${b.rows > BUFFER_ROWS_WARN * 10 ? `> ${BUFFER_ROWS_WARN * 10}` : b.rows} rows, ${mb(b.bytes)}: its readers lag (are they refreshed?)`,
      );
    }
  });

  // Buffers held back by tables that are not refreshed.
  await guard('pinned buffers', async () => {
    const pinned = await pinnedBuffers(db, 0, maxPinnedRows);
    const stuck = pinned.filter((p) => p.status === 'SUSPENDED' || p.status === 'ERROR');
    if (stuck.length === 0)
      add('pinned buffers', 'pass', 'no SUSPENDED or ERROR table holds buffer rows back');
    for (const p of stuck) {
      add(
        'pinned buffers',
        'warn',
        `${displayName(p.schema, p.name)} (${p.status}) holds ${p.rows > maxPinnedRows ? `> ${maxPinnedRows}` : p.rows} unconsumed row(s) of ${displayName(p.sourceSchema, p.sourceName)}'s buffer; past refresh.max_pinned_rows (${maxPinnedRows}) the leader releases them (the table is then rebuilt FULL when resumed) — \`pgtrickle resume ${displayName(p.schema, p.name)}\` once its cause is fixed`,
      );
    }
  });

  // Change capture: the DDL event trigger, and capture switched off on some table.
  await guard('change capture', async () => {
    const health = await captureHealth(db);
    const formats = `${health.formats.typed} typed, ${health.formats.text} text`;
    if (health.eventTrigger === 'enabled')
      add('change capture', 'pass', `DDL event trigger enabled; ${formats}`);
    else
      add(
        'change capture',
        health.formats.typed > 0 ? 'warn' : 'info',
        `DDL event trigger ${health.eventTrigger}: new capture uses the text format${
          health.formats.typed > 0 ? ', and DDL on a table with typed capture can make its writes fail' : ''
        } (run \`pgtrickle migrate\` as a superuser to install it); ${formats}`,
      );
    for (const g of health.gaps) {
      add(
        'change capture',
        'warn',
        `${g.table}: ${g.enabled} of ${g.expected} capture triggers enabled: writes are missed until its stream tables' next refresh repairs capture and recomputes (\`pgtrickle refresh NAME\`)`,
      );
    }
  });

  // Leadership.
  await guard('leader', async () => {
    if (hasApi) {
      const leader = await readLease(db, LEADER_LOCK_KEY);
      if (leader === null || leader.holder === null)
        add('leader', 'warn', 'no sidecar has led this database yet: start `pgtrickle run`');
      else {
        const age = leader.ageSeconds ?? Number.POSITIVE_INFINITY;
        const live = leader.lockHolder !== null && age * 1000 <= leaseMs;
        add(
          'leader',
          live ? 'pass' : 'warn',
          `${leader.holder} (epoch ${leader.epoch}), lease renewed ${formatAge(age)} ago${
            live
              ? ''
              : leader.lockHolder === null
                ? ': no sidecar holds the lead now'
                : `: older than the lease (${leaseMs} ms)`
          }`,
        );
      }
    }
  });

  return results;
}

/** The informational settings lines. */
async function settingsChecks(db: Db, add: (check: string, status: CheckStatus, message: string) => void) {
  const settings = (
    await rows(
      db,
      `SELECT current_setting('track_commit_timestamp') AS tct, current_setting('wal_level') AS wal`,
    )
  )[0] as Row;
  add(
    'track_commit_timestamp',
    'info',
    `${String(settings.tct)}: not needed (change windows use transaction snapshots, not commit timestamps)`,
  );
  add(
    'wal_level',
    'info',
    `${String(settings.wal)}: any level works (capture is by triggers; WAL positions only order refreshes)`,
  );
}

/** `pgtrickle doctor [--json]`. */
export async function doctorCommand(ctx: CommandContext, options: { json?: boolean }): Promise<number> {
  const url = ctx.connection();
  const db = new Db({
    connectionString: url,
    application_name: 'pgtrickle doctor',
    connectionTimeoutMillis: 15_000,
    max: 2,
  });
  let results: CheckResult[];
  try {
    results = await runChecks(
      db,
      url,
      ctx.loaded.config.leader.leaseMs,
      ctx.loaded.config.refresh.maxPinnedRows,
    );
  } finally {
    await db.close().catch(() => undefined);
  }
  if (options.json === true) ctx.out(JSON.stringify(results, null, 2));
  else {
    const tty = ctx.io.stdout.isTTY === true;
    const mark: Record<CheckStatus, string> = tty
      ? {
          pass: '\u001b[32m✓ pass\u001b[0m',
          warn: '\u001b[33m! warn\u001b[0m',
          fail: '\u001b[31m✗ fail\u001b[0m',
          info: '\u001b[90m· info\u001b[0m',
        }
      : { pass: 'pass', warn: 'warn', fail: 'FAIL', info: 'info' };
    for (const line of textTable(
      ['', 'CHECK', 'RESULT'],
      results.map((r) => [mark[r.status], r.check, r.message]),
    ).slice(1)) {
      ctx.out(line);
    }
  }
  const failed = results.filter((r) => r.status === 'fail').length;
  const warned = results.filter((r) => r.status === 'warn').length;
  if (options.json !== true) ctx.out(`\n${results.length} checks: ${failed} failed, ${warned} warning(s)`);
  if (failed > 0) {
    throw new SidecarError(
      'PGT_DOCTOR_FAILED',
      `${failed} check(s) failed: ${results
        .filter((r) => r.status === 'fail')
        .map((r) => r.check)
        .join(', ')}`,
    );
  }
  return 0;
}
