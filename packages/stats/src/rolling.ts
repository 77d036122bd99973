/**
 * Statistics of the last N samples (a fixed-size sliding window). Rule: the window holds the most
 * recent min(pushed, N) samples. While it fills, each sample is a Welford update; once full, the
 * new sample x replaces the oldest x₀ with n fixed:
 *   δ = x − x₀;  x̄′ = x̄ + δ / n;  M2′ = M2 + δ · ((x − x̄′) + (x₀ − x̄))
 * (exact in real arithmetic). Its rounding error is kept sane two ways: mean and M2 are
 * recomputed exactly (compensated two-pass over the window) after every N replacements, so error
 * never accumulates over more than one window; and immediately when an update would shrink M2 by
 * more than 2²⁰ (a large value leaving: the subtraction would cancel most significant bits, so the
 * small remaining variance would be mostly rounding noise). Amortized O(1) per push, O(N) memory;
 * min and max come from monotonic deques (amortized O(1)).
 */
import { InvalidStatsInputError, requireFinite } from './errors.js';
import { Moments } from './moments.js';
import { isFiniteNumber, readSnapshot } from './snapshot.js';

/** M2 may shrink by at most this factor in one update before it is recomputed (2⁻²⁰: ≤ 2⁻³² relative error). */
const CANCELLATION_LIMIT = 2 ** -20;

/** The JSON form of a rolling window (`toJSON()`): its size and samples, oldest first. */
export interface RollingWindowSnapshot {
  /** Always 'rolling-window'. */
  readonly kind: 'rolling-window';
  /** Snapshot format version (1). */
  readonly version: 1;
  /** Window size N. */
  readonly size: number;
  /** The samples in the window, oldest first (at most `size`). */
  readonly values: readonly number[];
}

/**
 * Ring buffer of the slots (indices into the window's sample buffer) of the samples that can
 * still become the window's max (`keepLarger`) or min; their values are strictly monotone from
 * front to back, so the front is the extreme. Entries are distinct window samples, hence distinct
 * slots: the only one that can leave at a push is the evicted sample, in the slot being written.
 */
class MonotonicDeque {
  readonly #slots: Uint32Array;
  readonly #keepLarger: boolean;
  #head = 0;
  #length = 0;

  constructor(capacity: number, keepLarger: boolean) {
    this.#slots = new Uint32Array(capacity);
    this.#keepLarger = keepLarger;
  }

  /** Drops the front entry if it is the sample in `slot` (being evicted). */
  evict(slot: number): void {
    if (this.#length > 0 && this.#slots[this.#head] === slot) {
      this.#head = this.#head + 1 === this.#slots.length ? 0 : this.#head + 1;
      this.#length--;
    }
  }

  /** Appends the sample in `slot` (value `x`), first dropping the back entries it dominates. */
  push(slot: number, x: number, values: Float64Array): void {
    const slots = this.#slots;
    const cap = slots.length;
    while (this.#length > 0) {
      let back = this.#head + this.#length - 1;
      if (back >= cap) back -= cap;
      const v = values[slots[back]!]!;
      if (this.#keepLarger ? v > x : v < x) break;
      this.#length--;
    }
    let end = this.#head + this.#length;
    if (end >= cap) end -= cap;
    slots[end] = slot;
    this.#length++;
  }

  /** Slot of the front entry (the window's extreme); undefined when empty. */
  front(): number | undefined {
    return this.#length === 0 ? undefined : this.#slots[this.#head];
  }

  /** Empties the deque. */
  clear(): void {
    this.#head = 0;
    this.#length = 0;
  }

  /** Makes this deque an exact copy of `other` (same capacity and direction). */
  copyFrom(other: MonotonicDeque): void {
    this.#slots.set(other.#slots);
    this.#head = other.#head;
    this.#length = other.#length;
  }
}

/** Mean / variance / min / max of the last `size` samples (`count` = min(pushed, size)). */
export class RollingWindow extends Moments {
  /** Window size N: the statistics cover the last N samples. */
  readonly size: number;
  readonly #values: Float64Array;
  readonly #maxes: MonotonicDeque;
  readonly #mins: MonotonicDeque;
  /** Slot the next sample is written to (the oldest sample's slot once the window is full). */
  #next = 0;
  #replacements = 0;

  /** An empty window over the last `size` samples; `size` must be a positive integer. */
  constructor(size: number) {
    if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 1 || size > 2 ** 32 - 1) {
      throw new InvalidStatsInputError(
        'RollingWindow size',
        size,
        'an integer from 1 to 4294967295 (the number of samples kept)',
      );
    }
    super();
    this.size = size;
    this.#values = new Float64Array(size);
    this.#maxes = new MonotonicDeque(size, true);
    this.#mins = new MonotonicDeque(size, false);
  }

