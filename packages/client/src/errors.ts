/**
 * Errors of @pgtrickle/client. Every error has a stable `code`; errors from the query compiler
 * (@pgtrickle/dvm: `PGT_SYNTAX`, `PGT_UNSUPPORTED`, `PGT_UNKNOWN_RELATION`, …) pass through as they
 * are, so one `switch (error.code)` handles both.
 */

/** Stable error codes of @pgtrickle/client. */
export type ClientErrorCode =
  | 'PGT_ALREADY_EXISTS'
  | 'PGT_NOT_FOUND'
  | 'PGT_HAS_DEPENDENTS'
  | 'PGT_CYCLE'
  | 'PGT_INVALID_ARGUMENT'
  | 'PGT_NOT_INSTALLED'
  | 'PGT_SCHEMA_VERSION'
  | 'PGT_NOT_ACTIVE'
  | 'PGT_FUSE_BLOWN'
  | 'PGT_REFRESH_FAILED'
  | 'PGT_BUSY'
  | 'PGT_SOURCE_CHANGED'
  | 'PGT_STORAGE_MISSING'
  | 'PGT_CLOSED'
  | 'PGT_PERMISSION_DENIED'
  | 'PGT_RESERVED_NAME'
  | 'PGT_UNSUPPORTED'
  | 'PGT_CATALOG_MISSING'
  | 'PGT_POPULATION_FAILED'
  | 'PGT_WATERMARK_REGRESSION'
  | 'PGT_NOT_CONVERGED'
  | 'PGT_CONTENTS_DIFFER'
  | 'PGT_INVALID_STATE'
  | 'PGT_INTERNAL';

/** Options common to client errors. */
export interface ClientErrorOptions {
  readonly cause?: unknown;
}

/** Base class of every error thrown by @pgtrickle/client itself. */
export class ClientError extends Error {
  /** The stable error code. */
  readonly code: ClientErrorCode;

  constructor(code: ClientErrorCode, message: string, options: ClientErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
  }
}

/** A stream table (or a relation) of that name already exists (`PGT_ALREADY_EXISTS`). */
export class AlreadyExistsError extends ClientError {
  constructor(name: string, what = 'a stream table') {
    super('PGT_ALREADY_EXISTS', `${name} already exists as ${what}. Choose another name, or drop it first.`);
  }
}

/** No stream table of that name (`PGT_NOT_FOUND`). */
export class NotFoundError extends ClientError {
  constructor(name: string) {
    super(
      'PGT_NOT_FOUND',
      `There is no stream table ${name}. Check the name (and its schema); status() lists them.`,
    );
  }
}

/** Other stream tables read this one (`PGT_HAS_DEPENDENTS`). */
export class HasDependentsError extends ClientError {
  /** The stream tables that read it. */
  readonly dependents: readonly string[];

  constructor(name: string, dependents: readonly string[], what: string) {
    super(
      'PGT_HAS_DEPENDENTS',
      `${name} is read by ${dependents.join(', ')}; cannot ${what}. Drop those first, or pass { cascade: true } to drop them too.`,
    );
    this.dependents = dependents;
  }
}

/** The change would make stream tables read each other in a cycle (`PGT_CYCLE`). */
export class CycleError extends ClientError {
  constructor(cycle: readonly string[], options: ClientErrorOptions = {}) {
    super(
      'PGT_CYCLE',
      `Stream tables would read each other in a cycle: ${cycle.join(' → ')}. A stream table cannot depend on itself, directly or through others.`,
      options,
    );
  }
}

/** A bad argument (`PGT_INVALID_ARGUMENT`). */
export class InvalidArgumentError extends ClientError {
  constructor(message: string, options: ClientErrorOptions = {}) {
    super('PGT_INVALID_ARGUMENT', message, options);
  }
}

