/**
 * The copy-on-write tables of the heap keyed state backend: one `Map` per key group from a key's
 * canonical form to its entry (original key, stored value, write version), and the context the
 * states of one backend share (current key, version counter, live snapshots).
 *
 * A write to an entry that a live snapshot still shares first saves the old value in that
 * snapshot (see heap-snapshot.ts), so taking a snapshot costs O(states), not O(entries).
 */
import type { StateKind } from '../../api/state.ts';
import type { PrimitiveKey } from '../../core/key-group.ts';
import { noCurrentKey } from './heap-state-messages.ts';
import { copyValue } from './stored-values.ts';

/** One key's state in one table; also the record a snapshot overlay keeps of an old value. */
export class Entry {
  readonly canonical: PrimitiveKey;
  key: unknown;
  value: unknown;
  /** The write version of `value`: shared with every live snapshot whose version is >= it. */
  version: number;
  constructor(canonical: PrimitiveKey, key: unknown, value: unknown, version: number) {
    this.canonical = canonical;
    this.key = key;
    this.value = value;
    this.version = version;
  }
}

/** An old value as an overlay keeps it: the entry itself, or the position of its record in the snapshot's arena. */
export type Saved = Entry | number;

/** Map-state values: canonical user key → [user key, user value]. */
export type StoredMap = Map<PrimitiveKey, [unknown, unknown]>;

/**
 * What a table needs of a live snapshot to preserve old values for it (HeapSnapshot implements
 * it): its version, how far it was written, and where to save an old value.
 */
export interface TableSnapshot {
  readonly version: number;
  /** Slots below this are written: their old values are no longer saved. */
  readonly written: number;
  /**
   * Keeps the entry's key and value by reference; `retired`: the entry is leaving the table and
   * is never changed again, so the entry object itself may be kept.
   */
  save(tableId: number, slot: number, entry: Entry, retired: boolean): void;
  /** Keeps the entry's key and value encoded; false when the codec refuses them (nothing is kept then). */
  saveEncoded(tableId: number, slot: number, entry: Entry, kind: StateKind): boolean;
  release(): void;
}

/**
 * What the state objects of one backend share: the current key and the snapshot versions.
 * Module-internal, so its fields are plain: every state access reads them.
 */
export class Context {
  key: unknown = undefined;
  canonical: PrimitiveKey = '';
  keyGroup = -1;
  /** keyGroup minus the range start; -1 while no key is set. */
  slot = -1;
  /**
   * Changes whenever the current key is set (or the tables are cleared): a table's cached lookup
   * of the current key is valid while the epoch it was made in is current.
   */
  epoch = 0;
  /** The version stamped on writes. */
  version = 0;
  /** Version of the newest live snapshot; -1 while none is live. */
  newestLive = -1;
  /** Live snapshots, oldest first (versions ascending). */
  readonly live: TableSnapshot[] = [];
}

export class StateTable {
  readonly id: number;
  readonly name: string;
  readonly kind: StateKind;
  readonly groups: Map<PrimitiveKey, Entry>[];
  readonly #ctx: Context;
  /**
   * The current key's entry as last looked up or written, valid while `#cachedEpoch` equals the
   * context's epoch: a record's state accesses (read, then update; a timer's read, then clear)
   * look the key up once per table instead of once per access. Every change to the current key's
   * entry goes through this table and keeps the cache right; put() (any key) drops it.
   */
  #cached: Entry | undefined = undefined;
  #cachedEpoch = -1;

  constructor(id: number, name: string, kind: StateKind, groupCount: number, ctx: Context) {
    this.id = id;
    this.name = name;
    this.kind = kind;
    this.#ctx = ctx;
    this.groups = [];
    for (let i = 0; i < groupCount; i++) this.groups.push(new Map());
  }