  /** A window of `size` over `values` (only the last `size` of them count). */
  static of(size: number, values: Iterable<number>): RollingWindow {
    return new RollingWindow(size).pushAll(values);
  }

  /**
   * Restores a window from `toJSON()` output (its samples; mean and variance are recomputed from
   * them, equal to the original's up to rounding); throws `InvalidSnapshotError` if malformed.
   */
  static fromJSON(snapshot: unknown): RollingWindow {
    const { fields, fail } = readSnapshot(snapshot, 'rolling-window');
    const { size, values } = fields;
    if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 1) {
      fail('size must be a positive integer');
    }
    if (!Array.isArray(values)) return fail('values must be an array');
    if (values.length > (size as number)) fail(`values has ${values.length} samples, more than size ${size}`);
    if (!values.every(isFiniteNumber)) {
      fail('values must all be finite numbers');
    }
    return RollingWindow.of(size as number, values as number[]);
  }

  /** Adds one finite sample, evicting the oldest when full (amortized O(1)). */
  push(x: number): this {
    requireFinite('RollingWindow.push(x): x', x);
    x += 0; // -0 → 0, so snapshots round-trip through JSON exactly
    const size = this.size;
    const slot = this.#next;
    if (this.count < size) {
      this.addSample(x);
      this.#values[slot] = x;
    } else {
      this.#maxes.evict(slot);
      this.#mins.evict(slot);
      const old = this.#values[slot]!;
      this.#values[slot] = x;
      const delta = x - old;
      const oldMean = this.mean;
      const oldM2 = this.squaredDeviations;
      const mean = oldMean + delta / size;
      const m2 = oldM2 + delta * (x - mean + (old - oldMean));
      if (++this.#replacements >= size || m2 < oldM2 * CANCELLATION_LIMIT) {
        this.#recompute();
      } else {
        this.setMoments(size, mean, m2);
      }
    }
    this.#maxes.push(slot, x, this.#values);
    this.#mins.push(slot, x, this.#values);
    this.#next = slot + 1 === size ? 0 : slot + 1;
    return this;
  }

  /** Adds every sample of `values`, in order. */
  pushAll(values: Iterable<number>): this {
    for (const x of values) this.push(x);
    return this;
  }

  /** Exact (Neumaier-compensated two-pass) mean and M2 of the full window; resets the drift counter. */
  #recompute(): void {
    const v = this.#values;
    const n = this.count;
    let sum = 0;
    let c = 0;
    for (let i = 0; i < n; i++) {
      const x = v[i]!;
      const t = sum + x;
      c += Math.abs(sum) >= Math.abs(x) ? sum - t + x : x - t + sum;
      sum = t;
    }
    const mean = (sum + c) / n;
    sum = 0;
    c = 0;
    for (let i = 0; i < n; i++) {
      const d = v[i]! - mean;
      const x = d * d;
      const t = sum + x; // terms ≥ 0: no cancellation, the compensation keeps the low bits
      c += sum >= x ? sum - t + x : x - t + sum;
      sum = t;
    }
    this.setMoments(n, mean, sum + c);
    this.#replacements = 0;
  }

  /** Smallest sample in the window (undefined when empty). */
  get min(): number | undefined {
    const slot = this.#mins.front();
    return slot === undefined ? undefined : this.#values[slot];
  }

  /** Largest sample in the window (undefined when empty). */
  get max(): number | undefined {
    const slot = this.#maxes.front();
    return slot === undefined ? undefined : this.#values[slot];
  }

  /** The samples in the window, oldest first (a copy). */
  values(): number[] {
    const out: number[] = [];
    const n = this.count;
    const start = n < this.size ? 0 : this.#next;
    for (let i = 0; i < n; i++) out.push(this.#values[(start + i) % this.size]!);
    return out;
  }

  /** An independent, exact copy (same samples, same statistics to the last bit). */
  clone(): RollingWindow {
    const c = new RollingWindow(this.size);
    c.#values.set(this.#values);
    c.#maxes.copyFrom(this.#maxes);
    c.#mins.copyFrom(this.#mins);
    c.#next = this.#next;
    c.setMoments(this.count, this.mean, this.squaredDeviations);
    c.#replacements = this.#replacements;
    return c;
  }

  /** Forgets every sample (the size is kept). */
  clear(): this {
    this.#next = 0;
    this.setMoments(0, 0, 0);
    this.#replacements = 0;
    this.#maxes.clear();
    this.#mins.clear();
    return this;
  }

  /** A plain JSON-safe snapshot (size and samples); `RollingWindow.fromJSON` restores it. */
  toJSON(): RollingWindowSnapshot {
    return { kind: 'rolling-window', version: 1, size: this.size, values: this.values() };
  }
}
