/**
 * The GroupExecutionStrategy port: how a group's members are refreshed atomically.
 *
 * Contract for implementations (an in-memory one here; SAVEPOINT / REPEATABLE READ ones over `pg`
 * live in the client): `execute` runs `refreshMember` for each of `members`, one at a time, in the
 * given order (callers pass topological order), inside one transaction at `group.isolation`. It is
 * all-or-nothing: if any member throws — or beginning or committing fails — every member's effects
 * are rolled back and the promise resolves to `{ ok: false, error }` where `error` is a
 * `GroupExecutionError` (code PGT_GROUP_FAILED) naming the failed member, with the original error
 * as `cause`; members after the failed one are not run. It rejects only for invalid arguments
 * (`InvalidGroupError`: no members, a repeated member, or a member outside the group).
 * `GroupTransaction` is deliberately minimal and driver-free; an implementation passes its own
 * subtype (e.g. one carrying a database client) through the `Tx` type parameter.
 */
import { GroupExecutionError, InvalidGroupError } from './errors.js';
import type { ConsistencyGroup } from './group.js';
import type { IsolationLevel } from './isolation.js';

/** The transaction a group's members are refreshed in. */
export interface GroupTransaction {
  /** The group being refreshed. */
  readonly group: ConsistencyGroup;
  /** Isolation the transaction runs under. */
  readonly isolation: IsolationLevel;
  /**
   * Runs `work` inside a nested savepoint: if it throws, only `work`'s effects are undone and the
   * error is rethrown (e.g. try DIFFERENTIAL, fall back to FULL inside the same group transaction).
   */
  savepoint<T>(work: () => Promise<T>): Promise<T>;
}

/** The value one member's refresh returned. */
export interface MemberOutcome<T> {
  /** The member. */
  readonly member: string;
  /** What `refreshMember` returned for it. */
  readonly value: T;
}

/** The outcome of one group execution. */
export type GroupExecutionResult<T> =
  | {
      readonly ok: true;
      readonly group: ConsistencyGroup;
      /** One entry per member, in execution order. */
      readonly results: readonly MemberOutcome<T>[];
    }
  | {
      readonly ok: false;
      readonly group: ConsistencyGroup;
      /** The failure; `error.cause` is the original error. */
      readonly error: GroupExecutionError;
      /** The member that failed; null when begin/commit failed. */
      readonly failedMember: string | null;
      /** Members that had completed and were rolled back with it. */
      readonly rolledBack: readonly string[];
    };

/** Refreshes a consistency group's members atomically. */
export interface GroupExecutionStrategy<Tx extends GroupTransaction = GroupTransaction> {
  /** Name for logs, e.g. 'savepoint' or 'repeatable-read'. */
  readonly name: string;
  /** Runs every member in one all-or-nothing transaction (see the module contract). */
  execute<T>(
    group: ConsistencyGroup,
    members: readonly string[],
    refreshMember: (member: string, tx: Tx) => Promise<T>,
  ): Promise<GroupExecutionResult<T>>;
}

/** Throws InvalidGroupError unless `members` is a non-empty list of distinct members of `group`. */
export function checkExecutionMembers(group: ConsistencyGroup, members: readonly string[]): void {
  const problems: string[] = [];
  if (members.length === 0) problems.push(`nothing to refresh in group "${group.id}"`);
  const inGroup = new Set(group.members);
  const seen = new Set<string>();
  for (const m of members) {
    if (!inGroup.has(m)) problems.push(`"${m}" is not a member of group "${group.id}"`);
    if (seen.has(m)) problems.push(`"${m}" is listed twice`);
    seen.add(m);
  }
  if (problems.length > 0) throw new InvalidGroupError(problems, 'Pass members of the group, each once.');
}

/** Builds the failure result of a group execution. */
export function groupFailure<T>(
  group: ConsistencyGroup,
  failedMember: string | null,
  rolledBack: readonly string[],
  cause: unknown,
  rollbackError?: unknown,
): GroupExecutionResult<T> {
  const error = new GroupExecutionError({
    groupId: group.id,
    member: failedMember,
    rolledBack,
    cause,
    rollbackError,
  });
  return { ok: false, group, error, failedMember, rolledBack };
}

/** Returns the member outcomes of a successful result, or throws its GroupExecutionError. */
export function unwrapGroupResult<T>(result: GroupExecutionResult<T>): readonly MemberOutcome<T>[] {
  if (!result.ok) throw result.error;
  return result.results;
}
