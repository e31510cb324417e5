/**
 * The RocksDB backend's cache of one state: the entries of recently used keys, decoded, in front
 * of RocksDB. The state objects (value, list, map, reducing, aggregating) run on it exactly as on
 * the heap backend's tables (entry-table.ts), so access stays synchronous.
 *
 * - A key not in the cache is read from RocksDB synchronously (a miss: one round trip to the I/O
 *   thread) and cached, also when it has no value (a negative entry), so new keys cost one miss.
 * - Writes stay in the cache (the entry is dirty) and reach RocksDB when the entry is evicted,
 *   or at the next snapshot.
 * - Snapshots (rocksdb-snapshot.ts) are taken in O(states): the dirty entries so far become the
 *   snapshot's, and the epoch moves on. Until the snapshot is established (its entries written
 *   and a RocksDB snapshot taken), no later write may reach RocksDB: dirty entries are not
 *   evicted meanwhile, and the first change to an entry the snapshot still needs saves its old
 *   value, encoded, in the snapshot (copy-on-write), as the heap backend does.
 * - The cache is bounded in bytes (an estimate: the encoded size last seen plus overhead);
 *   replacement is CLOCK with one long-lived iterator as the hand. The current key's entry is
 *   never evicted, so the entry a state object holds stays valid.
 */
import type { StateKind } from '../../api/state.ts';
import type { PrimitiveKey } from '../../core/key-group.ts';
import type { EntryTable } from '../entry-table.ts';
import { noCurrentKey } from '../heap/heap-state-messages.ts';
import { ByteReader, ByteWriter, readStored, readValue, writeStored, writeValue } from '../state-codec.ts';
import { entryKey } from './rocksdb-keys.ts';
import type { RocksDBStore } from './rocksdb-store.ts';

/** Entries the CLOCK hand visits at most per eviction call. */
const EVICT_STEPS = 512;

/** Estimated bytes an entry costs beyond its encoded size (objects, map slot). */
export const ENTRY_OVERHEAD = 96;

/**
 * Something changed in the cache that must reach RocksDB: an entry, or a map state key's pending
 * clear (rocksdb-map-state.ts). Listed in CacheContext.dirty when it first changes in an epoch.
 */
export interface DirtyItem {
  /** Changed since it was last written to RocksDB. */
  dirty: boolean;
  /** The epoch of the last change (valid while dirty). */
  epoch: number;
  /** Writes the change to RocksDB (buffered) and marks it clean. */
  writeBack(): void;
}

export class CachedEntry implements ClockEntry {
  readonly table: RocksDBTable;
  readonly canonical: PrimitiveKey;
  readonly key: unknown;
  readonly keyGroup: number;
  /** The stored value; undefined: the key has no value (negative entry or removed). */
  value: unknown;
  /** Changed since it was last written to RocksDB. */
  dirty = false;
  /** The epoch of the last change (valid while dirty). */
  epoch = 0;
  /** CLOCK's reference bit. */
  ref = true;
  /** Estimated bytes. */
  size: number;
  constructor(table: RocksDBTable, canonical: PrimitiveKey, key: unknown, keyGroup: number, value: unknown, size: number) {
    this.table = table;
    this.canonical = canonical;
    this.key = key;
    this.keyGroup = keyGroup;
    this.value = value;
    this.size = size;
  }

  writeBack(): void {
    this.table.writeBack(this);
  }
}

/** A cached entry as eviction sees it. */
export interface ClockEntry extends DirtyItem {
  /** CLOCK's reference bit: set on use, cleared as the hand passes. */
  ref: boolean;
  /** Estimated bytes. */
  readonly size: number;
}

/**
 * The CLOCK hand over one table's cache (a Map in insertion order), shared by the value tables
 * and map state (rocksdb-map-state.ts). `evict` removes entries until the cache is within its
 * budget or nothing more can go: an entry used since the hand last passed gets another round, one
 * `keep` names (the entry being accessed) stays, and dirty ones stay while a snapshot is pending
 * (their old value must reach it first); a dirty entry is written back before it goes. Bounded
 * per call: after a checkpoint held dirty entries back, the cache may be far over its budget, and
 * writing all of that back at once would stall the record being processed; every later insertion
 * evicts some more, so the cache comes back within its budget.
 */
