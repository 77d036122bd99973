/**
 * Transition-checked state machines. Rule: a machine is a finite set of states and
 * events with a transition table (from-state → event → to-state), checked when it is defined —
 * every named state and event exists, the initial state exists, every state is reachable from it,
 * terminal states have no exits and every other state has at least one. `transition(state, event)`
 * returns the next state or throws `InvalidTransitionError` naming the machine, the state, the
 * event and the events allowed there; it never changes anything itself. A transition may carry
 * data: the ordered side-steps (`steps`) the caller must carry out, and a description. The table is
 * plain data (`machine.transitions`), so it can be printed (`explain`, `toMermaid`) and tested.
 * State, event and step types are string-literal unions inferred from the definition.
 */
import { InvalidMachineError, InvalidTransitionError, UnknownValueError } from './errors.js';

/** A transition with data: its target and the ordered side-steps the caller must carry out. */
export interface TransitionSpec<S extends string, X extends string> {
  /** The state after the transition. */
  readonly to: S;
  /** What the caller must do, in order, to carry it out (default none). */
  readonly steps?: readonly X[];
  /** One sentence on what the transition means. */
  readonly description?: string;
}

/** A transition table entry: the target state alone, or a target with steps and a description. */
export type TransitionTarget<S extends string, X extends string> = S | TransitionSpec<S, X>;

/** A machine definition; S, E and X are inferred from `states`, `events` and the transitions' `steps`. */
export interface MachineSpec<S extends string, E extends string, X extends string> {
  /** Name used in messages, e.g. 'fuse'. */
  readonly name: string;
  /** Every state, in display order. */
  readonly states: readonly S[];
  /** Every event, in display order (the order `allowed()` lists them in). */
  readonly events: readonly E[];
  /** The state a new instance starts in. */
  readonly initial: NoInfer<S>;
  /** States with no way out (default none). */
  readonly terminal?: readonly NoInfer<S>[];
  /** from-state → event → target. A missing entry means the event is not allowed there. */
  readonly transitions: {
    readonly [F in S]?: { readonly [Ev in E]?: TransitionTarget<NoInfer<S>, X> };
  };
  /** Optional one-line descriptions of states and events, used by `explain()`. */
  readonly descriptions?: {
    readonly states?: { readonly [K in NoInfer<S>]?: string };
    readonly events?: { readonly [K in NoInfer<E>]?: string };
  };
}

/** One row of a transition table. */
export interface Transition<S extends string, E extends string, X extends string = never> {
  /** State before. */
  readonly from: S;
  /** The event. */
  readonly event: E;
  /** State after. */
  readonly to: S;
  /** Side-steps the caller must carry out, in order (empty when none). */
  readonly steps: readonly X[];
  /** What the transition means (null when not described). */
  readonly description: string | null;
}

const NO_STEPS: readonly never[] = Object.freeze([]);

function quote(items: readonly string[]): string {
  return items.map((i) => `"${i}"`).join(', ');
}

/**
 * The names of a machine's `states` or `events` list; adds to `problems` every entry that is not a
 * non-empty name, then the names listed more than once.
 */
function declaredNames(
  kind: 'state' | 'event',
  names: readonly string[] | undefined,
  problems: string[],
): Set<string> {
  const seen = new Set<string>();
  const repeated = new Set<string>();
  for (const name of names ?? []) {
    if (typeof name !== 'string' || name === '')
      problems.push(`${kind} ${JSON.stringify(name)} is not a non-empty name`);
    else if (seen.has(name)) repeated.add(name);
    seen.add(name);
  }
  if (repeated.size > 0) problems.push(`${kind}s ${quote([...repeated])} are listed more than once`);
  return seen;
}