/** pgtrickle's catalog is not installed in this database (`PGT_NOT_INSTALLED`). */
export class NotInstalledError extends ClientError {
  constructor(options: ClientErrorOptions = {}) {
    super(
      'PGT_NOT_INSTALLED',
      'pgtrickle is not installed in this database. Call install() first (or run `pgtrickle migrate`).',
      options,
    );
  }
}

/** The catalog disappeared under a running service (`PGT_CATALOG_MISSING`): it stops instead of looping. */
export class CatalogMissingError extends ClientError {
  constructor(options: ClientErrorOptions = {}) {
    super(
      'PGT_CATALOG_MISSING',
      'The pgtrickle catalog (schema pgtrickle) is gone from this database: it was uninstalled or dropped. ' +
        'The service stopped. To use pgtrickle again, `pgtrickle migrate` (or install()) installs it; ' +
        'to remove what is left (capture triggers, buffers), `pgtrickle uninstall`.',
      options,
    );
  }
}

/**
 * The first population of a new stream table failed (`PGT_POPULATION_FAILED`): nothing was
 * created. `sqlState` and `detail` are the database's, `cause` its error.
 */
export class PopulationFailedError extends ClientError {
  /** The stream table's name. */
  readonly table: string;
  /** The SQLSTATE of the database error, when there is one. */
  readonly sqlState: string | null;

  constructor(table: string, cause: unknown) {
    const e = cause as { code?: unknown; message?: unknown } | null;
    const state = typeof e?.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code) ? e.code : null;
    const msg = cause instanceof Error ? cause.message : String(cause);
    super(
      'PGT_POPULATION_FAILED',
      `Populating ${table} failed${state === null ? '' : ` (SQLSTATE ${state})`}: ${msg}. Nothing was created; ` +
        'fix the query or its data (run the query on its own to see the error) and create it again.',
      { cause },
    );
    this.table = table;
    this.sqlState = state;
  }
}

/** The catalog was installed by a newer pgtrickle (`PGT_SCHEMA_VERSION`). */
export class SchemaVersionError extends ClientError {
  constructor(found: number, known: number) {
    super(
      'PGT_SCHEMA_VERSION',
      `The pgtrickle catalog is at version ${found}, newer than this client knows (${known}). Upgrade @pgtrickle/client.`,
    );
  }
}

/** The stream table is SUSPENDED or in ERROR and cannot be refreshed (`PGT_NOT_ACTIVE`). */
export class NotActiveError extends ClientError {
  constructor(name: string, status: string, lastError: string | null) {
    super(
      'PGT_NOT_ACTIVE',
      `${name} is ${status}${lastError === null ? '' : ` (${lastError})`}; fix the cause, then resume it with alterStreamTable(name, { status: 'ACTIVE' }) or recreate it.`,
    );
  }
}

/**
 * The stream table's fuse is blown (`PGT_FUSE_BLOWN`): it is not refreshed, manually or by the
 * scheduler, until its owner resets the fuse.
 */
export class FuseBlownError extends ClientError {
  constructor(name: string, blowReason: string | null, blownAt: Date | null) {
    super(
      'PGT_FUSE_BLOWN',
      `The fuse of ${name} is blown${blownAt === null ? '' : ` since ${blownAt.toISOString()}`}` +
        `${blowReason === null ? '' : ` (${blowReason})`}: it is not refreshed until the fuse is reset. ` +
        `Inspect the pending changes (pgtrickle.fuse_status(), pgtrickle fuse status), then reset it with ` +
        `pgtrickle.reset_fuse('${name.replaceAll("'", "''")}', 'apply' | 'reinitialize' | 'skip_changes') or pgtrickle fuse reset ${name}.`,
    );
  }
}

/** A refresh failed and was rolled back (`PGT_REFRESH_FAILED`); `cause` is the database error. */
export class RefreshFailedError extends ClientError {
  constructor(name: string, cause: unknown) {
    const msg = cause instanceof Error ? cause.message : String(cause);
    super(
      'PGT_REFRESH_FAILED',
      `Refreshing ${name} failed and was rolled back (nothing was applied): ${msg}`,
      { cause },
    );
  }
}

