/**
 * The lazily filled gate context.
 *
 * Rules:
 * - A value is named by a typed key: `defineContextKey<T>(name)` for a value per stream table
 *   (pending change count, watermarks, …), `defineTickKey<T>(name)` for one value per tick shared
 *   by every stream table (the tick's LSN bound).
 * - Gates ask only for what they need (`await ctx.get(key)`); nothing is loaded up front.
 * - Loaders are supplied by the caller through a `ContextProvider` (the "provider" port: the
 *   scheduler implements it over the database, tests over fakes). A key may carry a `fallback`
 *   loader, used when the provider has none (typically derived from other keys).
 * - One `GateTick` per scheduler tick holds the memo: each value is loaded at most once per tick per
 *   stream table (tick keys: once per tick); concurrent requests share one promise; a failed load
 *   is memoized too (every asker sees the same error). A new tick loads afresh.
 * - The tick reads its `Clock` exactly once, at creation: `ctx.now` is the same for every gate.
 * - Every load is recorded (key, stream table, outcome, value, who asked) for `explain` output.
 * - A loader that (through other keys) asks for its own value fails with PGT_CONTEXT_CYCLE instead
 *   of deadlocking; a key with no loader fails with PGT_CONTEXT_MISSING.
 */
import type { Clock } from './clock.js';
import { loaderCycle, missingLoader } from './errors.js';
import type { StreamTableMeta } from './meta.js';

declare const valueType: unique symbol;

/** Loads a per-stream-table value; `ctx` is the context of `st` (ask it for other values). */
export type StreamTableLoader<T> = (st: StreamTableMeta, ctx: GateContext) => T | Promise<T>;

/** Loads a per-tick value shared by every stream table of the tick. */
export type TickLoader<T> = (tick: TickScope) => T | Promise<T>;

/** What every context key has: its scope, name, description and fallback loader of type L. */
interface KeyFields<Scope extends string, L, T> {
  /** Which values the key names: 'stream-table' (one per stream table) or 'tick' (one per tick). */
  readonly scope: Scope;
  /** Name shown in explain output and errors. */
  readonly name: string;
  /** What the value means. */
  readonly description: string;
  /** Loader used when the provider has none. */
  readonly fallback: L | undefined;
  /** Type marker only; never set. */
  readonly [valueType]?: T;
}

/** A typed name for a value loaded once per stream table per tick (`scope` is always 'stream-table'). */
export interface StreamTableKey<T> extends KeyFields<'stream-table', StreamTableLoader<T>, T> {}

/** A typed name for a value loaded once per tick and shared by every stream table (`scope` is always 'tick'). */
export interface TickKey<T> extends KeyFields<'tick', TickLoader<T>, T> {}

/** Any context key. */
export type ContextKey<T> = StreamTableKey<T> | TickKey<T>;

/** The value type of a key. */
export type ContextValue<K> = K extends ContextKey<infer T> ? T : never;

/** Options of `defineContextKey` / `defineTickKey`. */
export interface KeyOptions<L> {
  /** What the value means (shown in explain output). */
  readonly description?: string;
  /** Loader used when the provider has none. */
  readonly fallback?: L;
}

/** Declares a per-stream-table context value of type T. */
export function defineContextKey<T>(
  name: string,
  options: KeyOptions<StreamTableLoader<T>> = {},
): StreamTableKey<T> {
  return Object.freeze({
    scope: 'stream-table',
    name,
    description: options.description ?? name,
    fallback: options.fallback,
  });
}

/** Declares a per-tick context value of type T, shared by every stream table of a tick. */
export function defineTickKey<T>(name: string, options: KeyOptions<TickLoader<T>> = {}): TickKey<T> {
  return Object.freeze({
    scope: 'tick',
    name,
    description: options.description ?? name,
    fallback: options.fallback,
  });
}

type AnyLoader = StreamTableLoader<unknown> | TickLoader<unknown>;
type AnyKey = ContextKey<unknown>;

/** The provider port: which loader produces each context value. */
export class ContextProvider {
  readonly #loaders = new Map<AnyKey, AnyLoader>();

  /** Registers (or replaces) the loader of a per-stream-table key. */
  provide<T>(key: StreamTableKey<T>, loader: StreamTableLoader<T>): this;
  /** Registers (or replaces) the loader of a per-tick key. */
  provide<T>(key: TickKey<T>, loader: TickLoader<T>): this;
  provide(key: AnyKey, loader: AnyLoader): this {
    this.#loaders.set(key, loader);
    return this;
  }

  /** Whether the provider has a loader for `key` (fallbacks not counted). */
  has(key: AnyKey): boolean {
    return this.#loaders.has(key);
  }

  /** The provider's loader for a per-stream-table key, if any. */
  loaderOf<T>(key: StreamTableKey<T>): StreamTableLoader<T> | undefined;
  /** The provider's loader for a per-tick key, if any. */
  loaderOf<T>(key: TickKey<T>): TickLoader<T> | undefined;
  loaderOf(key: AnyKey): AnyLoader | undefined {
    return this.#loaders.get(key);
  }
}

