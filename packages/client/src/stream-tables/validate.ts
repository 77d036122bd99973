/** Validating what callers pass before anything is written: refresh modes and schedules. */
import { formatSchedule, parseSchedule } from '@pgtrickle/dag';
import type { RequestedMode } from '@pgtrickle/dvm';
import { Cron } from 'croner';
import { InvalidArgumentError } from '../errors.js';

/** A requested refresh mode (default AUTO). */
export function validateMode(mode: unknown): RequestedMode {
  if (mode === undefined) return 'AUTO';
  if (mode === 'AUTO' || mode === 'FULL' || mode === 'DIFFERENTIAL' || mode === 'IMMEDIATE') return mode;
  throw new InvalidArgumentError(
    `refreshMode must be 'AUTO', 'FULL', 'DIFFERENTIAL' or 'IMMEDIATE', got ${JSON.stringify(mode)}.`,
  );
}

/** A schedule in its stored form (null: calculated; '0s': as soon as possible), cron expressions checked. */
export function normalizeSchedule(text: string | null | undefined): string | null {
  let spec: ReturnType<typeof parseSchedule>;
  try {
    spec = parseSchedule(text);
  } catch (error) {
    throw new InvalidArgumentError(error instanceof Error ? error.message : String(error), { cause: error });
  }
  if (spec === null) return null;
  if (spec.kind === 'cron') {
    try {
      new Cron(spec.expression, { paused: true }).stop();
    } catch (error) {
      throw new InvalidArgumentError(
        `"${spec.expression}" is not a valid cron expression: ${error instanceof Error ? error.message : String(error)}.`,
        { cause: error },
      );
    }
    return spec.expression;
  }
  return formatSchedule(spec);
}

/** A non-empty defining query, or InvalidArgumentError with `what` in the message. */
export function validateQuery(query: unknown, what: string): string {
  if (typeof query !== 'string' || query.trim() === '') throw new InvalidArgumentError(what);
  return query;
}