export class ClockHand<E extends ClockEntry> {
  readonly #cache: Map<unknown, E>;
  #at: Iterator<E> | undefined;
  constructor(cache: Map<unknown, E>) {
    this.#cache = cache;
  }

  /** Starts the next round from the oldest entry (after the cache was cleared). */
  reset(): void {
    this.#at = undefined;
  }

  /** `drop` removes an evicted entry from the table's own structures. */
  evict(ctx: CacheContext, keep: (e: E) => boolean, drop: (e: E) => void): void {
    const gateClosed = ctx.pending.length > 0;
    let steps = Math.min(2 * this.#cache.size, EVICT_STEPS);
    while (ctx.bytes > ctx.budget && steps-- > 0) {
      let next = this.#at?.next();
      if (next === undefined || next.done === true) {
        this.#at = this.#cache.values();
        next = this.#at.next();
        if (next.done === true) return;
      }
      const entry = next.value;
      if (entry.ref) {
        entry.ref = false;
        continue;
      }
      if (keep(entry)) continue;
      if (entry.dirty) {
        if (gateClosed) continue;
        entry.writeBack();
      }
      drop(entry);
      ctx.bytes -= entry.size;
      ctx.entries--;
    }
  }
}

/** A snapshot as the tables see it: its epoch and where old values go. */
export interface PendingSnapshot {
  readonly epoch: number;
  /** Keeps the encoded old value (null: the key had none) of the entry stored under `dbKey`. */
  saveOld(dbKey: Uint8Array, encoded: Uint8Array | null): void;
  /** Keeps a pending deletion of every key in [start, end) (a map state key's clear), done before the saved values. */
  saveRangeDelete(start: Uint8Array, end: Uint8Array): void;
}

/** What the tables of one backend share. Module-internal: plain fields, read on every access. */
export class CacheContext {
  key: unknown = undefined;
  canonical: PrimitiveKey = '';
  keyGroup = -1;
  /** Counts setCurrentKey calls: what is derived from the current key may be kept until it changes. */
  serial = 0;
  /** The epoch stamped on changes; a snapshot takes it and moves it on. */
  epoch = 0;
  /** Epoch of the newest snapshot not yet established; -1 when none. */
  frozenEpoch = -1;
  /** Snapshots not yet established, oldest first. */
  readonly pending: PendingSnapshot[] = [];
  /** Entries that became dirty in the current epoch (some may be clean again or evicted). */
  dirty: DirtyItem[] = [];
  /** Estimated bytes of every table's cache. */
  bytes = 0;
  /** Entries in every table's cache. */
  entries = 0;
  /** Bound for `bytes`. */
  readonly budget: number;
  readonly writer = new ByteWriter(Buffer.allocUnsafeSlow(4096));
  /** Synchronous reads of RocksDB (cache misses). */
  misses = 0;
  /** Entries read ahead of use (prefetch). */
  prefetched = 0;
  constructor(budget: number) {
    this.budget = budget;
  }
}

export class RocksDBTable implements EntryTable<CachedEntry> {
  readonly id: number;
  readonly name: string;
  readonly kind: StateKind;
  readonly cache = new Map<PrimitiveKey, CachedEntry>();
  readonly #ctx: CacheContext;
  readonly #store: RocksDBStore;
  readonly #hand = new ClockHand<CachedEntry>(this.cache);

  constructor(id: number, name: string, kind: StateKind, ctx: CacheContext, store: RocksDBStore) {
    this.id = id;
    this.name = name;
    this.kind = kind;
    this.#ctx = ctx;
    this.#store = store;
  }

  current(): CachedEntry | undefined {
    const ctx = this.#ctx;
    if (ctx.keyGroup < 0) throw noCurrentKey(this.name);
    let entry = this.cache.get(ctx.canonical);
    if (entry === undefined) entry = this.#load();
    else entry.ref = true;
    return entry.value === undefined ? undefined : entry;
  }

