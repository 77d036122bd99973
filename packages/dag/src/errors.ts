/**
 * Errors of @pgtrickle/dag. Rule: every rejected change throws one of these classes, each with a
 * stable `code` (the `PGT_*` names the other pgtrickle packages use too) and a message saying what
 * happened and what to do; a rejected change never leaves the graph modified.
 */

/** Stable error codes used by this package. */
export type DagErrorCode =
  | 'PGT_CYCLE'
  | 'PGT_NOT_FOUND'
  | 'PGT_ALREADY_EXISTS'
  | 'PGT_DEPENDENTS_EXIST'
  | 'PGT_INVALID_ARGUMENT';

/** Base class of every error thrown by @pgtrickle/dag. */
export class DagError extends Error {
  /** Stable machine-readable code. */
  readonly code: DagErrorCode;

  constructor(code: DagErrorCode, message: string) {
    super(message);
    this.name = new.target.name;
    this.code = code;
  }
}

/** Formats a cycle as "a → b → c → a" (arrows point from a table to the stream table reading it). */
export function formatCycle(cycle: readonly string[]): string {
  return cycle.join(' → ');
}

/** A change would make the graph cyclic; `cycle` lists one real cycle, first node repeated last. */
export class CycleError extends DagError {
  /** The nodes of one cycle in edge order, e.g. ['a', 'b', 'c', 'a']. */
  readonly cycle: readonly string[];

  constructor(cycle: readonly string[]) {
    const first = cycle[0] ?? '?';
    const last = cycle[cycle.length - 2] ?? first;
    super(
      'PGT_CYCLE',
      `dependency cycle ${formatCycle(cycle)}: a stream table cannot read itself, directly or ` +
        `through other stream tables (arrows point from a table to its reader). ` +
        `Remove one of these dependencies, e.g. do not let "${first}" read "${last}".`,
    );
    this.cycle = cycle;
  }
}

/** A node id was referenced that is not in the graph. */
export class UnknownNodeError extends DagError {
  /** The ids that were not found. */
  readonly ids: readonly string[];

  constructor(ids: readonly string[], context?: string) {
    const list = ids.map((id) => `"${id}"`).join(', ');
    super(
      'PGT_NOT_FOUND',
      `${ids.length === 1 ? 'node' : 'nodes'} ${list} not found${context ? ` (${context})` : ''}. ` +
        'Add sources with addSource() and stream tables with addStreamTable() before referencing them.',
    );
    this.ids = ids;
  }
}

/** A node with this id already exists. */
export class DuplicateNodeError extends DagError {
  /** The duplicated id. */
  readonly id: string;

  constructor(id: string) {
    super(
      'PGT_ALREADY_EXISTS',
      `node "${id}" already exists. Use setReads()/setSchedule() to alter a stream table, ` +
        'or removeNode() first to replace it.',
    );
    this.id = id;
  }
}

/** A node cannot be removed because stream tables read it. */
export class DependentsExistError extends DagError {
  /** The node that was to be removed. */
  readonly id: string;
  /** Its direct dependents (stream tables reading it). */
  readonly dependents: readonly string[];

  constructor(id: string, dependents: readonly string[]) {
    super(
      'PGT_DEPENDENTS_EXIST',
      `cannot remove "${id}": read by ${dependents.map((d) => `"${d}"`).join(', ')}. ` +
        'Remove those first, or pass { cascade: true } to remove them too.',
    );
    this.id = id;
    this.dependents = dependents;
  }
}

/** An argument is malformed (bad schedule, wrong node kind, bad option). */
export class InvalidArgumentError extends DagError {
  constructor(message: string) {
    super('PGT_INVALID_ARGUMENT', message);
  }
}
