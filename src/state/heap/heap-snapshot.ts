/**
 * A snapshot of the heap keyed state backend: the live tables as they were at one version, seen
 * through overlays of the old values saved since (by reference, or encoded in arenas), and the
 * on-demand encoding of one state's key group for the writer.
 */
import type { StateKind } from '../../api/state.ts';
import type { PrimitiveKey } from '../../core/key-group.ts';
import type { EncodedEntries, KeyedStateSnapshot } from '../keyed-state-backend.ts';
import { ByteReader, readStored, readValue, writeStored, writeValue, type ByteWriter } from '../state-codec.ts';
import { Arena, recordEnd, recordSlot, recordStart, recordTable } from './snapshot-arena.ts';
import { Entry, type Saved, type StateTable, type TableSnapshot } from './state-table.ts';

/**
 * How an overlay refers to an encoded old value: a position in the snapshot's `held` arena as it
 * is, one in its `queue` arena as -1 - position. Once the writer has the value, the overlay
 * forgets the key: its live entry, newer than the snapshot and without an old value, is then
 * left out of the snapshot's encoded entries like a key inserted since.
 */
const queued = (position: number): number => -1 - position;

export class HeapSnapshot implements KeyedStateSnapshot, TableSnapshot {
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

  /** Keeps the entry's key and value by reference (a removed entry as it is: only its key and value are read). */
  save(tableId: number, slot: number, entry: Entry, retired: boolean): void {
    const saved = retired ? entry : new Entry(entry.canonical, entry.key, entry.value, this.version);
    this.#overlay(tableId, slot).set(entry.canonical, saved);
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
    let perTable = this.overlays[tableId];
    if (perTable === undefined) {
      perTable = [];
      this.overlays[tableId] = perTable;
    }
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
    const overlay = this.overlays[table.id]?.[slot];
    const out: (readonly [unknown, unknown])[] = [];
    for (const entry of table.entries(slot)) {
      if (entry.version <= this.version) {
        out.push([entry.key, entry.value]);
      } else {
        // Written after the snapshot: the overlay has the old value unless it was inserted since.
        const saved = overlay?.get(entry.canonical);
        if (saved !== undefined) out.push(this.#decode(saved, table.kind));
      }
    }
    if (overlay !== undefined) {
      // Removed since the snapshot (possibly re-inserted: then handled above).
      for (const [canonical, saved] of overlay) {
        if (table.get(slot, canonical) === undefined) out.push(this.#decode(saved, table.kind));
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
    this.#live = table.entries(slot);
    const overlay = snapshot.overlays[table.id]?.[slot];
    if (overlay !== undefined) {
      for (const canonical of overlay.keys()) if (table.get(slot, canonical) === undefined) this.#removed.push(canonical);
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
