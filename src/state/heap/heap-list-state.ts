import type { ListState } from '../../api/state.ts';
import type { EntryTable } from '../entry-table.ts';

/** The stored array is returned by get() itself (no copy) while no snapshot shares it. */
export class HeapListState<T> implements ListState<T> {
  readonly #table: EntryTable;

  constructor(table: EntryTable) {
    this.#table = table;
  }

  get(): T[] {
    const table = this.#table;
    const entry = table.current();
    return entry === undefined ? [] : (table.own(entry) as T[]);
  }

  add(value: T): void {
    const table = this.#table;
    const entry = table.current();
    if (entry === undefined) table.write(undefined, [value]);
    else (table.own(entry) as T[]).push(value);
  }

  addAll(values: Iterable<T>): void {
    const table = this.#table;
    const entry = table.current();
    if (entry === undefined) {
      const list = Array.from(values);
      if (list.length > 0) table.write(undefined, list);
      return;
    }
    const list = table.own(entry) as T[];
    for (const value of values) list.push(value);
  }

  /** Replacing with no values clears the state. */
  update(values: Iterable<T>): void {
    const table = this.#table;
    const list = Array.from(values);
    const entry = table.current();
    if (list.length > 0) table.write(entry, list);
    else if (entry !== undefined) table.remove(entry);
  }

  clear(): void {
    this.#table.clearCurrent();
  }
}
