/**
 * An in-memory transactional key-value store and the group strategy over it, for tests and examples.
 *
 * Rules: writes inside a transaction go to a private overlay and reach the store only on commit;
 * rollback discards them; savepoints snapshot the overlay. Reads see the transaction's own writes
 * first, then — under 'read committed' — the store as it is now (later commits by others are
 * visible), or — under 'repeatable read' — the store as it was when the transaction began.
 * There is no write-conflict detection (last commit wins). A transaction cannot be used after it
 * ends. `InMemoryGroupStrategy` runs a group's members in one such transaction: all of their writes
 * are committed together or none are.
 */
import { TransactionClosedError } from './errors.js';
import type { ConsistencyGroup } from './group.js';
import type { IsolationLevel } from './isolation.js';
import {
  checkExecutionMembers,
  type GroupExecutionResult,
  type GroupExecutionStrategy,
  type GroupTransaction,
  groupFailure,
  type MemberOutcome,
} from './strategy.js';

type Entry<V> = { readonly deleted: false; readonly value: V } | { readonly deleted: true };

/** Options of an InMemoryStore. */
export interface InMemoryStoreOptions<V> {
  /** Called with a transaction's writes (undefined = delete) before they are applied; may throw to fail the commit. */
  readonly beforeCommit?: (writes: ReadonlyMap<string, V | undefined>) => void;
}

/** A key-value map with begin/commit/rollback transactions. */
export class InMemoryStore<V = unknown> {
  #data: Map<string, V>;
  #commits = 0;
  readonly #options: InMemoryStoreOptions<V>;

  constructor(initial: Iterable<readonly [string, V]> = [], options: InMemoryStoreOptions<V> = {}) {
    this.#data = new Map(initial);
    this.#options = options;
  }

  /** Committed value of `key`. */
  get(key: string): V | undefined {
    return this.#data.get(key);
  }

  /** Whether `key` has a committed value. */
  has(key: string): boolean {
    return this.#data.has(key);
  }

  /** Number of committed keys. */
  get size(): number {
    return this.#data.size;
  }

  /** Number of commits so far (auto-committed writes included). */
  get commitCount(): number {
    return this.#commits;
  }

