/**
 * A binary min-heap of non-negative integers (internal). Rule: `pop` returns the smallest value
 * pushed and not yet popped; used to break ties by insertion index in Kahn's algorithm.
 */
export class IntMinHeap {
  private data: Int32Array;
  private n = 0;

  constructor(capacity = 16) {
    this.data = new Int32Array(Math.max(capacity, 1));
  }

  /** Number of queued values. */
  get size(): number {
    return this.n;
  }

  /** Queues a value. */
  push(value: number): void {
    if (this.n === this.data.length) {
      const grown = new Int32Array(this.data.length * 2);
      grown.set(this.data);
      this.data = grown;
    }
    const a = this.data;
    let i = this.n++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = a[parent]!;
      if (p <= value) break;
      a[i] = p;
      i = parent;
    }
    a[i] = value;
  }

  /** Removes and returns the smallest value; -1 when empty. */
  pop(): number {
    if (this.n === 0) return -1;
    const a = this.data;
    const top = a[0]!;
    const last = a[--this.n]!;
    const n = this.n;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      let c = l;
      if (r < n && a[r]! < a[l]!) c = r;
      if (a[c]! >= last) break;
      a[i] = a[c]!;
      i = c;
    }
    if (n > 0) a[i] = last;
    return top;
  }
}
