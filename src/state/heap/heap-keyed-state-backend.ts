/**
 * Keyed state on the JavaScript heap (Flink's HashMapStateBackend).
 *
 * Layout: every state has a table with one `Map` per key group of the backend's range, from the
 * canonical form of a key to an entry holding the original key, the stored value and a version.
 * Grouping by key group lets snapshots be written, and restored after rescaling, key group by
 * key group without scanning or re-hashing the rest of the state.
 *
 * Snapshots are copy-on-write, so that taking one costs O(states), not O(entries). A global
 * version counter stamps writes; a snapshot takes the current version and moves the counter on.
 * An entry whose version is at most a live snapshot's version still holds the value that snapshot
 * must see, so the first write to it afterwards first saves the old value (or, for a removal, the
 * fact it was present) in the overlay of every live snapshot that shares it. Entries newer than a
 * snapshot and absent from its overlay did not exist for it.
 *
 * What is saved depends on what happens to the old value. A value that is replaced or removed is
 * kept by reference: nobody changes it any more. A value about to be handed out for in-place
 * mutation (objects, arrays, maps) is encoded instead (state-codec.ts) into memory off the
 * JavaScript heap, and the live entry keeps the object itself: no copy is made on the heap, so a
 * snapshot that lives for seconds while every key is touched neither doubles the heap nor makes
 * the collector promote and trace the copies. Only a value the codec refuses is deep-copied;
 * writing the snapshot then reports it. A snapshot being written key group by key group says how
 * far it got (`markWritten`): old values of key groups it has written are no longer saved at all,
 * those of the key group being written are kept for it, and those of later key groups are handed
 * to the writer as they come (`takeSaved`), so the encoded copies never pile up.
 * With no live snapshot all this costs one version comparison per access.
 *
 * Stored values must be acyclic data (what a checkpoint can serialize): copies preserve plain
 * objects, arrays, Maps, Sets, Dates, binary data and the prototypes of class instances, but not
 * private class fields.
 */

import type {
  AggregateFunction,
  AggregatingState,
  AggregatingStateDescriptor,
  ListState,
  ListStateDescriptor,
  MapState,
  MapStateDescriptor,
  ReduceFn,
  ReducingState,
  ReducingStateDescriptor,
  StateKind,
  ValueState,
  ValueStateDescriptor,
} from '../../api/state.ts';
import { canonicalKey, computeKeyGroupForKeyHash, hashKey } from '../../core/key-group.ts';
import type { KeyGroupRange, PrimitiveKey } from '../../core/key-group.ts';
import type { EncodedEntries, KeyedStateBackend, KeyedStateSnapshot, KeyedStateSnapshotData } from '../keyed-state-backend.ts';
import { ByteReader, ByteWriter, readStored, readValue, writeStored, writeValue } from '../state-codec.ts';

export interface HeapKeyedStateBackendOptions {
  readonly maxParallelism: number;
  readonly keyGroupRange: KeyGroupRange;
  /** Names the owner in error messages (e.g. the operator). */
  readonly where?: string;
}

/** One key's state in one table; also the record a snapshot overlay keeps of an old value. */
class Entry {
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
type Saved = Entry | number;

/** Map-state values: canonical user key → [user key, user value]. */
type StoredMap = Map<PrimitiveKey, [unknown, unknown]>;

/**
 * What the state objects of one backend share: the current key and the snapshot versions.
 * Module-internal, so its fields are plain: every state access reads them.
 */
class Context {
  key: unknown = undefined;
  canonical: PrimitiveKey = '';
  keyGroup = -1;
  /** keyGroup minus the range start; -1 while no key is set. */
  slot = -1;
  /** The version stamped on writes. */
  version = 0;
  /** Version of the newest live snapshot; -1 while none is live. */
  newestLive = -1;
  /** Live snapshots, oldest first (versions ascending). */
  readonly live: HeapSnapshot[] = [];
}

class StateTable {
  readonly id: number;
  readonly name: string;
  readonly kind: StateKind;
  readonly groups: Map<PrimitiveKey, Entry>[];
  readonly #ctx: Context;

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
    const group = this.groups[ctx.slot];
    if (group === undefined) throw noCurrentKey(this.name);
    return group.get(ctx.canonical);
  }