  /** A copy of the committed state. */
  snapshot(): Map<string, V> {
    return new Map(this.#data);
  }

  /** Writes one key outside any transaction (auto-commit). */
  set(key: string, value: V): void {
    this.#apply(new Map([[key, { deleted: false, value }]]));
  }

  /** Deletes one key outside any transaction (auto-commit). */
  delete(key: string): void {
    this.#apply(new Map([[key, { deleted: true }]]));
  }

  /** Starts a transaction. */
  begin(isolation: IsolationLevel = 'read committed'): InMemoryTransaction<V> {
    const snapshot = isolation === 'repeatable read' ? new Map(this.#data) : null;
    return new InMemoryTransaction<V>(
      isolation,
      (key) => (snapshot ?? this.#data).get(key),
      (key) => (snapshot ?? this.#data).has(key),
      (writes) => this.#apply(writes),
    );
  }

  #apply(writes: ReadonlyMap<string, Entry<V>>): void {
    const plain = new Map<string, V | undefined>();
    for (const [k, e] of writes) plain.set(k, e.deleted ? undefined : e.value);
    this.#options.beforeCommit?.(plain);
    for (const [k, e] of writes) {
      if (e.deleted) this.#data.delete(k);
      else this.#data.set(k, e.value);
    }
    this.#commits++;
  }
}

/** A transaction of an InMemoryStore (create it with `store.begin()`). */
export class InMemoryTransaction<V = unknown> {
  #overlay = new Map<string, Entry<V>>();
  #savepoints: Array<Map<string, Entry<V>>> = [];
  #state: 'active' | 'committed' | 'rolled back' = 'active';

  /** @internal Use `InMemoryStore.begin()`. */
  constructor(
    /** Isolation of this transaction. */
    readonly isolation: IsolationLevel,
    private readonly readBase: (key: string) => V | undefined,
    private readonly hasBase: (key: string) => boolean,
    private readonly commitWrites: (writes: ReadonlyMap<string, Entry<V>>) => void,
  ) {}

  /** 'active', 'committed' or 'rolled back'. */
  get state(): 'active' | 'committed' | 'rolled back' {
    return this.#state;
  }

  /** Value of `key` as this transaction sees it. */
  get(key: string): V | undefined {
    this.#active();
    const e = this.#overlay.get(key);
    if (e) return e.deleted ? undefined : e.value;
    return this.readBase(key);
  }

  /** Whether `key` exists as this transaction sees it. */
  has(key: string): boolean {
    this.#active();
    const e = this.#overlay.get(key);
    if (e) return !e.deleted;
    return this.hasBase(key);
  }

  /** Writes `key` (visible to this transaction only until commit). */
  set(key: string, value: V): void {
    this.#active();
    this.#overlay.set(key, { deleted: false, value });
  }

  /** Deletes `key` (visible to this transaction only until commit). */
  delete(key: string): void {
    this.#active();
    this.#overlay.set(key, { deleted: true });
  }

  /** The pending writes (undefined = delete). */
  writes(): Map<string, V | undefined> {
    const out = new Map<string, V | undefined>();
    for (const [k, e] of this.#overlay) out.set(k, e.deleted ? undefined : e.value);
    return out;
  }

  /** Takes a savepoint; returns its handle for rollbackTo/release. */
  savepoint(): number {
    this.#active();
    this.#savepoints.push(new Map(this.#overlay));
    return this.#savepoints.length - 1;
  }

  /** Undoes every write since savepoint `handle` and discards it and later savepoints. */
  rollbackTo(handle: number): void {
    this.#active();
    const saved = this.#savepoints[handle];
    if (!saved) throw new RangeError(`no savepoint ${handle}; it was released or rolled back`);
    this.#overlay = saved;
    this.#savepoints.length = handle;
  }

  /** Forgets savepoint `handle` and later ones, keeping the writes. */
  release(handle: number): void {
    this.#active();
    if (handle < this.#savepoints.length) this.#savepoints.length = handle;
  }

  /** Applies all writes to the store atomically; on a throw the transaction stays active. */
  commit(): void {
    this.#active();
    this.commitWrites(this.#overlay);
    this.#state = 'committed';
  }

  /** Discards all writes. Idempotent once rolled back. */
  rollback(): void {
    if (this.#state === 'rolled back') return;
    this.#active();
    this.#overlay.clear();
    this.#savepoints = [];
    this.#state = 'rolled back';
  }

  #active(): void {
    if (this.#state !== 'active') throw new TransactionClosedError(this.#state);
  }
}

/** The GroupTransaction of InMemoryGroupStrategy: key-value access plus savepoints. */
export class InMemoryGroupTransaction<V = unknown> implements GroupTransaction {
  constructor(
    /** The group being refreshed. */
    readonly group: ConsistencyGroup,
    /** The underlying store transaction. */
    readonly tx: InMemoryTransaction<V>,
  ) {}

  /** Isolation of the transaction. */
  get isolation(): IsolationLevel {
    return this.tx.isolation;
  }

  /** Reads `key` in the group transaction. */
  get(key: string): V | undefined {
    return this.tx.get(key);
  }

  /** Writes `key` in the group transaction. */
  set(key: string, value: V): void {
    this.tx.set(key, value);
  }

  /** Deletes `key` in the group transaction. */
  delete(key: string): void {
    this.tx.delete(key);
  }

  /** Runs `work` in a savepoint; on a throw, undoes only its writes and rethrows. */
  async savepoint<T>(work: () => Promise<T>): Promise<T> {
    const sp = this.tx.savepoint();
    try {
      const value = await work();
      this.tx.release(sp);
      return value;
    } catch (e) {
      this.tx.rollbackTo(sp);
      throw e;
    }
  }
}

/** A GroupExecutionStrategy over an InMemoryStore: members' writes commit together or not at all. */
export class InMemoryGroupStrategy<V = unknown>
  implements GroupExecutionStrategy<InMemoryGroupTransaction<V>>
{
  /** Strategy name. */
  readonly name = 'in-memory';

  constructor(
    /** The store the members write to. */
    readonly store: InMemoryStore<V>,
  ) {}

  /** Runs the members in one store transaction at the group's isolation. */
  async execute<T>(
    group: ConsistencyGroup,
    members: readonly string[],
    refreshMember: (member: string, tx: InMemoryGroupTransaction<V>) => Promise<T>,
  ): Promise<GroupExecutionResult<T>> {
    checkExecutionMembers(group, members);
    const tx = this.store.begin(group.isolation);
    const gtx = new InMemoryGroupTransaction(group, tx);
    const results: MemberOutcome<T>[] = [];
    for (const member of members) {
      try {
        results.push({ member, value: await refreshMember(member, gtx) });
      } catch (cause) {
        return this.#fail(tx, group, member, results, cause);
      }
    }
    try {
      tx.commit();
    } catch (cause) {
      return this.#fail(tx, group, null, results, cause);
    }
    return { ok: true, group, results };
  }

  #fail<T>(
    tx: InMemoryTransaction<V>,
    group: ConsistencyGroup,
    member: string | null,
    done: readonly MemberOutcome<T>[],
    cause: unknown,
  ): GroupExecutionResult<T> {
    let rollbackError: unknown;
    try {
      tx.rollback();
    } catch (e) {
      rollbackError = e;
    }
    return groupFailure(
      group,
      member,
      done.map((r) => r.member),
      cause,
      rollbackError,
    );
  }
}
