/**
 * Map state on the RocksDB backend, stored as one RocksDB entry per user key (rocksdb-keys.ts,
 * "Map state"), as Flink's RocksDBMapState does: `get`, `put`, `remove` and `contains` touch one
 * entry, iteration is a prefix scan read in chunks, and `clear` deletes the key's range. A map
 * never has to fit in memory, and changing one user key writes one entry (so an incremental
 * checkpoint uploads what changed, not the map).
 *
 * Cache. The table caches single (key, user key) entries, decoded, in the backend's shared cache
 * (same byte budget, epochs, write-behind and copy-on-write as rocksdb-table.ts):
 * - `get`/`contains` of an entry not cached read it synchronously (one round trip to the I/O
 *   thread) and cache it, also when absent; `put` and `remove` are blind writes: they cache the
 *   new value (dirty) without reading. Whole maps are not prefetched: a record batch tells which
 *   keys come, not which user keys.
 * - Iteration scans the key's range in chunks and overlays the cache: a cached entry (changed or
 *   removed and not yet written back) wins over what RocksDB holds, and changed entries RocksDB
 *   does not have yet are merged in in key order, so an iteration sees every write made before
 *   it. Scanned entries are not cached, so iterating a large map leaves the cache as it was.
 * - `clear` drops the key's cached entries and deletes the key's range in RocksDB. While a
 *   snapshot is pending (the write gate is closed, rocksdb-snapshot.ts) the range delete waits as
 *   a pending clear of the key, which reads then take into account (RocksDB's entries of that key
 *   no longer count), and is written before any later entry of that key reaches RocksDB.
 * - Snapshots: a change of an entry a pending snapshot still needs saves its old value, encoded,
 *   in that snapshot first, and a clear saves the key's pending clear, exactly as for the other
 *   states; the snapshot writes the saved range deletes before the saved values.
 *
 * Iteration while the map changes is weakly consistent, like a Java concurrent map's iterator:
 * every entry present when it started and not removed before it is reached is seen once, with the
 * value it has when reached; entries added meanwhile may or may not be seen; a clear of the key
 * meanwhile ends it, except for entries put after the clear.
 */
import type { MapState } from '../../api/state.ts';
import { canonicalKey, type PrimitiveKey } from '../../core/key-group.ts';
import { noCurrentKey } from '../heap/heap-state-messages.ts';
import { ByteReader, readValue, writeValue } from '../state-codec.ts';
import { KeyBuilder, mapEntryStreamKey, mapPrefixLength, prefixEnd, stateRange, writeMapPrefix, writeUserKey } from './rocksdb-keys.ts';
import type { RocksDBStore, ScannedEntry } from './rocksdb-store.ts';
import { type CacheContext, ClockHand, type ClockEntry, type DirtyItem, estimateBytes, markDirty } from './rocksdb-table.ts';

/** Estimated bytes an entry costs beyond its key and value (objects, map slots). */
const ENTRY_OVERHEAD = 128;
/** Entries of the first scan request of an iteration (most maps are small, or only the first entry is wanted). */
const FIRST_CHUNK = 16;
/** Entries per scan request once an iteration goes on. */
const CHUNK = 1024;

type Pair = [unknown, unknown];

/** One (key, user key) entry in the cache. */
export class MapEntry implements ClockEntry {
  readonly table: RocksDBMapTable;
  /** The RocksDB key, one char per byte. */
  readonly id: string;
  readonly owner: MapKeyState;
  /** [user key, user value]; undefined: the entry has no value (absent, or removed). */
  pair: Pair | undefined;
  dirty = false;
  epoch = 0;
  ref = true;
  size: number;
  constructor(table: RocksDBMapTable, id: string, owner: MapKeyState, pair: Pair | undefined, size: number) {
    this.table = table;
    this.id = id;
    this.owner = owner;
    this.pair = pair;
    this.size = size;
  }

  writeBack(): void {
    this.table.writeBack(this);
  }
}

/**
 * One stream key of a map state with cached entries or a pending clear. Dirty: the key was
 * cleared and the range delete has not reached RocksDB yet.
 */
export class MapKeyState implements DirtyItem {
  readonly table: RocksDBMapTable;
  /** The prefix of the key's entries, one char per byte. */
  readonly id: string;
  readonly entries = new Map<string, MapEntry>();
  dirty = false;
  epoch = 0;
  constructor(table: RocksDBMapTable, id: string) {
    this.table = table;
    this.id = id;
  }

  writeBack(): void {
    this.table.writeBackClear(this);
  }
}