  /** Stores a value for the current key, given its entry as found by current(). */
  write(entry: Entry | undefined, value: unknown): void {
    const ctx = this.#ctx;
    if (entry === undefined) {
      this.groups[ctx.slot]!.set(ctx.canonical, new Entry(ctx.canonical, ctx.key, value, ctx.version));
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
    if (entry.version <= ctx.newestLive) this.#preserve(ctx.slot, entry, false);
    this.groups[ctx.slot]!.delete(ctx.canonical);
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
   * codec refused it), in which case the caller must give the live entry a copy.
   */
  #preserve(slot: number, entry: Entry, encode: boolean): boolean {
    const live = this.#ctx.live;
    let kept = false;
    for (let i = live.length - 1; i >= 0; i--) {
      const snapshot = live[i]!;
      if (snapshot.version < entry.version) break;
      if (slot < snapshot.written) continue;
      if (encode && snapshot.saveEncoded(this.id, slot, entry, this.kind)) continue;
      snapshot.save(this.id, slot, entry);
      kept = true;
    }
    return kept;
  }
}

/**
 * Encoded records in chunks of memory that are never moved once a record is in them:
 * `[u32 length][u32 table id][u32 slot][key][stored value]`, the length counting what follows
 * it. A record's position is its chunk's index times CHUNK_SPAN plus its offset, a small integer
 * for up to 1 GiB of records.
 */
class Arena {
  readonly chunks: Buffer[] = [];
  #writer: ByteWriter | undefined;
  /** Bytes of the records held. */
  bytes = 0;

  /** Encodes a record; returns its position, or -1 (and keeps nothing) when the codec refuses the value. */
  add(tableId: number, slot: number, kind: StateKind, key: unknown, value: unknown): number {
    let w = this.#writer;
    if (w === undefined || w.bytes.length - w.pos < CHUNK_ROOM || w.pos >= CHUNK_SPAN) {
      w = new ByteWriter(spareChunks.pop() ?? Buffer.allocUnsafeSlow(CHUNK_BYTES));
      this.#writer = w;
      this.chunks.push(w.bytes);
    }
    const start = w.pos;
    try {
      w.reserve(RECORD_HEADER);
      w.view.setUint32(start + 4, tableId, true);
      w.view.setUint32(start + 8, slot, true);
      w.pos += RECORD_HEADER;
      writeValue(w, key);
      writeStored(w, kind, value);
    } catch {
      w.pos = start;
      return -1;
    }
    w.view.setUint32(start, w.pos - start - 4, true);
    this.bytes += w.pos - start;
    // A record larger than the room left has moved the chunk into a larger buffer.
    const index = this.chunks.length - 1;
    this.chunks[index] = w.bytes;
    return index * CHUNK_SPAN + start;
  }

  /** The chunk holding the record at `position`. */
  chunk(position: number): Buffer {
    return this.chunks[Math.floor(position / CHUNK_SPAN)]!;
  }

  /** Forgets every record; the chunks go back to the spares. */
  reset(): void {
    for (const chunk of this.chunks) {
      if (chunk.length === CHUNK_BYTES && spareChunks.length < SPARE_CHUNKS) spareChunks.push(chunk);
    }
    this.chunks.length = 0;
    this.#writer = undefined;
    this.bytes = 0;
  }
}

/**
 * Chunks kept for reuse by any arena of this thread: arenas that are emptied regularly then stop
 * allocating memory (which the collector counts towards starting a full collection).
 */
const spareChunks: Buffer[] = [];
const SPARE_CHUNKS = 8;

const CHUNK_BYTES = 1024 * 1024;
const CHUNK_SPAN = 1024 * 1024;
/** A record is started in a new chunk unless this much room is left, so that chunks rarely have to grow. */
const CHUNK_ROOM = 64 * 1024;
const RECORD_HEADER = 12;

/** Where a record's table id, slot and encoded key and value are in its chunk. */
function recordTable(chunk: Buffer, position: number): number {
  return chunk.readUInt32LE((position % CHUNK_SPAN) + 4);
}
function recordSlot(chunk: Buffer, position: number): number {
  return chunk.readUInt32LE((position % CHUNK_SPAN) + 8);
}
function recordStart(position: number): number {
  return (position % CHUNK_SPAN) + RECORD_HEADER;
}
function recordEnd(chunk: Buffer, position: number): number {
  const offset = position % CHUNK_SPAN;
  return offset + 4 + chunk.readUInt32LE(offset);
}