/** Another session holds the stream table (`PGT_BUSY`). */
export class BusyError extends ClientError {
  constructor(name: string) {
    super(
      'PGT_BUSY',
      `${name} is being refreshed or changed by another session; try again when it has finished.`,
    );
  }
}

/** A source's definition changed so the stream table cannot be kept (`PGT_SOURCE_CHANGED`). */
export class SourceChangedError extends ClientError {
  constructor(name: string, detail: string, options: ClientErrorOptions = {}) {
    super(
      'PGT_SOURCE_CHANGED',
      `${name} can no longer be maintained: ${detail}. Alter it with a query that fits the new sources (alterStreamTable(name, { query })), or drop it.`,
      options,
    );
  }
}

/**
 * A stream table's storage table was dropped (or replaced) behind pgtrickle's back
 * (`PGT_STORAGE_MISSING`): the table cannot be refreshed; the message says how to clean up.
 */
export class StorageMissingError extends ClientError {
  constructor(name: string, options: ClientErrorOptions = {}) {
    super(
      'PGT_STORAGE_MISSING',
      `The storage table of stream table ${name} no longer exists (it was dropped, or replaced by another table of that name), so ${name} cannot be refreshed. Drop the stream table with \`pgtrickle drop ${name}\` or SELECT pgtrickle.drop_stream_table('${name.replaceAll("'", "''")}'), then create it again if you still need it.`,
      options,
    );
  }
}

/**
 * The public view of a stream table (its name, a view of the visible columns) was dropped behind
 * pgtrickle's back (`PGT_STORAGE_MISSING`): readers lost it, so the table is not refreshed.
 */
export class PublicViewMissingError extends StorageMissingError {
  constructor(name: string, options: ClientErrorOptions = {}) {
    super(name, options);
    this.message = `The view ${name} of stream table ${name} (its public name) no longer exists (it was dropped, or replaced by another relation of that name), so ${name} cannot be refreshed. Drop the stream table with \`pgtrickle drop ${name}\` or SELECT pgtrickle.drop_stream_table('${name.replaceAll("'", "''")}'), then create it again if you still need it.`;
  }
}

/** The client was closed (`PGT_CLOSED`). */
export class ClosedError extends ClientError {
  constructor() {
    super('PGT_CLOSED', 'This pgtrickle client is closed; connect() again.');
  }
}

/** The role lacks a privilege the operation needs (`PGT_PERMISSION_DENIED`). */
export class PermissionDeniedError extends ClientError {
  constructor(message: string, options: ClientErrorOptions = {}) {
    super('PGT_PERMISSION_DENIED', message, options);
  }
}

/** A name in a schema pgtrickle reserves, or one that collides with its own objects (`PGT_RESERVED_NAME`). */
export class ReservedNameError extends ClientError {
  constructor(name: string, why: string) {
    super('PGT_RESERVED_NAME', `${name} cannot be a stream table: ${why}. Choose another schema or name.`);
  }
}

/** A broken internal rule of pgtrickle itself (`PGT_INTERNAL`): a bug, please report it. */
export class ClientInternalError extends ClientError {
  constructor(message: string, options: ClientErrorOptions = {}) {
    super('PGT_INTERNAL', `pgtrickle internal error: ${message}. This is a bug; please report it.`, options);
  }
}

/** Views read a column of a stream table that a change would drop or retype (`PGT_HAS_DEPENDENTS`). */
export class DependentViewsError extends ClientError {
  /** The views that read the column. */
  readonly dependents: readonly string[];