export class RocksDBMapTable {
  readonly id: number;
  readonly name: string;
  readonly kind = 'map' as const;
  /** Cached entries by RocksDB key. */
  readonly cache = new Map<string, MapEntry>();
  /** Keys with cached entries or a pending clear, by prefix. */
  readonly keys = new Map<string, MapKeyState>();
  /**
   * Moves on whenever an entry of this state is written to RocksDB or a key is cleared: scanned
   * entries read before may be stale, and are read again.
   */
  version = 0;
  /** A state object uses the table: a restore overwrites whole keys (their old entries go). */
  live = false;
  readonly #ctx: CacheContext;
  readonly #store: RocksDBStore;
  readonly #where: string;
  readonly #kb = new KeyBuilder();
  readonly #hand = new ClockHand<MapEntry>(this.cache);
  /** The entry being accessed: never evicted under it. */
  #using: MapEntry | undefined;
  #prefixSerial = -1;
  #prefixId = '';

  constructor(id: number, name: string, ctx: CacheContext, store: RocksDBStore) {
    this.id = id;
    this.name = name;
    this.#ctx = ctx;
    this.#store = store;
    this.#where = `map state '${name}'`;
  }

  // ------------------------------------------------------------------------------------------
  // The state's operations on the current key.

  get(userKey: unknown): unknown {
    const entry = this.#lookup(userKey);
    const pair = entry?.pair;
    if (pair === undefined) return undefined;
    const value = pair[1];
    if (typeof value === 'object' && value !== null) this.#ownIfShared(entry!);
    return value;
  }

  contains(userKey: unknown): boolean {
    return this.#lookup(userKey)?.pair !== undefined;
  }

  put(userKey: unknown, value: unknown): void {
    const id = this.#userId(userKey);
    const entry = this.cache.get(id) ?? this.#blank(id);
    const old = entry.pair;
    // The first user key given for a canonical form stays the one reported (as on the heap),
    // when it is known without a read.
    this.#change(entry, [old === undefined ? userKey : old[0], value]);
  }