/**
 * How an overlay refers to an encoded old value: a position in the snapshot's `held` arena as it
 * is, one in its `queue` arena as -1 - position. Once the writer has the value, the overlay
 * forgets the key: its live entry, newer than the snapshot and without an old value, is then
 * left out of the snapshot's encoded entries like a key inserted since.
 */
const queued = (position: number): number => -1 - position;

class HeapSnapshot implements KeyedStateSnapshot {
  readonly version: number;
  readonly states: readonly { readonly name: string; readonly kind: StateKind }[];
  /** Slots (key groups minus the range start) below this are written: their old values are no longer saved. */
  written = 0;
  /** Old values by table id, then slot, then canonical key; allocated on first use. */
  overlays: (Map<PrimitiveKey, Saved> | undefined)[][] = [];
  /**
   * Encoded old values of the slot being written (`written`): read by that slot's encoded
   * entries, and forgotten once the slot is written.
   */
  readonly held = new Arena();
  /**
   * Encoded old values of later slots, in the order they were saved, until the writer takes them
   * (takeSaved); with the overlay and key of each, to mark it taken.
   */
  readonly queue = new Arena();
  #queuedOverlays: Map<PrimitiveKey, Saved>[] = [];
  #queuedKeys: PrimitiveKey[] = [];
  #queuedPositions: number[] = [];
  /** Some old value was handed to the writer: entries() can no longer give the whole view. */
  #handedOver = false;
  released = false;
  readonly #tables: ReadonlyMap<string, StateTable>;
  readonly #rangeStart: number;
  readonly #groupCount: number;
  readonly #onRelease: (snapshot: HeapSnapshot) => void;

  constructor(
    version: number,
    tables: readonly StateTable[],
    rangeStart: number,
    groupCount: number,
    onRelease: (snapshot: HeapSnapshot) => void,
  ) {
    this.version = version;
    this.states = tables.map((t) => ({ name: t.name, kind: t.kind }));
    this.#tables = new Map(tables.map((t) => [t.name, t]));
    this.#rangeStart = rangeStart;
    this.#groupCount = groupCount;
    this.#onRelease = onRelease;
  }

  /** Keeps the entry's key and value by reference. */
  save(tableId: number, slot: number, entry: Entry): void {
    this.#overlay(tableId, slot).set(entry.canonical, new Entry(entry.canonical, entry.key, entry.value, this.version));
  }

  /** Keeps the entry's key and value encoded; false when the codec refuses them (nothing is kept then). */
  saveEncoded(tableId: number, slot: number, entry: Entry, kind: StateKind): boolean {
    const overlay = this.#overlay(tableId, slot);
    if (slot === this.written) {
      const position = this.held.add(tableId, slot, kind, entry.key, entry.value);
      if (position < 0) return false;
      overlay.set(entry.canonical, position);
      return true;
    }
    const position = this.queue.add(tableId, slot, kind, entry.key, entry.value);
    if (position < 0) return false;
    overlay.set(entry.canonical, queued(position));
    this.#queuedOverlays.push(overlay);
    this.#queuedKeys.push(entry.canonical);
    this.#queuedPositions.push(position);
    return true;
  }