/** Every problem of a machine definition (empty when it is valid). */
export function machineProblems<S extends string, E extends string, X extends string>(
  spec: MachineSpec<S, E, X>,
): string[] {
  const problems: string[] = [];
  if (typeof spec.name !== 'string' || spec.name.trim() === '')
    problems.push('the name must be non-empty text');
  if (!Array.isArray(spec.states) || spec.states.length === 0) problems.push('it needs at least one state');
  const states = declaredNames('state', spec.states, problems);
  const events = declaredNames('event', spec.events, problems);
  if (!states.has(spec.initial))
    problems.push(`the initial state "${spec.initial}" is not one of the states`);
  const terminal = new Set<string>(spec.terminal ?? []);
  for (const t of terminal)
    if (!states.has(t)) problems.push(`terminal state "${t}" is not one of the states`);

  const exits = new Map<string, string[]>();
  const used = new Set<string>();
  for (const [from, row] of Object.entries(spec.transitions ?? {})) {
    if (!states.has(from)) {
      problems.push(`transitions are given from "${from}", which is not one of the states`);
      continue;
    }
    for (const [event, target] of Object.entries((row ?? {}) as Record<string, unknown>)) {
      if (target === undefined) continue;
      if (!events.has(event))
        problems.push(`"${from}" has a transition on "${event}", which is not one of the events`);
      used.add(event);
      const to = typeof target === 'string' ? target : (target as { to?: unknown } | null)?.to;
      if (typeof to !== 'string' || !states.has(to)) {
        problems.push(
          `"${from}" --${event}--> ${JSON.stringify(to) ?? String(to)}: the target is not one of the states`,
        );
        continue;
      }
      const steps = typeof target === 'string' ? [] : (target as { steps?: unknown }).steps;
      if (
        steps !== undefined &&
        (!Array.isArray(steps) || steps.some((x) => typeof x !== 'string' || x === ''))
      ) {
        problems.push(`"${from}" --${event}--> "${to}": steps must be a list of non-empty names`);
      }
      const list = exits.get(from) ?? [];
      list.push(to);
      exits.set(from, list);
    }
  }
  for (const s of states) {
    const out = exits.get(s) ?? [];
    if (terminal.has(s) && out.length > 0) problems.push(`terminal state "${s}" has transitions out`);
    if (!terminal.has(s) && out.length === 0) {
      problems.push(`state "${s}" has no transitions out; add some or declare it terminal`);
    }
  }
  for (const e of events) if (!used.has(e)) problems.push(`event "${e}" is used by no transition`);
  if (states.has(spec.initial)) {
    const seen = new Set<string>([spec.initial]);
    const queue: string[] = [spec.initial];
    for (let s = queue.shift(); s !== undefined; s = queue.shift()) {
      for (const to of exits.get(s) ?? []) {
        if (!seen.has(to)) {
          seen.add(to);
          queue.push(to);
        }
      }
    }
    const unreachable = [...states].filter((s) => !seen.has(s));
    if (unreachable.length > 0) {
      problems.push(
        `${unreachable.length === 1 ? 'state' : 'states'} ${quote(unreachable)} cannot be reached from "${spec.initial}"`,
      );
    }
  }
  return problems;
}

/** A validated, immutable state machine; build one with `defineMachine`. */
export class Machine<S extends string, E extends string, X extends string = never> {
  /** Name used in messages. */
  readonly name: string;
  /** Every state, in declared order. */
  readonly states: readonly S[];
  /** Every event, in declared order. */
  readonly events: readonly E[];
  /** The state a new instance starts in. */
  readonly initial: S;
  /** States with no way out. */
  readonly terminal: readonly S[];
  /** The whole transition table as data: by from-state, then event, each in declared order. */
  readonly transitions: readonly Transition<S, E, X>[];
  readonly #table: ReadonlyMap<S, ReadonlyMap<E, Transition<S, E, X>>>;
  readonly #stateSet: ReadonlySet<string>;
  readonly #eventSet: ReadonlySet<string>;
  readonly #terminalSet: ReadonlySet<string>;
  readonly #stateText: ReadonlyMap<string, string>;
  readonly #eventText: ReadonlyMap<string, string>;

