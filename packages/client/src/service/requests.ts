/**
 * Requests made through the SQL API (`pgtrickle.create_stream_table(…)` etc.): the functions
 * validate what they can, record a row in `pgtrickle.pgt_requests` and NOTIFY; the leading sidecar
 * executes each pending request, oldest first, through the same stream-table service acting as the
 * requesting role (its owner checks, and queries run with the owner's rights), and marks it DONE
 * or FAILED with the error message (`pgtrickle.pgt_status` shows PENDING → ACTIVE or ERROR).
 * Executing a request again after a crash between the work and the mark is harmless: a create
 * whose table exists with the same query, or a drop whose table is gone, counts as done.
 */
import { claimRequests, finishRequest, type RequestRow } from '../catalog/claim-requests.js';
import { findStreamTable, streamTableById } from '../catalog/find-stream-table.js';
import { findDeployment } from '../catalog/green-deployments.js';
import type { DiamondSettings } from '../catalog/settings.js';
import { sqlName } from '../names.js';
import type { Trickle } from '../trickle.js';

/** What processing did. */
export interface RequestsProcessed {
  readonly done: number;
  readonly failed: number;
}

/** Executes every pending request in order. */
export async function processRequests(trickle: Trickle): Promise<RequestsProcessed> {
  const pending = await claimRequests(trickle.db);
  let done = 0;
  let failed = 0;
  for (const r of pending) {
    const name = sqlName(r.schema, r.name);
    try {
      await execute(trickle, r, name);
      await finishRequest(trickle.db, r.requestId, null);
      done++;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      await finishRequest(trickle.db, r.requestId, message);
      failed++;
    }
  }
  return { done, failed };
}

/** The diamond settings of a create request's options. */
function diamondOptions(options: Record<string, unknown>): DiamondSettings {
  return {
    ...(typeof options.diamond_consistency === 'string'
      ? { consistency: options.diamond_consistency as DiamondSettings['consistency'] }
      : {}),
    ...(typeof options.diamond_schedule_policy === 'string'
      ? { schedulePolicy: options.diamond_schedule_policy as DiamondSettings['schedulePolicy'] }
      : {}),
  };
}

/** The query, mode and schedule an alter or create_green request gives (absent: unchanged / inherited). */
function definitionChanges(r: RequestRow): {
  query?: string;
  refreshMode?: NonNullable<RequestRow['refreshMode']>;
  schedule?: string | null;
} {
  return {
    ...(r.query === null ? {} : { query: r.query }),
    ...(r.refreshMode === null ? {} : { refreshMode: r.refreshMode }),
    ...(r.setSchedule ? { schedule: r.schedule } : {}),
  };
}

async function execute(trickle: Trickle, r: RequestRow, name: string): Promise<void> {
  const tables = trickle.streamTables;
  const actor = r.requester;
  switch (r.kind) {
    case 'create': {
      const existing = await findStreamTable(trickle.db, r.schema, r.name);
      if (existing !== null && existing.query === r.query) return; // done before a crash
      await tables.create(
        {
          name,
          query: r.query ?? '',
          ...(r.refreshMode === null ? {} : { refreshMode: r.refreshMode }),
          schedule: r.schedule,
          searchPath: actor.searchPath,
          diamond: diamondOptions(r.options),
        },
        actor,
      );
      return;
    }
    case 'alter':
      await tables.alter(name, definitionChanges(r), actor);
      return;
    case 'drop': {
      if ((await findStreamTable(trickle.db, r.schema, r.name)) === null) return;
      await tables.drop(name, { cascade: r.cascadeDrop }, actor);
      return;
    }
    case 'refresh':
      await tables.refresh(name, {}, actor);
      return;
    case 'resume':
      await tables.alter(name, { status: 'ACTIVE' }, actor);
      return;
    case 'create_green': {
      // Done before a crash: the deployment it started is open with this query.
      const open = await findDeployment(trickle.db, r.schema, r.name);
      if (open !== null && open.state !== 'ROLLED_BACK' && open.state !== 'RETIRED') {
        const green = await streamTableById(trickle.db, open.greenId);
        if (green !== null && green.greenOf !== null && (r.query === null || green.query === r.query)) return;
      }
      await trickle.blueGreen.create(name, definitionChanges(r), actor);
      return;
    }
    case 'promote_green': {
      if ((await findDeployment(trickle.db, r.schema, r.name))?.state === 'PROMOTED') return;
      await trickle.blueGreen.promote(
        name,
        {
          force: r.options.force === true,
          cascade: r.options.cascade === true,
          verify: r.options.verify === true,
          ...(typeof r.options.max_lag_ms === 'number' ? { maxLagMs: r.options.max_lag_ms } : {}),
        },
        actor,
      );
      return;
    }
    case 'cancel_green':
    case 'rollback_green': {
      if ((await findDeployment(trickle.db, r.schema, r.name))?.state === 'ROLLED_BACK') return;
      if (r.kind === 'cancel_green') await trickle.blueGreen.cancel(name, actor);
      else await trickle.blueGreen.rollback(name, actor);
      return;
    }
    case 'drop_retired': {
      if ((await findDeployment(trickle.db, r.schema, r.name))?.state === 'RETIRED') return;
      await trickle.blueGreen.dropRetired(name, actor);
      return;
    }
  }
}
