/** Allocation of node numbers and compile-wide unique column ids for one operator tree. */

/** Hands out node numbers and unique, readable column ids (`t_amount`, `t_amount_2`, …). */
export class IdAllocator {
  private nextNode = 1;
  private readonly columns = new Set<string>();

  /** A new node number. */
  node(): number {
    return this.nextNode++;
  }

  /** A new column id derived from `base` (lower-case ASCII letters, digits and `_`; at most 40 chars). */
  column(base: string): string {
    let clean = base
      .toLowerCase()
      .replace(/[^a-z0-9_]+/g, '_')
      .replace(/^_+/, '')
      .slice(0, 40);
    if (clean === '' || /^[0-9]/.test(clean)) clean = `c_${clean}`;
    let id = clean;
    for (let i = 2; this.columns.has(id); i++) id = `${clean}_${i}`;
    this.columns.add(id);
    return id;
  }
}
