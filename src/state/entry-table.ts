/**
 * What the keyed state objects (value, list, map, reducing, aggregating; state/heap/heap-*-state.ts)
 * need of the table that holds one state's entries: the current key's entry, writes, removals,
 * and ownership before a value is mutated in place or handed to user code. The heap backend's
 * copy-on-write StateTable implements it, and so does the RocksDB backend's cache
 * (state/rocksdb/rocksdb-table.ts), so both backends share one implementation of the state
 * semantics and a job behaves the same on either.
 */
export interface StateEntry {
  /** The stored representation of the entry's value (keyed-state-backend.ts). */
  value: unknown;
}

export interface EntryTable<E extends StateEntry = StateEntry> {
  readonly name: string;
  /** The current key's entry, if it has a value. Throws when no key is set. */
  current(): E | undefined;
  /** Stores a value for the current key, given its entry as current() returned it. */
  write(entry: E | undefined, value: unknown): void;
  /** Removes the current key's entry, given as current() returned it. */
  remove(entry: E): void;
  /** Removes the current key's entry, if it has one. */
  clearCurrent(): void;
  /**
   * The entry's value, made private to the live state (a pending snapshot keeps its own copy)
   * and marked changed: needed before a value is mutated in place or handed to user code.
   */
  own(entry: E): unknown;
  /** Whether a pending snapshot still shares the entry's value (own() would copy it). */
  shared(entry: E): boolean;
}