  /** Validates `spec` (throws `InvalidMachineError` listing every problem); prefer `defineMachine`. */
  constructor(spec: MachineSpec<S, E, X>) {
    const problems = machineProblems(spec);
    if (problems.length > 0) throw new InvalidMachineError(String(spec.name), problems);
    this.name = spec.name;
    this.states = Object.freeze([...spec.states]);
    this.events = Object.freeze([...spec.events]);
    this.initial = spec.initial;
    this.terminal = Object.freeze([...(spec.terminal ?? [])]);
    this.#stateSet = new Set(this.states);
    this.#eventSet = new Set(this.events);
    this.#terminalSet = new Set(this.terminal);
    this.#stateText = new Map(Object.entries(spec.descriptions?.states ?? {}) as [string, string][]);
    this.#eventText = new Map(Object.entries(spec.descriptions?.events ?? {}) as [string, string][]);
    const table = new Map<S, Map<E, Transition<S, E, X>>>();
    const rows: Transition<S, E, X>[] = [];
    for (const from of this.states) {
      const row = new Map<E, Transition<S, E, X>>();
      const given = spec.transitions[from] as Partial<Record<E, TransitionTarget<S, X>>> | undefined;
      // rows in the order of `events`, so `allowed()` follows the declared event order
      for (const event of this.events) {
        const target: TransitionTarget<S, X> | undefined = given?.[event];
        if (target === undefined) continue;
        const full: TransitionSpec<S, X> = typeof target === 'string' ? { to: target } : target;
        const t: Transition<S, E, X> = Object.freeze({
          from,
          event,
          to: full.to,
          steps: full.steps && full.steps.length > 0 ? Object.freeze([...full.steps]) : NO_STEPS,
          description: full.description ?? null,
        });
        row.set(event, t);
        rows.push(t);
      }
      table.set(from, row);
    }
    this.#table = table;
    this.transitions = Object.freeze(rows);
    Object.freeze(this);
  }

  /** Whether a runtime value is one of the states. */
  isState(value: unknown): value is S {
    return typeof value === 'string' && this.#stateSet.has(value);
  }

  /** Whether a runtime value is one of the events. */
  isEvent(value: unknown): value is E {
    return typeof value === 'string' && this.#eventSet.has(value);
  }

  /** The value as a state (e.g. text read from a catalog); throws `UnknownValueError` otherwise. */
  parseState(value: unknown): S {
    if (!this.isState(value)) throw new UnknownValueError(this.name, 'state', value, this.states);
    return value;
  }

  /** The value as an event; throws `UnknownValueError` otherwise. */
  parseEvent(value: unknown): E {
    if (!this.isEvent(value)) throw new UnknownValueError(this.name, 'event', value, this.events);
    return value;
  }