  remove(userKey: unknown): void {
    const id = this.#userId(userKey);
    let entry = this.cache.get(id);
    if (entry !== undefined) {
      if (entry.pair !== undefined) this.#change(entry, undefined);
      return;
    }
    if (this.keys.get(this.#prefixId)?.dirty === true) return; // cleared: nothing there
    entry = this.#blank(id);
    this.#change(entry, undefined);
  }

  clear(): void {
    const ctx = this.#ctx;
    const prefixId = this.#prefix();
    let k = this.keys.get(prefixId);
    if (k === undefined) {
      k = new MapKeyState(this, prefixId);
      this.keys.set(prefixId, k);
    }
    for (const entry of k.entries.values()) {
      if (entry.dirty && entry.epoch <= ctx.frozenEpoch) this.#preserve(entry);
      this.#drop(entry);
    }
    if (k.dirty && k.epoch <= ctx.frozenEpoch) this.#preserveClear(k);
    this.version++;
    if (ctx.pending.length === 0) {
      k.dirty = true;
      this.writeBackClear(k);
    } else if (!k.dirty || k.epoch !== ctx.epoch) {
      markDirty(ctx, k);
    }
  }

  isEmpty(): boolean {
    return this.pairs().next().done === true;
  }

  /**
   * The current key's [user key, user value] pairs (the cached pair itself for cached entries:
   * callers copy before handing it out), scanned in chunks with the cache overlaid.
   */
  *pairs(): Generator<Pair> {
    const prefixId = this.#prefix();
    const store = this.#store;
    const k0 = this.keys.get(prefixId);
    // Changed entries RocksDB may not have yet, merged in in key order.
    const extras: MapEntry[] = [];
    if (k0 !== undefined) for (const e of k0.entries.values()) if (e.dirty && e.pair !== undefined) extras.push(e);
    extras.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    let j = 0;
    const prefix = Buffer.from(prefixId, 'latin1');
    const end = prefixEnd(prefix);
    let scanning = k0?.dirty !== true;
    let chunk: ScannedEntry[] = [];
    let ci = 0;
    let more = true;
    let version = -1;
    let limit = FIRST_CHUNK;
    /** The RocksDB key of the last entry reached: a scan read again continues after it. */
    let lastId: string | undefined;
    for (;;) {
      let next: ScannedEntry | undefined;
      if (scanning && this.keys.get(prefixId)?.dirty === true) scanning = false; // cleared meanwhile
      if (scanning && (ci >= chunk.length || version !== this.version)) {
        if (ci >= chunk.length && !more) scanning = false;
        else {
          version = this.version;
          const answer = store.scanSync({ start: prefix, end, after: lastId === undefined ? undefined : Buffer.from(lastId, 'latin1'), limit });
          limit = CHUNK;
          chunk = answer.entries;
          more = answer.more;
          ci = 0;
          if (chunk.length === 0) scanning = false;
        }
      }
      if (scanning) next = chunk[ci];
      const nextId = next === undefined ? undefined : latin1(next.key);
      if (j < extras.length && (nextId === undefined || extras[j]!.id < nextId)) {
        const e = extras[j++]!;
        lastId = e.id;
        const pair = this.#pairAt(e.id, prefixId);
        if (pair !== undefined) yield pair;
        continue;
      }
      if (next === undefined || nextId === undefined) return;
      ci++;
      if (j < extras.length && extras[j]!.id === nextId) j++;
      lastId = nextId;
      const cached = this.cache.get(nextId);
      if (cached !== undefined) {
        const pair = this.#live(cached);
        if (pair !== undefined) yield pair;
        continue;
      }
      yield readValue(new ByteReader(next.value)) as Pair;
    }
  }

  // ------------------------------------------------------------------------------------------
  // The backend's and the snapshot's side.

  /** Writes a dirty entry to RocksDB (buffered), after its key's pending clear, and marks it clean. */
  writeBack(entry: MapEntry): void {
    if (entry.owner.dirty) this.writeBackClear(entry.owner);
    const encoded = entry.pair === undefined ? null : this.#encode(entry.pair);
    this.#store.write(Buffer.from(entry.id, 'latin1'), encoded);
    entry.dirty = false;
    this.version++;
    const size = ENTRY_OVERHEAD + entry.id.length + (encoded?.byteLength ?? 0);
    this.#ctx.bytes += size - entry.size;
    entry.size = size;
  }

  /** Posts a key's pending clear (a range delete of its entries) and marks it done. */
  writeBackClear(k: MapKeyState): void {
    if (!k.dirty) return;
    const prefix = Buffer.from(k.id, 'latin1');
    this.#store.deleteRange(prefix, prefixEnd(prefix));
    k.dirty = false;
    this.version++;
    if (k.entries.size === 0 && this.keys.get(k.id) === k) this.keys.delete(k.id);
  }

  /** Drops every cached entry and pending clear (the backend is disposed). */
  dropAll(): void {
    for (const entry of this.cache.values()) {
      entry.dirty = false;
      entry.pair = undefined;
    }
    for (const k of this.keys.values()) k.dirty = false;
    this.cache.clear();
    this.keys.clear();
    this.#hand.reset();
  }

  /**
   * Restores one key's map: its cached entries are dropped, its old entries deleted when the
   * state is in use (a fresh backend has none), and one entry written per pair.
   */
  restoreKey(keyGroup: number, canonical: PrimitiveKey, value: unknown): void {
    const kb = this.#kb;
    kb.pos = 0;
    writeMapPrefix(kb, this.id, keyGroup, canonical);
    const prefixId = kb.id();
    const k = this.keys.get(prefixId);
    if (k !== undefined) {
      for (const entry of k.entries.values()) this.#drop(entry);
      k.dirty = false;
      this.keys.delete(prefixId);
    }
    const prefix = Buffer.from(prefixId, 'latin1');
    if (this.live) this.#store.deleteRange(prefix, prefixEnd(prefix));
    this.version++;
    const pairs = value instanceof Map ? value.values() : value;
    if (pairs == null || typeof (pairs as { [Symbol.iterator]?: unknown })[Symbol.iterator] !== 'function') {
      throw new TypeError(`cannot restore map state '${this.name}': value is not iterable`);
    }
    for (const pair of pairs as Iterable<unknown>) {
      if (!Array.isArray(pair) || pair.length !== 2) throw new TypeError(`cannot restore map state '${this.name}': expected [key, value] pairs`);
      kb.pos = 0;
      writeUserKey(kb, canonicalKey(pair[0], this.#where));
      const dbKey = Buffer.concat([prefix, kb.buf.subarray(0, kb.pos)]);
      this.#store.write(dbKey, this.#encode(pair as Pair));
    }
  }

  /**
   * Every key with an entry in key groups first..last (after everything changed was written
   * back): a scan that reads each key's first entry and continues after the key's range. Keys
   * cleared meanwhile are skipped; keys added meanwhile may or may not appear.
   */
  *streamKeys(first: number, last: number): Generator<unknown> {
    const range = stateRange(this.id, first, last);
    let start = range.start;
    for (;;) {
      const version = this.version;
      const { entries, more } = this.#store.scanSync({ start, end: range.end, limit: 256 });
      let lastPrefix: Uint8Array | undefined;
      let stale = false;
      for (const { key } of entries) {
        const plen = mapPrefixLength(key);
        const prefix = key.subarray(0, plen);
        if (lastPrefix !== undefined && Buffer.compare(prefix, lastPrefix) === 0) continue;
        if (this.version !== version) {
          // Something reached RocksDB while a key was handed out: read again from this key on.
          start = Uint8Array.from(prefix);
          stale = true;
          break;
        }
        lastPrefix = prefix;
        const k = this.keys.get(latin1(prefix));
        if (k?.dirty === true) continue;
        yield mapEntryStreamKey(key);
      }
      if (stale) continue;
      if (!more || lastPrefix === undefined) return;
      start = prefixEnd(lastPrefix);
    }
  }

  // ------------------------------------------------------------------------------------------

  /** The prefix of the current key's entries (built once per key). */
  #prefix(): string {
    const ctx = this.#ctx;
    if (this.#prefixSerial !== ctx.serial) {
      if (ctx.keyGroup < 0) throw noCurrentKey(this.name);
      const kb = this.#kb;
      kb.pos = 0;
      writeMapPrefix(kb, this.id, ctx.keyGroup, ctx.canonical);
      this.#prefixId = kb.id();
      this.#prefixSerial = ctx.serial;
    }
    return this.#prefixId;
  }

  /** The RocksDB key of the current key's entry for `userKey`. */
  #userId(userKey: unknown): string {
    const canonical = canonicalKey(userKey, this.#where);
    const prefixId = this.#prefix();
    const kb = this.#kb;
    kb.pos = 0;
    writeUserKey(kb, canonical);
    return prefixId + kb.id();
  }

  /** The cached entry of `userKey`, read from RocksDB when not cached; undefined when a pending clear says it has none. */
  #lookup(userKey: unknown): MapEntry | undefined {
    const id = this.#userId(userKey);
    const entry = this.cache.get(id);
    if (entry !== undefined) {
      entry.ref = true;
      return entry;
    }
    if (this.keys.get(this.#prefixId)?.dirty === true) return undefined;
    this.#ctx.misses++;
    const bytes = this.#store.getSync(Buffer.from(id, 'latin1'));
    return this.#install(id, bytes === undefined ? undefined : (readValue(new ByteReader(bytes)) as Pair), bytes?.byteLength ?? 0);
  }

  /** A cached entry that holds what RocksDB holds (`pair`, of `encodedBytes`). */
  #install(id: string, pair: Pair | undefined, encodedBytes: number): MapEntry {
    const ctx = this.#ctx;
    const prefixId = this.#prefixId;
    let owner = this.keys.get(prefixId);
    if (owner === undefined) {
      owner = new MapKeyState(this, prefixId);
      this.keys.set(prefixId, owner);
    }
    const entry = new MapEntry(this, id, owner, pair, ENTRY_OVERHEAD + id.length + encodedBytes);
    this.cache.set(id, entry);
    owner.entries.set(id, entry);
    ctx.bytes += entry.size;
    ctx.entries++;
    if (ctx.bytes > ctx.budget) this.#evictAround(entry);
    return entry;
  }

  /** A new entry for a blind write (what RocksDB holds does not matter: it is changed at once). */
  #blank(id: string): MapEntry {
    return this.#install(id, undefined, 0);
  }

  /** The value of an entry reached by an iteration after it was merged in (it may have changed or gone since). */
  #pairAt(id: string, prefixId: string): Pair | undefined {
    const cached = this.cache.get(id);
    if (cached !== undefined) return this.#live(cached);
    if (this.keys.get(prefixId)?.dirty === true) return undefined;
    // Written back and evicted meanwhile: RocksDB has it.
    const bytes = this.#store.getSync(Buffer.from(id, 'latin1'));
    return bytes === undefined ? undefined : (readValue(new ByteReader(bytes)) as Pair);
  }

  /** A cached entry's pair, made the live state's own first if a pending snapshot shares it. */
  #live(entry: MapEntry): Pair | undefined {
    if (entry.pair === undefined) return undefined;
    entry.ref = true;
    this.#ownIfShared(entry);
    return entry.pair;
  }