/** Who triggered the evaluation: the scheduler's tick, or a user's explicit refresh request. */
export type RefreshInitiator = 'scheduler' | 'manual';

/** Who asked for a value: a gate (or loader, or the caller) while evaluating some stream table. */
export interface ContextRequest {
  /** Gate name, `key:<name>` for a loader, or 'caller' for a direct request. */
  readonly by: string;
  /** Id of the stream table under evaluation when it was asked (differs from the value's own table for group members). */
  readonly evaluating: string | null;
}

/** The record of one context value in a tick. */
export interface ContextLoad {
  /** Key name. */
  readonly key: string;
  /** 'stream-table' or 'tick'. */
  readonly scope: 'stream-table' | 'tick';
  /** The stream table the value belongs to; null for tick values. */
  readonly streamTable: string | null;
  /** Loading, loaded or failed. */
  readonly status: 'pending' | 'loaded' | 'failed';
  /** The value, once loaded. */
  readonly value?: unknown;
  /** The error, if the load failed. */
  readonly error?: unknown;
  /** Every request for it, in order (the first one caused the load). */
  readonly requests: readonly ContextRequest[];
}

/** What tick loaders see: the tick's number and instant, and other tick values. */
export interface TickScope {
  /** Tick number (caller-assigned, default 0). */
  readonly tick: number;
  /** The tick's instant (the clock is read once per tick). */
  readonly now: Date;
  /** The injected clock. */
  readonly clock: Clock;
  /** Loads (once per tick) a tick value. */
  get<T>(key: TickKey<T>): Promise<T>;
}

/** The context of one stream table in one tick: lazily loaded, memoized values. */
export interface GateContext extends TickScope {
  /** The stream table this context belongs to. */
  readonly streamTable: StreamTableMeta;
  /** Whether this evaluation is a scheduled tick or a manual refresh request. */
  readonly initiatedBy: RefreshInitiator;
  /** Loads a value (at most once per tick per stream table; tick keys once per tick). */
  get<T>(key: ContextKey<T>): Promise<T>;
  /** The context of another stream table in the same tick (same memo), e.g. a group member. */
  forStreamTable(st: StreamTableMeta): GateContext;
  /** A view that records `requester` (e.g. a gate name) as the one asking; shares everything else. */
  as(requester: string): GateContext;
  /** Every value requested in this tick so far, for every stream table, in request order. */
  loads(): readonly ContextLoad[];
}

/** Options of a tick. */
export interface GateTickOptions {
  /** The injected clock; read once, at construction. */
  readonly clock: Clock;
  /** Loaders of context values (default: none; keys then need fallbacks). */
  readonly provider?: ContextProvider;
  /** Tick number for logs (default 0). */
  readonly tick?: number;
}

/** Options of `GateTick.context`. */
export interface ContextOptions {
  /** 'manual' for an explicit refresh request (the schedule gate lets it through); default 'scheduler'. */
  readonly initiatedBy?: RefreshInitiator;
}

interface MutableLoad {
  key: string;
  scope: 'stream-table' | 'tick';
  streamTable: string | null;
  status: 'pending' | 'loaded' | 'failed';
  value?: unknown;
  error?: unknown;
  requests: ContextRequest[];
}

interface Entry {
  readonly promise: Promise<unknown>;
  readonly record: MutableLoad;
}

/** One link of a loader chain: a key of a stream table (null for tick keys). */
interface ChainLink {
  readonly key: AnyKey;
  readonly streamTable: string | null;
}

const TICK_SLOT = '\u0000tick';

/** One scheduler tick: the clock reading and the memo of every context value loaded in it. */
export class GateTick {
  /** Tick number. */
  readonly tick: number;
  /** The tick's instant. */
  readonly now: Date;
  /** The injected clock. */
  readonly clock: Clock;
  readonly #provider: ContextProvider;
  readonly #memo = new Map<string, Map<AnyKey, Entry>>();
  readonly #records: MutableLoad[] = [];

  constructor(options: GateTickOptions) {
    this.clock = options.clock;
    this.now = options.clock.now();
    this.tick = options.tick ?? 0;
    this.#provider = options.provider ?? new ContextProvider();
  }

  /** The context of `st` in this tick. */
  context(st: StreamTableMeta, options: ContextOptions = {}): GateContext {
    return new ContextView(this, st, options.initiatedBy ?? 'scheduler', 'caller', st.id, []);
  }

  /** Loads (once per tick) a tick value. */
  get<T>(key: TickKey<T>): Promise<T> {
    return this.load(key, null, { by: 'caller', evaluating: null }, [], undefined);
  }

  /** Every value requested in this tick so far, in request order (snapshots). */
  loads(): readonly ContextLoad[] {
    return this.#records.map((r) => ({ ...r, requests: [...r.requests] }));
  }