  #row(state: S): ReadonlyMap<E, Transition<S, E, X>> {
    const row = this.#table.get(state);
    if (row === undefined) throw new UnknownValueError(this.name, 'state', state, this.states);
    return row;
  }

  /** The transition `event` takes from `state`, with its steps; throws `InvalidTransitionError` if not allowed. */
  step(state: S, event: E): Transition<S, E, X> {
    const row = this.#row(state);
    const t = row.get(event);
    if (t === undefined) {
      throw new InvalidTransitionError(
        this.name,
        state,
        String(event),
        [...row.keys()],
        this.isTerminal(state),
      );
    }
    return t;
  }

  /** The state after `event` in `state`; throws `InvalidTransitionError` if the event is not allowed there. */
  transition(state: S, event: E): S {
    return this.step(state, event).to;
  }

  /** Whether `event` is allowed in `state`. */
  can(state: S, event: E): boolean {
    return this.#row(state).has(event);
  }

  /** The events allowed in `state`, in declared order (empty for a terminal state). */
  allowed(state: S): readonly E[] {
    return [...this.#row(state).keys()];
  }

  /** The transitions out of `state`, in declared event order. */
  exits(state: S): readonly Transition<S, E, X>[] {
    return [...this.#row(state).values()];
  }

  /** Whether `state` is terminal (absorbing: no event is allowed). */
  isTerminal(state: S): boolean {
    this.#row(state);
    return this.#terminalSet.has(state);
  }

  /** The state after applying `events` in order from `from` (default the initial state); throws at the first invalid one. */
  run(events: Iterable<E>, from: S = this.initial): S {
    let state = from;
    for (const event of events) state = this.transition(state, event);
    return state;
  }

  /** A mutable instance holding one current state (default the initial state). */
  start(state: S = this.initial): Lifecycle<S, E, X> {
    return new Lifecycle(this, this.parseState(state));
  }

  /** The one-line description of a state, if given. */
  describeState(state: S): string | undefined {
    return this.#stateText.get(state);
  }

  /** The one-line description of an event, if given. */
  describeEvent(event: E): string | undefined {
    return this.#eventText.get(event);
  }

  /** The machine as readable text: each state with its description and exits (event → target: steps). */
  explain(): string {
    const lines = [`state machine "${this.name}" (initial ${this.initial})`];
    for (const s of this.states) {
      const text = this.describeState(s);
      const tag = this.#terminalSet.has(s) ? ' (terminal)' : '';
      lines.push(`${s}${tag}${text ? ` — ${text}` : ''}`);
      for (const t of this.exits(s)) {
        const steps = t.steps.length > 0 ? ` [${t.steps.join(', ')}]` : '';
        const what = t.description ?? this.describeEvent(t.event);
        lines.push(`  ${t.event} → ${t.to}${steps}${what ? `: ${what}` : ''}`);
      }
    }
    return lines.join('\n');
  }

  /** The machine as a Mermaid `stateDiagram-v2` (non-identifier characters in names become `_`). */
  toMermaid(): string {
    const id = (s: string) => s.replace(/[^A-Za-z0-9_]/g, '_');
    const lines = ['stateDiagram-v2', `  [*] --> ${id(this.initial)}`];
    for (const t of this.transitions) lines.push(`  ${id(t.from)} --> ${id(t.to)}: ${t.event}`);
    for (const s of this.terminal) lines.push(`  ${id(s)} --> [*]`);
    return lines.join('\n');
  }
}

/** Defines a state machine; the state, event and step unions are inferred from the definition. */
export function defineMachine<const S extends string, const E extends string, const X extends string = never>(
  spec: MachineSpec<S, E, X>,
): Machine<S, E, X> {
  return new Machine(spec);
}

/** One running instance of a machine: a current state that only changes by allowed events. */
export class Lifecycle<S extends string, E extends string, X extends string = never> {
  /** The machine it follows. */
  readonly machine: Machine<S, E, X>;
  #state: S;

  /** An instance in `state`; prefer `machine.start(state)`. */
  constructor(machine: Machine<S, E, X>, state: S) {
    this.machine = machine;
    this.#state = machine.parseState(state);
  }

  /** The current state. */
  get state(): S {
    return this.#state;
  }

  /** Applies `event` and returns the transition taken; on `InvalidTransitionError` the state is unchanged. */
  send(event: E): Transition<S, E, X> {
    const t = this.machine.step(this.#state, event);
    this.#state = t.to;
    return t;
  }

  /** Whether `event` is allowed now. */
  can(event: E): boolean {
    return this.machine.can(this.#state, event);
  }

  /** The events allowed now. */
  allowed(): readonly E[] {
    return this.machine.allowed(this.#state);
  }

  /** Whether the current state is terminal. */
  isTerminal(): boolean {
    return this.machine.isTerminal(this.#state);
  }
}

/** The state union of a machine type, e.g. `StateOf<typeof fuseMachine>` = 'INTACT' | 'BLOWN'. */
export type StateOf<M> = M extends Machine<infer S, infer _E, infer _X> ? S : never;

/** The event union of a machine type. */
export type EventOf<M> = M extends Machine<infer _S, infer E, infer _X> ? E : never;

/** The step union of a machine type (never when its transitions carry no steps). */
export type StepOf<M> = M extends Machine<infer _S, infer _E, infer X> ? X : never;
