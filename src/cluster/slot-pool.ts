/**
 * Slot accounting of a cluster: a fixed number of slots, of which every job that is not yet
 * released (terminal with its threads gone) holds its share. A job starts only when the slots it
 * needs are free; there is no queueing.
 */
import { InsufficientSlotsError } from './dispatcher-errors.ts';

export interface SlotHolder {
  readonly slots: number;
  readonly released: boolean;
}

export class SlotPool {
  constructor(
    readonly total: number,
    readonly holders: () => Iterable<SlotHolder>,
  ) {
    if (!Number.isInteger(total) || total < 1) throw new RangeError(`slots must be a positive integer, got ${total}`);
  }

  /** Slots not held by a job that is still running (or still stopping its threads). */
  get free(): number {
    let used = 0;
    for (const h of this.holders()) if (!h.released) used += h.slots;
    return this.total - used;
  }

  /** @throws InsufficientSlotsError when fewer than `needed` slots are free. */
  require(needed: number): void {
    const free = this.free;
    if (needed > free) throw new InsufficientSlotsError(needed, free, this.total);
  }
}