  /**
   * Before a value is handed to user code (which may mutate it in place): an entry a pending
   * snapshot still needs saves its old value there, and is changed in the current epoch.
   */
  #ownIfShared(entry: MapEntry): void {
    const ctx = this.#ctx;
    if (entry.dirty && entry.epoch <= ctx.frozenEpoch) this.#change(entry, entry.pair);
  }

  #change(entry: MapEntry, pair: Pair | undefined): void {
    const ctx = this.#ctx;
    if (entry.dirty && entry.epoch <= ctx.frozenEpoch) this.#preserve(entry);
    entry.pair = pair;
    entry.ref = true;
    if (!entry.dirty || entry.epoch !== ctx.epoch) markDirty(ctx, entry);
    const size = ENTRY_OVERHEAD + entry.id.length + (pair === undefined ? 0 : estimateBytes(pair, 0));
    ctx.bytes += size - entry.size;
    entry.size = size;
    if (ctx.bytes > ctx.budget) this.#evictAround(entry);
  }

  /** Saves the entry's value in the oldest pending snapshot that still needs it. */
  #preserve(entry: MapEntry): void {
    for (const snapshot of this.#ctx.pending) {
      if (snapshot.epoch >= entry.epoch) {
        snapshot.saveOld(Buffer.from(entry.id, 'latin1'), entry.pair === undefined ? null : this.#encode(entry.pair));
        return;
      }
    }
  }

  /** Saves a key's pending clear in the oldest pending snapshot that still needs it. */
  #preserveClear(k: MapKeyState): void {
    for (const snapshot of this.#ctx.pending) {
      if (snapshot.epoch >= k.epoch) {
        const prefix = Buffer.from(k.id, 'latin1');
        snapshot.saveRangeDelete(prefix, prefixEnd(prefix));
        return;
      }
    }
  }

  /** Removes an entry from the cache without writing it (its key was cleared or restored). */
  #drop(entry: MapEntry): void {
    this.cache.delete(entry.id);
    entry.owner.entries.delete(entry.id);
    entry.dirty = false;
    entry.pair = undefined;
    this.#ctx.bytes -= entry.size;
    this.#ctx.entries--;
  }

  #encode(pair: Pair): Uint8Array {
    const w = this.#ctx.writer;
    w.pos = 0;
    try {
      writeValue(w, pair);
    } catch (e) {
      throw new Error(`cannot store ${this.#where} in RocksDB: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
    return Uint8Array.prototype.slice.call(w.bytes, 0, w.pos);
  }

  #evictAround(entry: MapEntry): void {
    const before = this.#using;
    this.#using = entry;
    try {
      this.evict();
    } finally {
      this.#using = before;
    }
  }

  /** Evicts entries (ClockHand.evict in rocksdb-table.ts), never the one being accessed. */
  evict(): void {
    this.#hand.evict(
      this.#ctx,
      (entry) => entry === this.#using,
      (entry) => {
        this.cache.delete(entry.id);
        const owner = entry.owner;
        owner.entries.delete(entry.id);
        if (owner.entries.size === 0 && !owner.dirty && this.keys.get(owner.id) === owner) this.keys.delete(owner.id);
        // The entry may still be listed as changed in this epoch (clean now, so skipped there).
        entry.pair = undefined;
      },
    );
  }
}

/** MapState on a RocksDBMapTable; user keys follow stream-key rules, as on the heap. */
export class RocksDBMapState<UK, UV> implements MapState<UK, UV> {
  readonly #table: RocksDBMapTable;

  constructor(table: RocksDBMapTable) {
    this.#table = table;
    table.live = true;
  }

  get(key: UK): UV | undefined {
    return this.#table.get(key) as UV | undefined;
  }

  put(key: UK, value: UV): void {
    this.#table.put(key, value);
  }

  putAll(entries: Iterable<readonly [UK, UV]>): void {
    for (const [key, value] of entries) this.#table.put(key, value);
  }

  remove(key: UK): void {
    this.#table.remove(key);
  }

  contains(key: UK): boolean {
    return this.#table.contains(key);
  }

  *entries(): IterableIterator<[UK, UV]> {
    for (const pair of this.#table.pairs()) yield [pair[0] as UK, pair[1] as UV];
  }

  *keys(): IterableIterator<UK> {
    for (const pair of this.#table.pairs()) yield pair[0] as UK;
  }

  *values(): IterableIterator<UV> {
    for (const pair of this.#table.pairs()) yield pair[1] as UV;
  }

  isEmpty(): boolean {
    return this.#table.isEmpty();
  }

  clear(): void {
    this.#table.clear();
  }
}

function latin1(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}
