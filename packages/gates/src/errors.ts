/**
 * Errors of @pgtrickle/gates. Rule: every error is a `GateError` subclass with a stable `code` and a
 * message saying what happened and what to do; an error caused by another one carries it as
 * `cause`. A gate that throws is reported by the pipeline as `GateEvaluationError`
 * (PGT_GATE_FAILED) naming the gate and the stream table; configuration mistakes (duplicate or
 * unknown gate names, a context built for another stream table) are `GateConfigError`
 * (PGT_INVALID_ARGUMENT); context problems are `ContextValueError` (PGT_CONTEXT_MISSING when no
 * loader exists for a value, PGT_CONTEXT_CYCLE when loaders depend on each other in a circle).
 */

/** Stable error codes used by this package. */
export type GateErrorCode =
  | 'PGT_GATE_FAILED'
  | 'PGT_INVALID_ARGUMENT'
  | 'PGT_CONTEXT_MISSING'
  | 'PGT_CONTEXT_CYCLE';

/** Base class of every error of @pgtrickle/gates. */
export class GateError extends Error {
  /** Stable machine-readable code. */
  readonly code: GateErrorCode;

  constructor(code: GateErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** Describes an unknown thrown value in one line. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

/** A gate threw (or its promise rejected) while evaluating a stream table; `cause` is the original error. */
export class GateEvaluationError extends GateError {
  /** The gate that failed. */
  readonly gate: string;
  /** The stream table being evaluated. */
  readonly streamTable: string;

  constructor(gate: string, streamTable: string, cause: unknown) {
    super(
      'PGT_GATE_FAILED',
      `gate "${gate}" failed while evaluating stream table "${streamTable}": ${describeError(cause)}. ` +
        'Nothing was refreshed; fix the cause (see error.cause, often a context loader) and the next tick retries.',
      { cause },
    );
    this.gate = gate;
    this.streamTable = streamTable;
  }
}

/** A pipeline, gate or context was configured wrongly; `problems` lists each mistake. */
export class GateConfigError extends GateError {
  /** One sentence per problem. */
  readonly problems: readonly string[];

  constructor(problems: readonly string[], hint: string) {
    super('PGT_INVALID_ARGUMENT', `${problems.join('; ')}. ${hint}`);
    this.problems = problems;
  }
}

/** A context value could not be produced: no loader (PGT_CONTEXT_MISSING) or a loader cycle (PGT_CONTEXT_CYCLE). */
export class ContextValueError extends GateError {
  /** Name of the context key. */
  readonly key: string;

  constructor(code: 'PGT_CONTEXT_MISSING' | 'PGT_CONTEXT_CYCLE', key: string, message: string) {
    super(code, message);
    this.key = key;
  }
}

/** Error for a context key that has neither a provider loader nor a fallback. */
export function missingLoader(key: string, streamTable: string | null): ContextValueError {
  const where = streamTable === null ? 'for this tick' : `for stream table "${streamTable}"`;
  return new ContextValueError(
    'PGT_CONTEXT_MISSING',
    key,
    `no loader for context value "${key}" ${where}. ` +
      'Register a loader for that key on the ContextProvider (provider.provide(key, loader)) or give the key a fallback.',
  );
}

/** Error for context loaders that depend on each other in a circle; `chain` lists the keys. */
export function loaderCycle(chain: readonly string[]): ContextValueError {
  const key = chain[chain.length - 1] ?? '?';
  return new ContextValueError(
    'PGT_CONTEXT_CYCLE',
    key,
    `context loaders depend on each other in a circle: ${chain.join(' → ')}. ` +
      'Make one of these values come from the provider instead of from the others.',
  );
}