  #overlay(tableId: number, slot: number): Map<PrimitiveKey, Saved> {
    const perTable = (this.overlays[tableId] ??= []);
    let overlay = perTable[slot];
    if (overlay === undefined) {
      overlay = new Map();
      perTable[slot] = overlay;
    }
    return overlay;
  }

  /**
   * Collected eagerly, so that the caller may interleave consuming the result with processing
   * that changes the live state (the overlay is only consistent with the live maps at one time).
   */
  entries(stateName: string, keyGroup: number): Iterable<readonly [key: unknown, value: unknown]> {
    const { table, slot } = this.#locate(stateName, keyGroup);
    if (this.#handedOver) {
      throw new Error(`keyed state snapshot ${this.version} has handed old values to its writer and can only be read through encodedEntries()`);
    }
    const group = table.groups[slot]!;
    const overlay = this.overlays[table.id]?.[slot];
    const out: (readonly [unknown, unknown])[] = [];
    for (const [canonical, entry] of group) {
      if (entry.version <= this.version) {
        out.push([entry.key, entry.value]);
      } else {
        // Written after the snapshot: the overlay has the old value unless it was inserted since.
        const saved = overlay?.get(canonical);
        if (saved !== undefined) out.push(this.#decode(saved, table.kind));
      }
    }
    if (overlay !== undefined) {
      // Removed since the snapshot (possibly re-inserted: then handled above).
      for (const [canonical, saved] of overlay) {
        if (!group.has(canonical)) out.push(this.#decode(saved, table.kind));
      }
    }
    return out;
  }

  encodedEntries(stateName: string, keyGroup: number): EncodedEntries {
    const { table, slot } = this.#locate(stateName, keyGroup);
    return new HeapEncodedEntries(this, table, slot);
  }

  markWritten(keyGroup: number): void {
    const slot = keyGroup - this.#rangeStart;
    if (this.released || slot < this.written) return;
    const written = Math.min(slot + 1, this.#groupCount);
    for (const perTable of this.overlays) {
      if (perTable === undefined) continue;
      for (let s = this.written; s < written; s++) perTable[s] = undefined;
    }
    this.written = written;
    this.held.reset();
  }

  savedBytes(): number {
    return this.queue.bytes;
  }

  takeSaved(take: (state: number, keyGroup: number, bytes: Uint8Array, start: number, end: number) => void): void {
    if (this.released) throw new Error(`keyed state snapshot ${this.version} has been released`);
    const positions = this.#queuedPositions;
    if (positions.length === 0) return;
    this.#handedOver = true;
    const overlays = this.#queuedOverlays;
    const keys = this.#queuedKeys;
    const queue = this.queue;
    for (let i = 0; i < positions.length; i++) {
      const position = positions[i]!;
      // Encoded entries of its slot may have taken it already.
      if (overlays[i]!.get(keys[i]!) !== queued(position)) continue;
      overlays[i]!.delete(keys[i]!);
      const chunk = queue.chunk(position);
      take(recordTable(chunk, position), recordSlot(chunk, position) + this.#rangeStart, chunk, recordStart(position), recordEnd(chunk, position));
    }
    this.#queuedOverlays = [];
    this.#queuedKeys = [];
    this.#queuedPositions = [];
    queue.reset();
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    this.overlays = [];
    this.held.reset();
    this.queue.reset();
    this.#queuedOverlays = [];
    this.#queuedKeys = [];
    this.#queuedPositions = [];
    this.#onRelease(this);
  }

  #locate(stateName: string, keyGroup: number): { table: StateTable; slot: number } {
    if (this.released) throw new Error(`keyed state snapshot ${this.version} has been released`);
    const table = this.#tables.get(stateName);
    if (table === undefined) throw new Error(`keyed state snapshot has no state named '${stateName}'`);
    const slot = keyGroup - this.#rangeStart;
    if (!Number.isInteger(keyGroup) || slot < 0 || slot >= this.#groupCount) {
      throw new RangeError(
        `key group ${keyGroup} is outside the snapshot's range ${this.#rangeStart}..${this.#rangeStart + this.#groupCount - 1}`,
      );
    }
    if (slot < this.written) {
      throw new Error(`key group ${keyGroup} of keyed state snapshot ${this.version} was written and is no longer kept`);
    }
    return { table, slot };
  }

  #decode(saved: Saved, kind: StateKind): readonly [unknown, unknown] {
    if (typeof saved !== 'number') return [saved.key, saved.value];
    const arena = saved >= 0 ? this.held : this.queue;
    const position = saved >= 0 ? saved : queued(saved);
    const chunk = arena.chunk(position);
    const r = new ByteReader(chunk, recordStart(position), recordEnd(chunk, position));
    const key = readValue(r);
    return [key, readStored(r, kind)];
  }
}

/**
 * The entries of one state in one key group of a snapshot, encoded on demand. The keys of the
 * group and of those removed so far are listed when it is created; values are read as they are
 * encoded, which is safe across changes to the live state because every change to a listed entry
 * the snapshot shares saves its old value first (the key group is not yet marked written), and a
 * removed entry object keeps its value. Each key is encoded at most once, here or by the writer
 * that took it (takeSaved).
 */
class HeapEncodedEntries implements EncodedEntries {
  key: unknown = undefined;
  readonly #snapshot: HeapSnapshot;
  readonly #table: StateTable;
  readonly #slot: number;
  readonly #live: Entry[];
  readonly #removed: PrimitiveKey[] = [];
  #next = 0;
  #nextRemoved = 0;

  constructor(snapshot: HeapSnapshot, table: StateTable, slot: number) {
    this.#snapshot = snapshot;
    this.#table = table;
    this.#slot = slot;
    const group = table.groups[slot]!;
    const live = new Array<Entry>(group.size);
    let i = 0;
    for (const entry of group.values()) live[i++] = entry;
    this.#live = live;
    const overlay = snapshot.overlays[table.id]?.[slot];
    if (overlay !== undefined) {
      for (const canonical of overlay.keys()) if (!group.has(canonical)) this.#removed.push(canonical);
    }
  }

  get done(): boolean {
    return this.#next >= this.#live.length && this.#nextRemoved >= this.#removed.length;
  }

  encodeInto(w: ByteWriter, maxBytes: number, maxEntries: number): number {
    const snapshot = this.#snapshot;
    if (snapshot.released) throw new Error(`keyed state snapshot ${snapshot.version} has been released`);
    const version = snapshot.version;
    const kind = this.#table.kind;
    const live = this.#live;
    const overlay = snapshot.overlays[this.#table.id]?.[this.#slot];
    const limit = w.pos + maxBytes;
    let count = 0;
    while (count < maxEntries && w.pos < limit) {
      let canonical: PrimitiveKey;
      if (this.#next < live.length) {
        const entry = live[this.#next++]!;
        if (entry.version <= version) {
          this.key = entry.key;
          writeValue(w, entry.key);
          writeStored(w, kind, entry.value);
          count++;
          continue;
        }
        // Changed since the snapshot: the overlay has the old value, unless the key is new.
        canonical = entry.canonical;
      } else if (this.#nextRemoved < this.#removed.length) {
        canonical = this.#removed[this.#nextRemoved++]!;
      } else {
        break;
      }
      const saved = overlay?.get(canonical);
      if (saved === undefined) continue;
      if (typeof saved !== 'number') {
        this.key = saved.key;
        writeValue(w, saved.key);
        writeStored(w, kind, saved.value);
      } else if (saved >= 0) {
        const chunk = snapshot.held.chunk(saved);
        w.append(chunk, recordStart(saved), recordEnd(chunk, saved));
      } else {
        const position = queued(saved);
        const chunk = snapshot.queue.chunk(position);
        w.append(chunk, recordStart(position), recordEnd(chunk, position));
        overlay!.delete(canonical);
      }
      count++;
    }
    return count;
  }
}

export class HeapKeyedStateBackend implements KeyedStateBackend {
  readonly maxParallelism: number;
  readonly keyGroupRange: KeyGroupRange;
  readonly #where: string | undefined;
  readonly #rangeStart: number;
  readonly #groupCount: number;
  readonly #ctx = new Context();
  readonly #tables = new Map<string, StateTable>();
  readonly #tableList: StateTable[] = [];
  readonly #states = new Map<string, unknown>();
  readonly #releaseSnapshot = (snapshot: HeapSnapshot): void => {
    const live = this.#ctx.live;
    const index = live.indexOf(snapshot);
    if (index >= 0) live.splice(index, 1);
    this.#ctx.newestLive = live.length > 0 ? live[live.length - 1]!.version : -1;
  };

  constructor(options: HeapKeyedStateBackendOptions) {
    const { maxParallelism, keyGroupRange } = options;
    if (!Number.isInteger(maxParallelism) || maxParallelism < 1) {
      throw new RangeError(`maxParallelism must be a positive integer, got ${maxParallelism}`);
    }
    const { start, end } = keyGroupRange;
    if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end < start || end >= maxParallelism) {
      throw new RangeError(`invalid key group range ${start}..${end} for maxParallelism ${maxParallelism}`);
    }
    this.maxParallelism = maxParallelism;
    this.keyGroupRange = { start, end };
    this.#where = options.where;
    this.#rangeStart = start;
    this.#groupCount = end - start + 1;
  }

  setCurrentKey(key: unknown): void {
    // Hashes the key itself (array keys hash element-wise, not by their canonical string).
    const canonical = canonicalKey(key, this.#where);
    const keyGroup = computeKeyGroupForKeyHash(hashKey(key, this.#where), this.maxParallelism);
    const slot = keyGroup - this.#rangeStart;
    if (slot < 0 || slot >= this.#groupCount) throw this.#outOfRange(key, keyGroup);
    const ctx = this.#ctx;
    ctx.key = key;
    ctx.canonical = canonical;
    ctx.keyGroup = keyGroup;
    ctx.slot = slot;
  }

  getCurrentKey(): unknown {
    return this.#ctx.key;
  }

  getCurrentKeyGroup(): number {
    return this.#ctx.keyGroup;
  }

  getValueState<T>(d: ValueStateDescriptor<T>): ValueState<T> {
    return this.#state(d.name, 'value', (t) => new HeapValueState<T>(t, d.defaultValue));
  }

  getListState<T>(d: ListStateDescriptor<T>): ListState<T> {
    return this.#state(d.name, 'list', (t) => new HeapListState<T>(t));
  }

  getMapState<UK, UV>(d: MapStateDescriptor<UK, UV>): MapState<UK, UV> {
    return this.#state(d.name, 'map', (t) => new HeapMapState<UK, UV>(t, `map state '${d.name}'`));
  }

  getReducingState<T>(d: ReducingStateDescriptor<T>): ReducingState<T> {
    return this.#state(d.name, 'reducing', (t) => new HeapReducingState<T>(t, d.reduce));
  }

  getAggregatingState<IN, ACC, OUT>(d: AggregatingStateDescriptor<IN, ACC, OUT>): AggregatingState<IN, OUT> {
    return this.#state(d.name, 'aggregating', (t) => new HeapAggregatingState<IN, ACC, OUT>(t, d.aggregate));
  }

  /** Iterates the live maps: removing keys meanwhile is safe; keys added meanwhile may or may not appear. */
  *keys(stateName: string): Iterable<unknown> {
    const table = this.#tables.get(stateName);
    if (table === undefined) return;
    for (const group of table.groups) {
      for (const entry of group.values()) yield entry.key;
    }
  }

  snapshot(): KeyedStateSnapshot {
    const ctx = this.#ctx;
    const snapshot = new HeapSnapshot(
      ctx.version,
      this.#tableList,
      this.#rangeStart,
      this.#groupCount,
      this.#releaseSnapshot,
    );
    ctx.version++;
    ctx.live.push(snapshot);
    ctx.newestLive = snapshot.version;
    return snapshot;
  }

  restore(data: Iterable<KeyedStateSnapshotData>): void {
    for (const part of data) {
      const slot = part.keyGroup - this.#rangeStart;
      if (!Number.isInteger(part.keyGroup) || slot < 0 || slot >= this.#groupCount) continue;
      const table = this.#table(part.name, part.kind);
      for (const [key, value] of part.entries) {
        const canonical = canonicalKey(key, this.#where);
        const keyGroup = computeKeyGroupForKeyHash(hashKey(key, this.#where), this.maxParallelism);
        if (keyGroup !== part.keyGroup) {
          throw new Error(
            `cannot restore state '${part.name}': key ${describeKey(key)} belongs to key group ${keyGroup}, ` +
              `not ${part.keyGroup} (was the snapshot taken with a different maxParallelism?)`,
          );
        }
        const stored = part.owned === true ? ownedStored(part.kind, value, part.name) : toStored(part.kind, value, part.name);
        if (stored !== undefined) table.put(slot, canonical, key, stored);
      }
    }
  }

  dispose(): void {
    const ctx = this.#ctx;
    for (const snapshot of [...ctx.live]) snapshot.release();
    for (const table of this.#tableList) {
      for (const group of table.groups) group.clear();
    }
    ctx.key = undefined;
    ctx.canonical = '';
    ctx.keyGroup = -1;
    ctx.slot = -1;
  }

  #table(name: string, kind: StateKind): StateTable {
    let table = this.#tables.get(name);
    if (table === undefined) {
      table = new StateTable(this.#tableList.length, name, kind, this.#groupCount, this.#ctx);
      this.#tables.set(name, table);
      this.#tableList.push(table);
    } else if (table.kind !== kind) {
      throw new Error(`state '${name}' is ${article(table.kind)} state and cannot be used as ${article(kind)} state`);
    }
    return table;
  }

  #state<S>(name: string, kind: StateKind, create: (table: StateTable) => S): S {
    const table = this.#table(name, kind);
    let state = this.#states.get(name);
    if (state === undefined) {
      state = create(table);
      this.#states.set(name, state);
    }
    return state as S;
  }

  #outOfRange(key: unknown, keyGroup: number): Error {
    const { start, end } = this.keyGroupRange;
    const owner = this.#where === undefined ? '' : `${this.#where}: `;
    return new Error(
      `${owner}key ${describeKey(key)} belongs to key group ${keyGroup}, outside this subtask's ` +
        `key groups ${start}..${end} (records were routed to the wrong subtask)`,
    );
  }
}

class HeapValueState<T> implements ValueState<T> {
  readonly #table: StateTable;
  readonly #defaultValue: T | undefined;
  readonly #defaultIsObject: boolean;

  constructor(table: StateTable, defaultValue: T | undefined) {
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
    const table = this.#table;
    const entry = table.current();
    if (entry !== undefined) table.remove(entry);
  }
}

/** The stored array is returned by get() itself (no copy) while no snapshot shares it. */
class HeapListState<T> implements ListState<T> {
  readonly #table: StateTable;

  constructor(table: StateTable) {
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
    const table = this.#table;
    const entry = table.current();
    if (entry !== undefined) table.remove(entry);
  }
}

/**
 * User keys follow stream-key rules: they are canonicalized (arrays compare by content) and the
 * first key given for a canonical form is the one entries()/keys() report. A key whose map
 * becomes empty loses its entry.
 */
class HeapMapState<UK, UV> implements MapState<UK, UV> {
  readonly #table: StateTable;
  readonly #where: string;

  constructor(table: StateTable, where: string) {
    this.#table = table;
    this.#where = where;
  }

  get(key: UK): UV | undefined {
    const canonical = canonicalKey(key, this.#where);
    const table = this.#table;
    const entry = table.current();
    if (entry === undefined) return undefined;
    const pair = (entry.value as StoredMap).get(canonical);
    if (pair === undefined) return undefined;
    const value = pair[1];
    if (typeof value === 'object' && value !== null && table.shared(entry)) {
      return (table.own(entry) as StoredMap).get(canonical)![1] as UV;
    }
    return value as UV;
  }

  put(key: UK, value: UV): void {
    const canonical = canonicalKey(key, this.#where);
    const table = this.#table;
    const entry = table.current();
    if (entry === undefined) {
      const map: StoredMap = new Map();
      map.set(canonical, [key, value]);
      table.write(undefined, map);
      return;
    }
    const map = table.own(entry) as StoredMap;
    const pair = map.get(canonical);
    if (pair === undefined) map.set(canonical, [key, value]);
    else pair[1] = value;
  }

  putAll(entries: Iterable<readonly [UK, UV]>): void {
    for (const [key, value] of entries) this.put(key, value);
  }

  remove(key: UK): void {
    const canonical = canonicalKey(key, this.#where);
    const table = this.#table;
    const entry = table.current();
    if (entry === undefined || !(entry.value as StoredMap).has(canonical)) return;
    const map = table.own(entry) as StoredMap;
    map.delete(canonical);
    if (map.size === 0) table.remove(entry);
  }

  contains(key: UK): boolean {
    const canonical = canonicalKey(key, this.#where);
    const entry = this.#table.current();
    return entry !== undefined && (entry.value as StoredMap).has(canonical);
  }

  entries(): IterableIterator<[UK, UV]> {
    return mapPairs(this.#owned(), pairOf) as IterableIterator<[UK, UV]>;
  }

  keys(): IterableIterator<UK> {
    return mapPairs(this.#owned(), keyOf) as IterableIterator<UK>;
  }

  values(): IterableIterator<UV> {
    return mapPairs(this.#owned(), valueOf) as IterableIterator<UV>;
  }

  isEmpty(): boolean {
    return this.#table.current() === undefined;
  }

  clear(): void {
    const table = this.#table;
    const entry = table.current();
    if (entry !== undefined) table.remove(entry);
  }

  #owned(): StoredMap | undefined {
    const table = this.#table;
    const entry = table.current();
    return entry === undefined ? undefined : (table.own(entry) as StoredMap);
  }
}

function pairOf(pair: [unknown, unknown]): [unknown, unknown] {
  return [pair[0], pair[1]];
}
function keyOf(pair: [unknown, unknown]): unknown {
  return pair[0];
}
function valueOf(pair: [unknown, unknown]): unknown {
  return pair[1];
}

function* mapPairs<R>(map: StoredMap | undefined, project: (pair: [unknown, unknown]) => R): IterableIterator<R> {
  if (map === undefined) return;
  for (const pair of map.values()) yield project(pair);
}

class HeapReducingState<T> implements ReducingState<T> {
  readonly #table: StateTable;
  readonly #reduce: ReduceFn<T>;

  constructor(table: StateTable, reduce: ReduceFn<T>) {
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
    const table = this.#table;
    const entry = table.current();
    if (entry !== undefined) table.remove(entry);
  }
}

/** The accumulator is passed to the aggregate function's add/getResult, which may mutate it. */
class HeapAggregatingState<IN, ACC, OUT> implements AggregatingState<IN, OUT> {
  readonly #table: StateTable;
  readonly #aggregate: AggregateFunction<IN, ACC, OUT>;

  constructor(table: StateTable, aggregate: AggregateFunction<IN, ACC, OUT>) {
    this.#table = table;
    this.#aggregate = aggregate;
  }

  get(): OUT | undefined {
    const table = this.#table;
    const entry = table.current();
    if (entry === undefined) return undefined;
    return this.#aggregate.getResult(table.own(entry) as ACC);
  }

  add(value: IN): void {
    const table = this.#table;
    const entry = table.current();
    const aggregate = this.#aggregate;
    if (entry === undefined) {
      table.write(undefined, aggregate.add(value, aggregate.createAccumulator()));
      return;
    }
    table.write(entry, aggregate.add(value, table.own(entry) as ACC));
  }

  clear(): void {
    const table = this.#table;
    const entry = table.current();
    if (entry !== undefined) table.remove(entry);
  }
}

/** Converts a value from a snapshot into the stored representation (a private copy); undefined: nothing to store. */
function toStored(kind: StateKind, value: unknown, name: string): unknown {
  switch (kind) {
    case 'list': {
      if (!isIterable(value)) throw new TypeError(`cannot restore list state '${name}': value is not iterable`);
      const list = Array.from(value, copyValue);
      return list.length > 0 ? list : undefined;
    }
    case 'map': {
      const pairs = value instanceof Map ? value.values() : value;
      if (!isIterable(pairs)) throw new TypeError(`cannot restore map state '${name}': value is not iterable`);
      const where = `map state '${name}'`;
      const map: StoredMap = new Map();
      for (const pair of pairs) {
        if (!Array.isArray(pair) || pair.length !== 2) {
          throw new TypeError(`cannot restore map state '${name}': expected [key, value] pairs`);
        }
        map.set(canonicalKey(pair[0], where), [copyValue(pair[0]), copyValue(pair[1])]);
      }
      return map.size > 0 ? map : undefined;
    }
    default:
      return copyValue(value);
  }
}

/** A value the caller gave away (freshly decoded) as the stored representation, without copying; undefined: nothing to store. */
function ownedStored(kind: StateKind, value: unknown, name: string): unknown {
  switch (kind) {
    case 'list':
      if (!Array.isArray(value)) return toStored(kind, value, name);
      return value.length > 0 ? value : undefined;
    case 'map':
      if (!(value instanceof Map)) return toStored(kind, value, name);
      return value.size > 0 ? value : undefined;
    default:
      return value;
  }
}

function isIterable(value: unknown): value is Iterable<unknown> {
  return value != null && typeof (value as { [Symbol.iterator]?: unknown })[Symbol.iterator] === 'function';
}

/**
 * A deep copy of a stored value: what a snapshot keeps must not change when the live copy is
 * mutated in place. Primitives and functions are returned as they are.
 */
function copyValue(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) {
    const out = new Array<unknown>(value.length);
    for (let i = 0; i < value.length; i++) out[i] = copyValue(value[i]);
    return out;
  }
  if (value instanceof Map) {
    const out = new Map<unknown, unknown>();
    for (const [k, v] of value) out.set(k, copyValue(v));
    return out;
  }
  if (value instanceof Set) {
    const out = new Set<unknown>();
    for (const v of value) out.add(copyValue(v));
    return out;
  }
  if (value instanceof Date) return new Date(value.getTime());
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer || value instanceof RegExp || value instanceof Error) {
    return structuredClone(value);
  }
  // Plain objects and class instances: own enumerable properties, same prototype.
  const out = Object.create(Object.getPrototypeOf(value) as object | null) as Record<string, unknown>;
  for (const k of Object.keys(value)) out[k] = copyValue((value as Record<string, unknown>)[k]);
  return out;
}

function noCurrentKey(name: string): Error {
  return new Error(`state '${name}' was accessed with no current key (keyed state needs a keyed context)`);
}

function article(kind: StateKind): string {
  return kind === 'aggregating' ? `an ${kind}` : `a ${kind}`;
}

function describeKey(key: unknown): string {
  try {
    const text = typeof key === 'bigint' ? `${key}n` : JSON.stringify(key);
    return text === undefined ? String(key) : text.length > 80 ? `${text.slice(0, 77)}...` : text;
  } catch {
    return String(key);
  }
}
