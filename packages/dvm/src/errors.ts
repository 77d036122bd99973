/**
 * Errors of @pgtrickle/dvm. Every error has a stable `code` (match on it, not on the message),
 * a message that says what happened and what to do, and, when the error points into the user's
 * query, its `position` (line:column of the user's text).
 */

/** Stable error codes of @pgtrickle/dvm. */
export type DvmErrorCode =
  | 'PGT_SYNTAX'
  | 'PGT_UNSUPPORTED'
  | 'PGT_UNKNOWN_RELATION'
  | 'PGT_UNKNOWN_COLUMN'
  | 'PGT_AMBIGUOUS_COLUMN'
  | 'PGT_INVALID_QUERY'
  | 'PGT_CATALOG'
  | 'PGT_INTERNAL';

/** A place in the user's query text: 0-based character offset, 1-based line and column. */
export interface SourcePosition {
  readonly offset: number;
  readonly line: number;
  readonly column: number;
}

/** Options common to every dvm error. */
export interface DvmErrorOptions {
  readonly position?: SourcePosition | undefined;
  readonly cause?: unknown;
}

function at(position: SourcePosition | undefined): string {
  return position === undefined ? '' : ` (at line ${position.line}, column ${position.column})`;
}

/** Base class of every error thrown by @pgtrickle/dvm. */
export class DvmError extends Error {
  /** The stable error code. */
  readonly code: DvmErrorCode;
  /** Where in the user's query the problem is, when known. */
  readonly position: SourcePosition | undefined;

  constructor(code: DvmErrorCode, message: string, options: DvmErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.position = options.position;
  }
}

/** The query is not valid SQL (`PGT_SYNTAX`); carries the parser's message and position. */
export class QuerySyntaxError extends DvmError {
  /** The PostgreSQL parser's own message, e.g. `syntax error at or near "="`. */
  readonly parserMessage: string;

  constructor(parserMessage: string, position: SourcePosition | undefined, cause?: unknown) {
    super(
      'PGT_SYNTAX',
      `The defining query does not parse: ${parserMessage}${at(position)}. Fix the SQL; it must be one SELECT statement.`,
      { position, cause },
    );
    this.parserMessage = parserMessage;
  }
}

/**
 * The query uses a construct that cannot be maintained in the requested refresh mode
 * (`PGT_UNSUPPORTED`). `construct` names it; `hint` says what to do instead.
 */
export class UnsupportedQueryError extends DvmError {
  /** The construct that was refused, e.g. `LEFT JOIN` or `volatile function random()`. */
  readonly construct: string;

  constructor(construct: string, hint: string, options: DvmErrorOptions = {}) {
    super('PGT_UNSUPPORTED', `Unsupported: ${construct}${at(options.position)}. ${hint}`, options);
    this.construct = construct;
  }
}

/** A relation named in the query does not exist (`PGT_UNKNOWN_RELATION`). */
export class UnknownRelationError extends DvmError {
  constructor(name: string, options: DvmErrorOptions = {}) {
    super(
      'PGT_UNKNOWN_RELATION',
      `Relation ${name} does not exist${at(options.position)}. Check its name, its schema and the search_path.`,
      options,
    );
  }
}

/** A column reference does not resolve (`PGT_UNKNOWN_COLUMN`). */
export class UnknownColumnError extends DvmError {
  constructor(reference: string, options: DvmErrorOptions = {}) {
    super(
      'PGT_UNKNOWN_COLUMN',
      `Column ${reference} does not exist${at(options.position)}. Check the name and the table alias it is qualified with.`,
      options,
    );
  }
}

/** An unqualified column reference matches columns of several FROM items (`PGT_AMBIGUOUS_COLUMN`). */
export class AmbiguousColumnError extends DvmError {
  constructor(reference: string, candidates: readonly string[], options: DvmErrorOptions = {}) {
    super(
      'PGT_AMBIGUOUS_COLUMN',
      `Column reference ${reference} is ambiguous${at(options.position)}: ${
        candidates.length === 0
          ? 'more than one FROM item has a column of that name'
          : `it could be ${candidates.join(' or ')}`
      }. Qualify it with a table alias.`,
      options,
    );
  }
}

/** The query is valid SQL but cannot define a stream table (`PGT_INVALID_QUERY`). */
export class InvalidQueryError extends DvmError {
  constructor(message: string, options: DvmErrorOptions = {}) {
    super('PGT_INVALID_QUERY', `${message}${at(options.position)}`, options);
  }
}

/** The catalog port failed or answered inconsistently (`PGT_CATALOG`). */
export class CatalogError extends DvmError {
  constructor(message: string, options: DvmErrorOptions = {}) {
    super('PGT_CATALOG', message, options);
  }
}

/** A bug in @pgtrickle/dvm (`PGT_INTERNAL`): please report it with the query. */
export class InternalError extends DvmError {
  constructor(message: string, options: DvmErrorOptions = {}) {
    super(
      'PGT_INTERNAL',
      `Internal error in @pgtrickle/dvm: ${message}. Please report it with the query.`,
      options,
    );
  }
}
