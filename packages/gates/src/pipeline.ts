/**
 * The gate pipeline.
 *
 * Rules:
 * - A pipeline is an ordered list of gates with unique names; the order is explicit and can be
 *   changed by naming it (`withOrder`), which must name every gate exactly once.
 * - `evaluate` runs the gates one after another in order; the first decision that is not Proceed
 *   wins and the gates after it are NOT evaluated (so they load nothing: laziness is what keeps a
 *   tick cheap). All gates proceeding → Proceed.
 * - `explain` evaluates EVERY gate (for status views) and returns each gate's decision, the values
 *   each one loaded, and the verdict `evaluate` would have returned.
 * - A gate that throws, or whose promise rejects, is not turned into a decision: `evaluate`
 *   rejects with `GateEvaluationError` (code PGT_GATE_FAILED) naming the gate and stream table,
 *   with the original error as `cause`. Rationale: a silent Skip would hide a broken loader
 *   forever and a Block would need a reset for a transient failure; the scheduler decides (log,
 *   count it as an error, retry next tick). `explain` never rejects for a gate failure: it reports
 *   the failure in that gate's entry (and as the verdict's error if that gate would have decided).
 * - Each gate receives `ctx.as(gate.name)`, so every context load records which gate asked.
 */
import type { ContextLoad, GateContext } from './context.js';
import { type GateDecision, proceed } from './decision.js';
import { GateConfigError, GateEvaluationError } from './errors.js';
import type { RefreshGate } from './gate.js';
import type { StreamTableMeta } from './meta.js';

/** The outcome of `evaluate`: the winning decision and the gate that made it (null when all proceed). */
export interface PipelineVerdict {
  /** The stream table evaluated. */
  readonly streamTable: string;
  /** The first non-Proceed decision in gate order, or Proceed. */
  readonly decision: GateDecision;
  /** Name of the gate that decided; null when every gate proceeded. */
  readonly gate: string | null;
}

/** One gate's line in an explanation. */
export interface GateReport {
  /** Gate name. */
  readonly gate: string;
  /** Its decision; null when it failed. */
  readonly decision: GateDecision | null;
  /** Its failure, if it threw. */
  readonly error: GateEvaluationError | null;
  /** Whether `evaluate` would have reached this gate (no earlier gate decided or failed). */
  readonly reached: boolean;
  /** Names of the context values this gate asked for (`key@table` for other tables' values). */
  readonly requested: readonly string[];
}

/** The result of `explain`. */
export interface PipelineExplanation {
  /** The stream table evaluated. */
  readonly streamTable: string;
  /** What `evaluate` would have returned; null when it would have failed (see `error`). */
  readonly verdict: PipelineVerdict | null;
  /** The failure `evaluate` would have rejected with, if any. */
  readonly error: GateEvaluationError | null;
  /** Every gate, in order. */
  readonly gates: readonly GateReport[];
  /** Every context value requested while evaluating this table (its own, tick values, other tables'). */
  readonly context: readonly ContextLoad[];
}

/** Options of `GatePipeline.with`. */
export interface InsertPosition {
  /** Insert just before the gate of this name. */
  readonly before?: string;
  /** Insert just after the gate of this name. */
  readonly after?: string;
}

function isPromiseLike<T>(value: T | Promise<T>): value is Promise<T> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}

/** An ordered, immutable list of gates evaluated first-non-Proceed-wins. */
export class GatePipeline {
  /** The gates in evaluation order. */
  readonly gates: readonly RefreshGate[];

  /** Builds a pipeline; throws GateConfigError on duplicate or empty gate names. */
  constructor(gates: readonly RefreshGate[]) {
    const problems: string[] = [];
    const seen = new Set<string>();
    for (const g of gates) {
      if (typeof g?.name !== 'string' || g.name === '') problems.push('a gate has no name');
      else if (seen.has(g.name)) problems.push(`gate name "${g.name}" is used twice`);
      else seen.add(g.name);
      if (typeof g?.evaluate !== 'function')
        problems.push(`gate "${String(g?.name)}" has no evaluate function`);
    }
    if (problems.length > 0) {
      throw new GateConfigError(
        problems,
        'Give every gate of a pipeline a unique name and an evaluate function.',
      );
    }
    this.gates = Object.freeze([...gates]);
  }

  /** Gate names in evaluation order. */
  names(): string[] {
    return this.gates.map((g) => g.name);
  }

  /** The gate of this name, if present. */
  gate(name: string): RefreshGate | undefined {
    return this.gates.find((g) => g.name === name);
  }

  /**
   * The same gates in the named order; `names` must list every gate exactly once
   * (GateConfigError otherwise — use `without` to drop gates).
   */
  withOrder(names: readonly string[]): GatePipeline {
    const byName = new Map(this.gates.map((g) => [g.name, g]));
    const problems: string[] = [];
    const seen = new Set<string>();
    for (const n of names) {
      if (!byName.has(n)) problems.push(`unknown gate "${n}"`);
      else if (seen.has(n)) problems.push(`gate "${n}" is named twice`);
      seen.add(n);
    }
    const missing = this.gates.filter((g) => !seen.has(g.name)).map((g) => `"${g.name}"`);
    if (missing.length > 0) problems.push(`the order leaves out ${missing.join(', ')}`);
    if (problems.length > 0) {
      throw new GateConfigError(
        problems,
        `Name each of the pipeline's gates once (${this.names().join(', ')}); drop gates with without().`,
      );
    }
    return new GatePipeline(names.map((n) => byName.get(n)!));
  }

