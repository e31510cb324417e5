import type { ValueState } from '../../api/state.ts';
import type { EntryTable } from '../entry-table.ts';
import { copyValue } from './stored-values.ts';

export class HeapValueState<T> implements ValueState<T> {
  readonly #table: EntryTable;
  readonly #defaultValue: T | undefined;
  readonly #defaultIsObject: boolean;

  constructor(table: EntryTable, defaultValue: T | undefined) {
    this.#table = table;
    this.#defaultValue = defaultValue;
    this.#defaultIsObject = typeof defaultValue === 'object' && defaultValue !== null;
  }

  /** An object default is copied per call, so mutating it cannot change later defaults. */
  value(): T | undefined {
    const table = this.#table;
    const entry = table.current();
    if (entry === undefined) {
      return this.#defaultIsObject ? (copyValue(this.#defaultValue) as T) : this.#defaultValue;
    }
    const value = entry.value;
    if (typeof value === 'object' && value !== null) return table.own(entry) as T;
    return value as T;
  }

  /** Updating to undefined clears the state (undefined is what "no value" reads as). */
  update(value: T): void {
    const table = this.#table;
    const entry = table.current();
    if (value === undefined) {
      if (entry !== undefined) table.remove(entry);
      return;
    }
    table.write(entry, value);
  }

  clear(): void {
    this.#table.clearCurrent();
  }
}
