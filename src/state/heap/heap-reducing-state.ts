import type { ReduceFn, ReducingState } from '../../api/state.ts';
import type { EntryTable } from '../entry-table.ts';

export class HeapReducingState<T> implements ReducingState<T> {
  readonly #table: EntryTable;
  readonly #reduce: ReduceFn<T>;

  constructor(table: EntryTable, reduce: ReduceFn<T>) {
    this.#table = table;
    this.#reduce = reduce;
  }

  get(): T | undefined {
    const table = this.#table;
    const entry = table.current();
    if (entry === undefined) return undefined;
    const value = entry.value;
    if (typeof value === 'object' && value !== null) return table.own(entry) as T;
    return value as T;
  }

  /** The first value is stored as given; later ones are folded in (reduce may mutate its first argument). */
  add(value: T): void {
    const table = this.#table;
    const entry = table.current();
    if (entry === undefined) {
      table.write(undefined, value);
      return;
    }
    const reduced = this.#reduce(table.own(entry) as T, value);
    table.write(entry, reduced);
  }

  clear(): void {
    this.#table.clearCurrent();
  }
}