  /** A pipeline without the named gates; throws GateConfigError for unknown names. */
  without(...names: string[]): GatePipeline {
    const unknown = names.filter((n) => !this.gates.some((g) => g.name === n));
    if (unknown.length > 0) {
      throw new GateConfigError(
        unknown.map((n) => `unknown gate "${n}"`),
        `The pipeline has: ${this.names().join(', ')}.`,
      );
    }
    const drop = new Set(names);
    return new GatePipeline(this.gates.filter((g) => !drop.has(g.name)));
  }

  /** A pipeline with `gate` added at the end, or before/after a named gate. */
  with(gate: RefreshGate, position: InsertPosition = {}): GatePipeline {
    const anchor = position.before ?? position.after;
    if (position.before !== undefined && position.after !== undefined) {
      throw new GateConfigError(['both "before" and "after" were given'], 'Pass one of them.');
    }
    if (anchor === undefined) return new GatePipeline([...this.gates, gate]);
    const at = this.gates.findIndex((g) => g.name === anchor);
    if (at < 0) {
      throw new GateConfigError(
        [`unknown gate "${anchor}"`],
        `The pipeline has: ${this.names().join(', ')}.`,
      );
    }
    const index = position.before !== undefined ? at : at + 1;
    return new GatePipeline([...this.gates.slice(0, index), gate, ...this.gates.slice(index)]);
  }

  /** A pipeline with the gate of the same name replaced by `gate` (e.g. a `groupAware` wrapper). */
  replace(gate: RefreshGate): GatePipeline {
    const at = this.gates.findIndex((g) => g.name === gate.name);
    if (at < 0) {
      throw new GateConfigError(
        [`unknown gate "${gate.name}"`],
        `The pipeline has: ${this.names().join(', ')}.`,
      );
    }
    return new GatePipeline(this.gates.map((g, i) => (i === at ? gate : g)));
  }

  /**
   * Runs the gates in order until one does not proceed; resolves to that decision, or Proceed.
   * Rejects with GateEvaluationError (PGT_GATE_FAILED) if a gate throws.
   */
  async evaluate(st: StreamTableMeta, ctx: GateContext): Promise<PipelineVerdict> {
    checkContext(st, ctx);
    for (const gate of this.gates) {
      const decision = await runGate(gate, st, ctx);
      if (decision.kind !== 'proceed') return { streamTable: st.id, decision, gate: gate.name };
    }
    return { streamTable: st.id, decision: proceed(), gate: null };
  }

  /** Evaluates every gate (in order) and reports each decision, the loads, and the verdict. */
  async explain(st: StreamTableMeta, ctx: GateContext): Promise<PipelineExplanation> {
    checkContext(st, ctx);
    const reports: GateReport[] = [];
    let verdict: PipelineVerdict | null = null;
    let error: GateEvaluationError | null = null;
    let decided = false;
    for (const gate of this.gates) {
      const reached = !decided;
      let decision: GateDecision | null = null;
      let failure: GateEvaluationError | null = null;
      try {
        decision = await runGate(gate, st, ctx);
      } catch (e) {
        failure = e instanceof GateEvaluationError ? e : new GateEvaluationError(gate.name, st.id, e);
      }
      if (!decided) {
        if (failure) {
          error = failure;
          decided = true;
        } else if (decision && decision.kind !== 'proceed') {
          verdict = { streamTable: st.id, decision, gate: gate.name };
          decided = true;
        }
      }
      reports.push({ gate: gate.name, decision, error: failure, reached, requested: [] });
    }
    if (!decided) verdict = { streamTable: st.id, decision: proceed(), gate: null };
    const loads = ctx.loads().filter((l) => l.requests.some((r) => r.evaluating === st.id));
    const withRequested = reports.map((r) => ({
      ...r,
      requested: loads
        .filter((l) => l.requests.some((q) => q.evaluating === st.id && q.by === r.gate))
        .map((l) =>
          l.streamTable === null || l.streamTable === st.id ? l.key : `${l.key}@${l.streamTable}`,
        ),
    }));
    return { streamTable: st.id, verdict, error, gates: withRequested, context: loads };
  }
}

function checkContext(st: StreamTableMeta, ctx: GateContext): void {
  if (ctx.streamTable.id !== st.id) {
    throw new GateConfigError(
      [`the context belongs to stream table "${ctx.streamTable.id}", not "${st.id}"`],
      'Create the context with tick.context(st) for the stream table you evaluate.',
    );
  }
}

async function runGate(gate: RefreshGate, st: StreamTableMeta, ctx: GateContext): Promise<GateDecision> {
  let decision: GateDecision;
  try {
    const result = gate.evaluate(st, ctx.as(gate.name));
    decision = isPromiseLike(result) ? await result : result;
  } catch (e) {
    throw new GateEvaluationError(gate.name, st.id, e);
  }
  if (
    decision === null ||
    typeof decision !== 'object' ||
    (decision.kind !== 'proceed' && decision.kind !== 'skip' && decision.kind !== 'block')
  ) {
    throw new GateEvaluationError(
      gate.name,
      st.id,
      new TypeError(
        `gate returned ${JSON.stringify(decision)} instead of a GateDecision (use proceed/skip/block)`,
      ),
    );
  }
  return decision;
}
