/**
 * Errors of @pgtrickle/groups. Rule: invalid group definitions or arguments throw
 * `InvalidGroupError` (code PGT_INVALID_ARGUMENT) listing every problem found; a failed group
 * refresh is reported as `GroupExecutionError` (code PGT_GROUP_FAILED) with the failing member and
 * the original error as `cause`.
 */

/** Stable error codes used by this package. */
export type GroupErrorCode = 'PGT_INVALID_ARGUMENT' | 'PGT_GROUP_FAILED';

/** Base class of every error of @pgtrickle/groups. */
export class GroupError extends Error {
  /** Stable machine-readable code. */
  readonly code: GroupErrorCode;

  constructor(code: GroupErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A group definition or argument is invalid; `problems` lists each problem. */
export class InvalidGroupError extends GroupError {
  /** One sentence per problem found. */
  readonly problems: readonly string[];

  constructor(problems: readonly string[], hint = 'Fix the group definitions and try again.') {
    super(
      'PGT_INVALID_ARGUMENT',
      `invalid consistency group${problems.length === 1 ? '' : 's'}: ${problems.join('; ')}. ${hint}`,
    );
    this.problems = problems;
  }
}

/** A group refresh failed and was rolled back as a whole. */
export class GroupExecutionError extends GroupError {
  /** Id of the group whose refresh failed. */
  readonly groupId: string;
  /** The member whose refresh failed; null when beginning or committing the transaction failed. */
  readonly member: string | null;
  /** Members that had completed before the failure (their effects were rolled back too). */
  readonly rolledBack: readonly string[];
  /** Set when rolling back itself failed (the transaction state is then unknown). */
  readonly rollbackError: unknown;

  constructor(args: {
    groupId: string;
    member: string | null;
    rolledBack: readonly string[];
    cause: unknown;
    rollbackError?: unknown;
  }) {
    const what = args.member === null ? 'while committing' : `at member "${args.member}"`;
    const causeText = args.cause instanceof Error ? args.cause.message : String(args.cause);
    super(
      'PGT_GROUP_FAILED',
      `refresh of consistency group "${args.groupId}" failed ${what}: ${causeText}. ` +
        (args.rollbackError === undefined
          ? 'No member kept its changes; fix the cause and the whole group is refreshed again.'
          : 'Rolling back also failed, so the transaction state is unknown; check the connection.'),
      { cause: args.cause },
    );
    this.groupId = args.groupId;
    this.member = args.member;
    this.rolledBack = args.rolledBack;
    this.rollbackError = args.rollbackError;
  }
}

/** A transaction was used after it ended. */
export class TransactionClosedError extends GroupError {
  constructor(state: string) {
    super(
      'PGT_INVALID_ARGUMENT',
      `transaction is already ${state}. Begin a new transaction; do not keep a group transaction after its refresh.`,
    );
  }
}