  constructor(name: string, views: readonly string[], column: string, cause?: unknown) {
    super(
      'PGT_HAS_DEPENDENTS',
      `The new definition of ${name} drops or retypes its column ${column}, which ${views.length > 0 ? views.join(', ') : 'a view'} ${views.length === 1 ? 'reads' : 'read'}; nothing was changed. Drop or change ${views.length === 1 ? 'that view' : 'those views'} first, or keep the column.`,
      cause === undefined ? {} : { cause },
    );
    this.dependents = views;
  }
}

/**
 * A source whose changes cannot be captured exactly (e.g. a foreign-table partition, or two
 * levels of one partition tree read by stream tables). Nothing was created or changed.
 */
export class CaptureUnsupportedError extends ClientError {
  constructor(source: string, reason: string, hint: string | undefined, options: ClientErrorOptions = {}) {
    super(
      'PGT_UNSUPPORTED',
      `Changes of ${source} cannot be captured: ${reason}. ${hint ?? 'Read another table, or change the table.'} Nothing was created or changed.`,
      options,
    );
  }
}

/** A green copy asked to be promoted has not converged with its blue (`PGT_NOT_CONVERGED`); nothing changed. */
/** A promote's content check found the green's rows differ from the table's (code `PGT_CONTENTS_DIFFER`). */
export class ContentsDifferError extends ClientError {
  /** Rows only in the green, and only in the public table. */
  readonly onlyGreen: number;
  readonly onlyBlue: number;

  constructor(name: string, onlyGreen: number, onlyBlue: number) {
    super(
      'PGT_CONTENTS_DIFFER',
      `The content check of the green copy of ${name} found ${onlyGreen} row(s) only in the green and ${onlyBlue} only in ${name}, both refreshed at one moment with their sources locked against writes; nothing was changed. Compare them (pgtrickle explain ${name}), cancel the deployment (pgtrickle.cancel_green('${name}')), or promote without the check (pgtrickle.promote_green('${name}')).`,
    );
    this.onlyGreen = onlyGreen;
    this.onlyBlue = onlyBlue;
  }
}

export class NotConvergedError extends ClientError {
  /** Why not: every unmet convergence check. */
  readonly detail: string;

  constructor(name: string, detail: string) {
    super(
      'PGT_NOT_CONVERGED',
      `The green copy of ${name} has not converged with it (${detail}); nothing was changed. Wait until pgtrickle.green_status('${name}') shows converged, accept a small lag (pgtrickle.promote_green('${name}', max_lag => interval '5 seconds'), pgtrickle green promote ${name} --max-lag 5s), or promote with force (pgtrickle.promote_green('${name}', force => true), pgtrickle green promote ${name} --force, promoteGreen(name, { force: true })).`,
    );
    this.detail = detail;
  }
}

/**
 * A blue-green operation that the deployment's state does not allow (`PGT_INVALID_STATE`): e.g. a
 * green asked for while one is open, a promote with no green, a normal alter or drop of a green or
 * retired copy. The message names the command to use instead; nothing was changed.
 */
export class DeploymentStateError extends ClientError {
  constructor(message: string, options: ClientErrorOptions = {}) {
    super('PGT_INVALID_STATE', `${message} Nothing was changed.`, options);
  }
}

/**
 * A promote or rollback that would break readers of the table (`PGT_HAS_DEPENDENTS`): stream
 * tables whose query no longer fits the incoming version, or views over the outgoing table (they
 * would keep reading it). Nothing was changed.
 */
export class SwapDependentsError extends ClientError {
  /** The stream tables or views in the way. */
  readonly dependents: readonly string[];

  constructor(message: string, dependents: readonly string[], options: ClientErrorOptions = {}) {
    super('PGT_HAS_DEPENDENTS', `${message} Nothing was changed.`, options);
    this.dependents = dependents;
  }
}

/** A blue-green deployment of a table pgtrickle cannot swap safely (`PGT_UNSUPPORTED`); nothing was changed. */
export class GreenUnsupportedError extends ClientError {
  constructor(message: string) {
    super('PGT_UNSUPPORTED', `${message} Nothing was changed.`);
  }
}
