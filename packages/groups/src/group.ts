/**
 * Consistency groups: detected (from DAG diamonds) and declared (by users), with validation.
 * Rules: a group is a non-empty set of distinct stream tables refreshed atomically under one
 * isolation level. Detected groups come from `Dag.consistencyGroups()`, run 'read committed'
 * (a diamond only needs atomicity) and get the deterministic id `detected:<sorted members>`.
 * Declared groups are named (id `declared:<name>`), must have unique non-empty names, at least one
 * member, no repeated member and — when a DAG is given — only existing stream tables as members.
 */
import type { Dag } from '@pgtrickle/dag';
import { InvalidGroupError } from './errors.js';
import { type IsolationLevel, isIsolationLevel } from './isolation.js';

/** Where a group came from. */
export type GroupOrigin = 'detected' | 'declared' | 'merged';

/** A set of stream tables refreshed atomically under one isolation level. */
export interface ConsistencyGroup {
  /** Deterministic id: `detected:…`, `declared:<name>` or `merged:…`. */
  readonly id: string;
  /** Member stream tables (topological order when known, else sorted). */
  readonly members: readonly string[];
  /** Isolation the group refresh runs under. */
  readonly isolation: IsolationLevel;
  /** Detected from diamonds, declared by a user, or merged from several groups. */
  readonly origin: GroupOrigin;
  /** Why the group exists, for logs and `explain`. */
  readonly reason?: string;
}

/** A user-declared co-refresh group (cross-source snapshot consistency). */
export interface DeclaredGroup {
  /** Unique name. */
  readonly name: string;
  /** Stream tables to refresh together. */
  readonly members: readonly string[];
  /** Isolation level; 'repeatable read' gives all members one snapshot. */
  readonly isolation: IsolationLevel;
}

/** Sorts ids by code unit (locale-independent, deterministic). */
export function sortIds(ids: Iterable<string>): string[] {
  return [...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** The deterministic id of a detected group with these members. */
export function detectedGroupId(members: Iterable<string>): string {
  return `detected:${sortIds(members).join(',')}`;
}

/** The id of a declared group. */
export function declaredGroupId(name: string): string {
  return `declared:${name}`;
}

/** The DAG's consistency groups as ConsistencyGroups ('read committed', origin 'detected'). */
export function detectedGroups<M>(dag: Dag<M>): ConsistencyGroup[] {
  return dag.consistencyGroups().map((g) => ({
    id: detectedGroupId(g.members),
    members: [...g.members],
    isolation: 'read committed',
    origin: 'detected',
    reason:
      `diamond${g.apexes.length === 1 ? '' : 's'} at ${g.apexes.map((a) => `"${a}"`).join(', ')} ` +
      `from shared ${g.roots.map((r) => `"${r}"`).join(', ')}`,
  }));
}

/** Problems with a list of member ids (empty, repeated, or — given a DAG — not stream tables). */
export function memberProblems<M>(label: string, members: readonly string[], dag?: Dag<M>): string[] {
  const problems: string[] = [];
  if (!Array.isArray(members) || members.length === 0) {
    problems.push(`${label} has no members`);
    return problems;
  }
  const seen = new Set<string>();
  for (const m of members) {
    if (typeof m !== 'string' || m === '') problems.push(`${label} has an empty member id`);
    else if (seen.has(m)) problems.push(`${label} lists "${m}" twice`);
    seen.add(m);
    if (dag && typeof m === 'string' && m !== '') {
      if (!dag.has(m)) problems.push(`${label}: "${m}" is not in the DAG`);
      else if (!dag.isStreamTable(m)) problems.push(`${label}: "${m}" is a source, not a stream table`);
    }
  }
  return problems;
}

/**
 * Checks declared groups: unique non-empty names, valid isolation, non-empty distinct members that
 * (with a DAG) are existing stream tables. Throws one InvalidGroupError listing every problem.
 */
export function validateDeclaredGroups<M>(groups: readonly DeclaredGroup[], dag?: Dag<M>): void {
  const problems: string[] = [];
  const names = new Set<string>();
  for (const [i, g] of groups.entries()) {
    const label = typeof g.name === 'string' && g.name !== '' ? `group "${g.name}"` : `group #${i + 1}`;
    if (typeof g.name !== 'string' || g.name === '') problems.push(`${label} has no name`);
    else if (names.has(g.name)) problems.push(`group name "${g.name}" is used twice`);
    else names.add(g.name);
    if (!isIsolationLevel(g.isolation)) {
      problems.push(
        `${label} has isolation ${JSON.stringify(g.isolation)}; use 'read committed' or 'repeatable read'`,
      );
    }
    problems.push(...memberProblems(label, g.members, dag));
  }
  if (problems.length > 0) throw new InvalidGroupError(problems);
}

/** A declared group as a ConsistencyGroup (id `declared:<name>`, origin 'declared'); not validated. */
export function fromDeclared(group: DeclaredGroup): ConsistencyGroup {
  return {
    id: declaredGroupId(group.name),
    members: [...group.members],
    isolation: group.isolation,
    origin: 'declared',
    reason: `declared co-refresh group "${group.name}"`,
  };
}