  write(found: CachedEntry | undefined, value: unknown): void {
    this.#change(found ?? this.#entry(), value, true);
  }

  remove(entry: CachedEntry): void {
    this.#change(entry, undefined, true);
  }

  clearCurrent(): void {
    const entry = this.current();
    if (entry !== undefined) this.#change(entry, undefined, true);
  }

  own(entry: CachedEntry): unknown {
    this.#change(entry, entry.value, false);
    return entry.value;
  }

  shared(entry: CachedEntry): boolean {
    return entry.dirty && entry.epoch <= this.#ctx.frozenEpoch;
  }

  /** Drops a cached entry (restore overwrites it in RocksDB). */
  forget(canonical: PrimitiveKey): void {
    const entry = this.cache.get(canonical);
    if (entry === undefined) return;
    this.cache.delete(canonical);
    entry.dirty = false;
    this.#ctx.bytes -= entry.size;
    this.#ctx.entries--;
  }

  /** Encodes an entry's value as RocksDB stores it (the key, then the stored value); null when it has none. */
  encode(entry: CachedEntry): Uint8Array | null {
    if (entry.value === undefined) return null;
    const w = this.#ctx.writer;
    w.pos = 0;
    try {
      writeValue(w, entry.key);
      writeStored(w, this.kind, entry.value);
    } catch (e) {
      throw new Error(`cannot store state '${this.name}' in RocksDB: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
    return Uint8Array.prototype.slice.call(w.bytes, 0, w.pos);
  }

  /** Writes a dirty entry to RocksDB (buffered) and marks it clean. */
  writeBack(entry: CachedEntry): void {
    const encoded = this.encode(entry);
    this.#store.write(entryKey(this.id, entry.keyGroup, entry.canonical), encoded);
    entry.dirty = false;
    const size = ENTRY_OVERHEAD + (encoded?.byteLength ?? 0);
    this.#ctx.bytes += size - entry.size;
    entry.size = size;
  }

  /** The current key's entry, loading it (possibly as a negative entry) when not cached. */
  #entry(): CachedEntry {
    const ctx = this.#ctx;
    if (ctx.keyGroup < 0) throw noCurrentKey(this.name);
    return this.cache.get(ctx.canonical) ?? this.#load();
  }

  #load(): CachedEntry {
    const ctx = this.#ctx;
    ctx.misses++;
    const bytes = this.#store.getSync(entryKey(this.id, ctx.keyGroup, ctx.canonical));
    return this.install(ctx.canonical, ctx.key, ctx.keyGroup, bytes);
  }

  /** Caches what RocksDB holds for a key (`bytes`, or undefined: nothing), e.g. read ahead of use. */
  install(canonical: PrimitiveKey, key: unknown, keyGroup: number, bytes: Uint8Array | undefined): CachedEntry {
    const ctx = this.#ctx;
    let value: unknown;
    if (bytes !== undefined) {
      const r = new ByteReader(bytes);
      readValue(r);
      value = readStored(r, this.kind);
    }
    const entry = new CachedEntry(this, canonical, key, keyGroup, value, ENTRY_OVERHEAD + (bytes?.byteLength ?? 0));
    this.cache.set(canonical, entry);
    ctx.bytes += entry.size;
    ctx.entries++;
    if (ctx.bytes > ctx.budget) this.evict();
    return entry;
  }

  /**
   * A change of the entry (`replaced`: a new value; otherwise the value is about to be mutated in
   * place). The entry's estimated size follows a new value, and when it first changes in an epoch
   * (a value mutated in place is estimated then), so values written to the cache count against
   * its budget: over it, entries are evicted (written back) as for a read.
   */
  #change(entry: CachedEntry, value: unknown, replaced: boolean): void {
    const ctx = this.#ctx;
    if (entry.dirty && entry.epoch <= ctx.frozenEpoch) this.#preserve(entry);
    entry.value = value;
    entry.ref = true;
    const first = !entry.dirty || entry.epoch !== ctx.epoch;
    if (first) markDirty(ctx, entry);
    if (replaced || first) {
      const size = ENTRY_OVERHEAD + estimateBytes(value, 0);
      ctx.bytes += size - entry.size;
      entry.size = size;
      if (ctx.bytes > ctx.budget) this.evict();
    }
  }

  /**
   * Saves the entry's value, as RocksDB would store it, in the oldest pending snapshot that
   * still needs it: the first whose epoch is at least the entry's. (Later snapshots need nothing:
   * that one's write reaches RocksDB before theirs are taken.)
   */
  #preserve(entry: CachedEntry): void {
    for (const snapshot of this.#ctx.pending) {
      if (snapshot.epoch >= entry.epoch) {
        snapshot.saveOld(entryKey(this.id, entry.keyGroup, entry.canonical), this.encode(entry));
        return;
      }
    }
  }

  /** Evicts entries (ClockHand.evict), never the current key's. */
  evict(): void {
    const ctx = this.#ctx;
    this.#hand.evict(
      ctx,
      (entry) => entry.canonical === ctx.canonical && entry.keyGroup === ctx.keyGroup,
      (entry) => {
        this.cache.delete(entry.canonical);
        // The entry may still be listed as changed in this epoch (clean now, so skipped there):
        // its value must not stay reachable through that list.
        entry.value = undefined;
      },
    );
  }
}

/** Marks an item changed in the current epoch (the first change in it) and lists it. */
export function markDirty(ctx: CacheContext, item: DirtyItem): void {
  item.dirty = true;
  item.epoch = ctx.epoch;
  const dirty = ctx.dirty;
  dirty.push(item);
  // Items written back or evicted since stay listed: drop them once they are most of the list,
  // so it never holds much more than the cache does (amortised O(1) per change).
  if (dirty.length > 4096 && dirty.length > 2 * ctx.entries) ctx.dirty = dirty.filter((e) => e.dirty && e.epoch === ctx.epoch);
}

/** Elements of an array, entries of a map or keys of an object looked at; the rest is extrapolated. */
const SAMPLE = 8;

/**
 * A cheap estimate of the bytes a value takes (about its encoded size): primitives exactly, and
 * collections from a sample of their elements, so that it costs O(1) per level however large the
 * value. Only an estimate: the cache's budget is a bound on memory, not an exact count.
 */
export function estimateBytes(value: unknown, depth: number): number {
  switch (typeof value) {
    case 'number':
      return 9;
    case 'string':
      return 5 + value.length * 2;
    case 'boolean':
    case 'undefined':
      return 1;
    case 'bigint':
      return 16;
    case 'object': {
      if (value === null) return 1;
      if (depth >= 4) return 64;
      if (Array.isArray(value)) return 8 + sampled(value.length, (i) => estimateBytes(value[i], depth + 1));
      if (ArrayBuffer.isView(value)) return 8 + value.byteLength;
      if (value instanceof Map) {
        const first = [...iterateFirst(value.entries(), SAMPLE)];
        return 8 + sampled(value.size, (i) => estimateBytes(first[i]![0], depth + 1) + estimateBytes(first[i]![1], depth + 1), first.length);
      }
      const keys = Object.keys(value);
      return 8 + sampled(keys.length, (i) => keys[i]!.length + estimateBytes((value as Record<string, unknown>)[keys[i]!], depth + 1));
    }
    default:
      return 16;
  }
}

/** The sum over `n` elements, from the first `sample` of them (at most `available`). */
function sampled(n: number, size: (i: number) => number, available = n): number {
  const k = Math.min(n, SAMPLE, available);
  if (k === 0) return 0;
  let total = 0;
  for (let i = 0; i < k; i++) total += size(i);
  return Math.round((total / k) * n);
}

function* iterateFirst<T>(it: Iterator<T>, n: number): Generator<T> {
  for (let i = 0; i < n; i++) {
    const next = it.next();
    if (next.done === true) return;
    yield next.value;
  }
}