  /** The current key's entry, if it has one. */
  current(): Entry | undefined {
    const ctx = this.#ctx;
    if (this.#cachedEpoch === ctx.epoch) return this.#cached;
    const group = this.groups[ctx.slot];
    if (group === undefined) throw noCurrentKey(this.name);
    const entry = group.get(ctx.canonical);
    this.#cached = entry;
    this.#cachedEpoch = ctx.epoch;
    return entry;
  }

  /** Stores a value for the current key, given its entry as found by current(). */
  write(entry: Entry | undefined, value: unknown): void {
    const ctx = this.#ctx;
    if (entry === undefined) {
      const created = new Entry(ctx.canonical, ctx.key, value, ctx.version);
      this.groups[ctx.slot]!.set(ctx.canonical, created);
      this.#cached = created;
      this.#cachedEpoch = ctx.epoch;
      return;
    }
    if (entry.version <= ctx.newestLive) {
      this.#preserve(ctx.slot, entry, false);
      entry.version = ctx.version;
    }
    entry.value = value;
  }

  /** Removes the current key's entry, given as found by current(). */
  remove(entry: Entry): void {
    const ctx = this.#ctx;
    if (entry.version <= ctx.newestLive) this.#preserve(ctx.slot, entry, false, true);
    this.groups[ctx.slot]!.delete(ctx.canonical);
    this.#cached = undefined;
    this.#cachedEpoch = ctx.epoch;
  }

  /** Removes the current key's entry, if it has one (every state kind's clear()). */
  clearCurrent(): void {
    const entry = this.current();
    if (entry !== undefined) this.remove(entry);
  }

  /**
   * The current key's value, made private to the live state: while a live snapshot shares it,
   * the snapshot keeps an encoded copy (or, for a value the codec refuses, the original while the
   * entry gets a deep copy). Needed before a value is mutated in place or handed to user code
   * that might.
   */
  own(entry: Entry): unknown {
    const ctx = this.#ctx;
    if (entry.version <= ctx.newestLive) {
      if (this.#preserve(ctx.slot, entry, true)) entry.value = copyValue(entry.value);
      entry.version = ctx.version;
    }
    return entry.value;
  }

  /** Whether a live snapshot still shares the entry's value. */
  shared(entry: Entry): boolean {
    return entry.version <= this.#ctx.newestLive;
  }

  /** Stores a value for any key (restore); `slot` is the key group minus the range start. */
  put(slot: number, canonical: PrimitiveKey, key: unknown, value: unknown): void {
    const ctx = this.#ctx;
    this.#cachedEpoch = -1;
    const group = this.groups[slot]!;
    const entry = group.get(canonical);
    if (entry === undefined) {
      group.set(canonical, new Entry(canonical, key, value, ctx.version));
      return;
    }
    if (entry.version <= ctx.newestLive) {
      this.#preserve(slot, entry, false);
      entry.version = ctx.version;
    }
    entry.key = key;
    entry.value = value;
  }

  /**
   * Saves the entry's current value in each live snapshot that shares it (those whose version is
   * >= the entry's) and has not yet written its key group. None of them has an overlay record for
   * this key yet (a record is only made on the first write after a snapshot, which moves the
   * entry's version past that snapshot's). `encode`: the value is about to be mutated in place, so
   * it is saved as bytes; returns whether some snapshot had to keep the object itself instead (the
   * codec refused it), in which case the caller must give the live entry a copy. `retired`: the
   * entry is being removed from the table (nothing changes it afterwards).
   */
  #preserve(slot: number, entry: Entry, encode: boolean, retired = false): boolean {
    const live = this.#ctx.live;
    let kept = false;
    for (let i = live.length - 1; i >= 0; i--) {
      const snapshot = live[i]!;
      if (snapshot.version < entry.version) break;
      if (slot < snapshot.written) continue;
      if (encode && snapshot.saveEncoded(this.id, slot, entry, this.kind)) continue;
      snapshot.save(this.id, slot, entry, retired);
      kept = true;
    }
    return kept;
  }
}
