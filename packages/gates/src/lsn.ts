/**
 * PostgreSQL LSNs (pg_lsn text "X/Y", two hex numbers of up to 8 digits each). Rule: an LSN is
 * the 64-bit position (X << 32) + Y; LSNs compare by that position, never as strings.
 */
import { GateConfigError } from './errors.js';

const LSN = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/;

/** Whether `text` is a well-formed pg_lsn. */
export function isLsn(text: string): boolean {
  return LSN.test(text);
}

/** The 64-bit position of a pg_lsn; throws GateConfigError for malformed text. */
export function parseLsn(text: string): bigint {
  const m = LSN.exec(text);
  if (!m) {
    throw new GateConfigError(
      [`${JSON.stringify(text)} is not a pg_lsn`],
      'Pass LSNs as PostgreSQL prints them, e.g. "0/1A2B3C" or "16/B374D848".',
    );
  }
  return (BigInt(`0x${m[1]}`) << 32n) + BigInt(`0x${m[2]}`);
}

/** Formats a 64-bit position as pg_lsn text (upper-case hex, like PostgreSQL). */
export function formatLsn(position: bigint): string {
  const hi = position >> 32n;
  const lo = position & 0xffffffffn;
  return `${hi.toString(16).toUpperCase()}/${lo.toString(16).toUpperCase()}`;
}

/** Compares two pg_lsn texts by position: negative, 0 or positive. */
export function compareLsn(a: string, b: string): number {
  const x = parseLsn(a);
  const y = parseLsn(b);
  return x < y ? -1 : x > y ? 1 : 0;
}
