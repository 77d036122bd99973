/**
 * Declared refresh groups and the consistency groups the scheduler runs, from TypeScript. Rule:
 * every call goes through the SQL API (`pgtrickle.create_refresh_group`, `drop_refresh_group`,
 * `refresh_groups()`, `diamond_groups()`), so TypeScript and SQL callers get the same validation,
 * the same ownership checks and the same transactionality; SQL errors come back as client errors
 * with stable codes (the database error attached as `cause`).
 */
import type { Queryable } from './catalog/schema.js';
import { sqlState } from './db.js';
import { ClientError, InvalidArgumentError, PermissionDeniedError } from './errors.js';

/** Isolation of a declared refresh group. */
export type RefreshGroupIsolation = 'read_committed' | 'repeatable_read';

/** A declared refresh group, as `refresh_groups()` shows it. */
export interface RefreshGroupInfo {
  readonly groupId: number;
  readonly name: string;
  readonly memberCount: number;
  readonly isolation: RefreshGroupIsolation;
  readonly createdAt: Date;
  /** Members as quoted qualified names, in the order given at creation. */
  readonly members: readonly string[];
}

/** One member row of `diamond_groups()`. */
export interface DiamondGroupMember {
  readonly groupId: number;
  readonly memberName: string;
  readonly memberSchema: string;
  readonly isConvergence: boolean;
  /** Atomic commits of the group so far. */
  readonly epoch: number;
  readonly schedulePolicy: 'fastest' | 'slowest';
  /** 'atomic', or 'none' when a member's diamond_consistency makes the members refresh independently. */
  readonly consistency: 'none' | 'atomic';
}

function asClientError(error: unknown): unknown {
  const message = error instanceof Error ? error.message : String(error);
  switch (sqlState(error)) {
    case '22023':
      return new InvalidArgumentError(message, { cause: error });
    case '42P01':
      return new ClientError('PGT_NOT_FOUND', `${message}. status() lists the stream tables.`, {
        cause: error,
      });
    case '42704':
      return new ClientError('PGT_NOT_FOUND', `${message}. refreshGroups() lists the refresh groups.`, {
        cause: error,
      });
    case '42710':
      return new ClientError(
        'PGT_ALREADY_EXISTS',
        `${message}. Choose another name, or drop it first (dropRefreshGroup).`,
        {
          cause: error,
        },
      );
    case '42501':
      return new PermissionDeniedError(message, { cause: error });
    default:
      return error;
  }
}

/** Creates a declared refresh group; returns its id. */
export async function createRefreshGroup(
  q: Queryable,
  name: string,
  members: readonly string[],
  isolation: RefreshGroupIsolation = 'read_committed',
): Promise<number> {
  try {
    const res = await q.query('SELECT pgtrickle.create_refresh_group($1, $2::text[], $3) AS id', [
      name,
      members,
      isolation,
    ]);
    return Number(res.rows[0]?.id);
  } catch (error) {
    throw asClientError(error);
  }
}

/** Drops a declared refresh group. */
export async function dropRefreshGroup(q: Queryable, name: string): Promise<void> {
  try {
    await q.query('SELECT pgtrickle.drop_refresh_group($1)', [name]);
  } catch (error) {
    throw asClientError(error);
  }
}

/** The declared refresh groups with a member the caller owns. */
export async function refreshGroups(q: Queryable): Promise<RefreshGroupInfo[]> {
  const res = await q.query('SELECT * FROM pgtrickle.refresh_groups()');
  return res.rows.map((r) => ({
    groupId: Number(r.group_id),
    name: String(r.group_name),
    memberCount: Number(r.member_count),
    isolation: r.isolation as RefreshGroupIsolation,
    createdAt: new Date(r.created_at as string),
    members: (r.members as string[]).map(String),
  }));
}

/** The diamonds' consistency groups as the scheduler last planned them (members the caller owns). */
export async function diamondGroups(q: Queryable): Promise<DiamondGroupMember[]> {
  const res = await q.query('SELECT * FROM pgtrickle.diamond_groups()');
  return res.rows.map((r) => ({
    groupId: Number(r.group_id),
    memberName: String(r.member_name),
    memberSchema: String(r.member_schema),
    isConvergence: r.is_convergence === true,
    epoch: Number(r.epoch),
    schedulePolicy: r.schedule_policy as DiamondGroupMember['schedulePolicy'],
    consistency: r.consistency as DiamondGroupMember['consistency'],
  }));
}