  /** How many loads ran in this tick (each key × stream table counts once). */
  get loadCount(): number {
    return this.#records.length;
  }

  /** Internal: memoized load of `key` for `st` (null for tick keys). */
  load<T>(
    key: ContextKey<T>,
    st: StreamTableMeta | null,
    request: ContextRequest,
    chain: readonly ChainLink[],
    view: ContextView | undefined,
  ): Promise<T> {
    const stId = key.scope === 'tick' ? null : (st?.id ?? null);
    if (chain.some((l) => l.key === key && l.streamTable === stId)) {
      const names = [...chain.map((l) => l.key.name), key.name];
      return Promise.reject(loaderCycle(names));
    }
    const slot = stId ?? TICK_SLOT;
    let perSlot = this.#memo.get(slot);
    if (!perSlot) {
      perSlot = new Map();
      this.#memo.set(slot, perSlot);
    }
    const existing = perSlot.get(key);
    if (existing) {
      existing.record.requests.push(request);
      return existing.promise as Promise<T>;
    }
    const record: MutableLoad = {
      key: key.name,
      scope: key.scope,
      streamTable: stId,
      status: 'pending',
      requests: [request],
    };
    this.#records.push(record);
    const link: ChainLink = { key, streamTable: stId };
    const nextChain = [...chain, link];
    let promise: Promise<T>;
    try {
      promise = Promise.resolve(this.#invoke(key, st, nextChain, view));
    } catch (error) {
      promise = Promise.reject(error);
    }
    promise.then(
      (value) => {
        record.status = 'loaded';
        record.value = value;
      },
      (error: unknown) => {
        record.status = 'failed';
        record.error = error;
      },
    );
    perSlot.set(key, { promise, record });
    return promise;
  }

  #invoke<T>(
    key: ContextKey<T>,
    st: StreamTableMeta | null,
    chain: readonly ChainLink[],
    view: ContextView | undefined,
  ): T | Promise<T> {
    const by = `key:${key.name}`;
    if (key.scope === 'tick') {
      const loader = this.#provider.loaderOf(key) ?? key.fallback;
      if (!loader) throw missingLoader(key.name, null);
      return loader(new TickView(this, by, view?.evaluating ?? null, chain));
    }
    if (!st) throw missingLoader(key.name, null);
    const loader = this.#provider.loaderOf(key) ?? key.fallback;
    if (!loader) throw missingLoader(key.name, st.id);
    const initiatedBy = view?.initiatedBy ?? 'scheduler';
    return loader(st, new ContextView(this, st, initiatedBy, by, view?.evaluating ?? st.id, chain));
  }
}

/** The TickScope given to tick loaders. */
class TickView implements TickScope {
  readonly tick: number;
  readonly now: Date;
  readonly clock: Clock;

  constructor(
    private readonly owner: GateTick,
    private readonly by: string,
    private readonly evaluating: string | null,
    private readonly chain: readonly ChainLink[],
  ) {
    this.tick = owner.tick;
    this.now = owner.now;
    this.clock = owner.clock;
  }

  get<T>(key: TickKey<T>): Promise<T> {
    return this.owner.load(key, null, { by: this.by, evaluating: this.evaluating }, this.chain, undefined);
  }
}

/** A GateContext: a stream table, a requester and a loader chain over a tick's memo. */
class ContextView implements GateContext {
  readonly tick: number;
  readonly now: Date;
  readonly clock: Clock;

  constructor(
    private readonly owner: GateTick,
    readonly streamTable: StreamTableMeta,
    readonly initiatedBy: RefreshInitiator,
    private readonly requester: string,
    readonly evaluating: string,
    private readonly chain: readonly ChainLink[],
  ) {
    this.tick = owner.tick;
    this.now = owner.now;
    this.clock = owner.clock;
  }

  get<T>(key: ContextKey<T>): Promise<T> {
    return this.owner.load(
      key,
      this.streamTable,
      { by: this.requester, evaluating: this.evaluating },
      this.chain,
      this,
    );
  }

  forStreamTable(st: StreamTableMeta): GateContext {
    return new ContextView(this.owner, st, this.initiatedBy, this.requester, this.evaluating, this.chain);
  }

  as(requester: string): GateContext {
    return new ContextView(
      this.owner,
      this.streamTable,
      this.initiatedBy,
      requester,
      this.evaluating,
      this.chain,
    );
  }

  loads(): readonly ContextLoad[] {
    return this.owner.loads();
  }
}

/** Options of `createGateContext`. */
export interface CreateContextOptions extends GateTickOptions, ContextOptions {}

/** Shorthand: a fresh tick and the context of `st` in it (tests, one-off evaluations). */
export function createGateContext(st: StreamTableMeta, options: CreateContextOptions): GateContext {
  return new GateTick(options).context(st, options);
}
