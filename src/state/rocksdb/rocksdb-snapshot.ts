/**
 * A snapshot of the RocksDB keyed backend. Taking it (the synchronous part at the barrier) costs
 * O(states): it takes the dirty entries of the epoch that ends and the list of states. It is
 * *established* later, asynchronously in the checkpoint's asynchronous part or synchronously
 * when read first: the entries it took are written to RocksDB with the old values saved for it
 * (rocksdb-table.ts), then a RocksDB snapshot is taken, which from then on is its view. Until then
 * no later write reaches RocksDB, so the view is exactly the state at the barrier.
 *
 * Snapshots are established in the order they were taken. Releasing one that was never
 * established establishes it first, since its entries must reach RocksDB anyway.
 */
import type { StateKind } from '../../api/state.ts';
import { canonicalKey } from '../../core/key-group.ts';
import type { EncodedEntries, KeyedStateSnapshot } from '../keyed-state-backend.ts';
import { monotonicClock } from '../../core/time.ts';
import { ByteReader, ByteWriter, readStored, readValue, writeStored, writeValue } from '../state-codec.ts';
import { mapEntryStreamKey, mapPrefixLength, stateRange } from './rocksdb-keys.ts';
import type { RocksDBMapTable } from './rocksdb-map-state.ts';
import type { InstanceCopy, RocksDBStore, ScannedEntry } from './rocksdb-store.ts';
import type { CacheContext, DirtyItem, PendingSnapshot, RocksDBTable } from './rocksdb-table.ts';

/** A state's table: one entry per key, or per (key, user key) for map states. */
export type StateTable = RocksDBTable | RocksDBMapTable;

/** Time the asynchronous part encodes the snapshot's entries before it yields to the task (ms). */
const BASE_SLICE_MS = 2;
/** Entries encoded between two looks at the clock. */
const BASE_CHECK_EVERY = 64;

/** Entries read per scan request while a snapshot is written. */
const SCAN_CHUNK = 1024;

interface SavedOld {
  readonly dbKey: Uint8Array;
  readonly encoded: Uint8Array | null;
}

export class RocksDBSnapshot implements KeyedStateSnapshot, PendingSnapshot {
  readonly epoch: number;
  readonly states: readonly { readonly name: string; readonly kind: StateKind }[];
  readonly #tables: ReadonlyMap<string, StateTable>;
  readonly #ctx: CacheContext;
  readonly #store: RocksDBStore;
  readonly #onDone: (s: RocksDBSnapshot) => void;
  #dirty: DirtyItem[];
  #saved: SavedOld[] = [];
  /** Map state keys cleared after the barrier whose clear before it was still pending: deleted before the saved values are written. */
  #savedRangeDeletes: { readonly start: Uint8Array; readonly end: Uint8Array }[] = [];
  /** The RocksDB snapshot once established. */
  #view: number | undefined;
  #establishing: Promise<void> | undefined;
  #baseWritten = false;
  /** One state's key group read ahead by prepare(), for the next read of it. */
  #prepared: { readonly stateId: number; readonly keyGroup: number; readonly entries: readonly ScannedEntry[] } | undefined;
  /** How far the snapshot's dirty entries have been posted. */
  #basePos = 0;
  #released = false;

  /** The keyed backend that took it (incremental checkpoints ask it what they need). */
  readonly owner: object;
  /**
   * Where its view stands in the backend's change log (rocksdb-changelog.ts), once established:
   * the segments up to this cut hold every write before the barrier. -1 without a change log.
   */
  cut = -1;

  constructor(
    tables: readonly StateTable[],
    ctx: CacheContext,
    store: RocksDBStore,
    onDone: (s: RocksDBSnapshot) => void,
    owner: object,
  ) {
    this.owner = owner;
    this.epoch = ctx.epoch;
    this.states = tables.map((t) => ({ name: t.name, kind: t.kind }));
    this.#tables = new Map(tables.map((t) => [t.name, t]));
    this.#ctx = ctx;
    this.#store = store;
    this.#onDone = onDone;
    this.#dirty = ctx.dirty;
    ctx.dirty = [];
    ctx.epoch++;
    ctx.pending.push(this);
    ctx.frozenEpoch = this.epoch;
  }

  get established(): boolean {
    return this.#view !== undefined;
  }

  saveOld(dbKey: Uint8Array, encoded: Uint8Array | null): void {
    this.#saved.push({ dbKey, encoded });
  }

  saveRangeDelete(start: Uint8Array, end: Uint8Array): void {
    this.#savedRangeDeletes.push({ start, end });
  }

  /** Establishes the snapshot without blocking the thread (the asynchronous part). */
  establish(): Promise<void> {
    if (this.#view !== undefined) return Promise.resolve();
    this.#establishing ??= this.#establishAsync(undefined).then(() => undefined);
    return this.#establishing;
  }

  /**
   * Establishes the snapshot and, before any later write can reach RocksDB, takes a consistent
   * copy of the instance's files into `dir` (an incremental checkpoint's files). Undefined when
   * the snapshot was established already (it was read first): the copy could no longer be exact.
   */
  establishWithCopy(dir: string): Promise<InstanceCopy | undefined> {
    if (this.#view !== undefined || this.#establishing !== undefined) return Promise.resolve(undefined);
    const copied = this.#establishAsync(dir);
    this.#establishing = copied.then(() => undefined);
    return copied;
  }

  async #establishAsync(copyTo: string | undefined): Promise<InstanceCopy | undefined> {
    for (const older of this.#ctx.pending) {
      if (older === this) break;
      await (older as RocksDBSnapshot).establish();
    }
    if (this.#view !== undefined) return undefined;
    // Encoding the snapshot's entries runs on the task thread: a slice at a time, so that records
    // keep flowing meanwhile (what they change is saved for the snapshot first, copy-on-write).
    for (;;) {
      const sliceStart = monotonicClock.now();
      let done = false;
      while (!done && monotonicClock.now() - sliceStart < BASE_SLICE_MS) done = this.#writeBaseSome(BASE_CHECK_EVERY);
      if (done) break;
      await new Promise((resolve) => setImmediate(resolve));
    }
    // Established synchronously meanwhile (read first): its view holds the state, but a copy of
    // the files taken now could hold later writes.
    if (this.#view !== undefined) return undefined;
    // The copy and the RocksDB snapshot are requested back to back: the I/O thread runs them in
    // order, and no later write is posted before this snapshot settles (the write gate). The
    // change log is cut at the same point of the writes.
    this.cut = this.#store.cutLog();
    const copy = copyTo === undefined ? undefined : this.#store.checkpoint(copyTo);
    const viewing = this.#store.snapshot();
    try {
      const result = await copy;
      return result;
    } finally {
      const view = await viewing;
      if (this.#view === undefined) this.#settle(view);
      else this.#store.releaseSnapshot(view);
    }
  }

  /** Establishes the snapshot now, blocking until the I/O thread has taken it. */
  establishSync(): void {
    if (this.#view !== undefined) return;
    for (const older of [...this.#ctx.pending]) {
      if (older === this) break;
      (older as RocksDBSnapshot).establishSync();
    }
    this.#writeBase();
    // An asynchronous establishment may be under way: a snapshot taken here sees the same writes,
    // and whichever answer comes second is released. Only the first cuts the change log.
    if (this.cut < 0) this.cut = this.#store.cutLog();
    this.#settle(this.#store.snapshotSync());
  }

  /** Posts the snapshot's entries: its dirty entries as they are, and the old values saved for it. */
  #writeBase(): void {
    this.#writeBaseSome(Number.POSITIVE_INFINITY);
  }

  /**
   * Posts up to `limit` more of the snapshot's dirty entries (those changed since are skipped:
   * their old values were saved for it); once all are, the saved old values. True when done.
   */
  #writeBaseSome(limit: number): boolean {
    if (this.#baseWritten) return true;
    const dirty = this.#dirty;
    const end = Math.min(dirty.length, this.#basePos + limit);
    for (let i = this.#basePos; i < end; i++) {
      const entry = dirty[i]!;
      if (entry.dirty && entry.epoch <= this.epoch) entry.writeBack();
    }
    this.#basePos = end;
    if (end < dirty.length) return false;
    // A saved clear precedes every saved value of its key (the values were put after it), and no
    // entry of a key whose clear was saved is left among the dirty ones (the clear dropped them).
    for (const r of this.#savedRangeDeletes) this.#store.deleteRange(r.start, r.end);
    for (const s of this.#saved) this.#store.write(s.dbKey, s.encoded);
    this.#store.postWrites();
    this.#dirty = [];
    this.#saved = [];
    this.#savedRangeDeletes = [];
    this.#baseWritten = true;
    return true;
  }

  #settle(view: number): void {
    if (this.#view !== undefined) {
      this.#store.releaseSnapshot(view);
      return;
    }
    this.#view = view;
    const pending = this.#ctx.pending;
    const i = pending.indexOf(this);
    if (i >= 0) pending.splice(i, 1);
    this.#ctx.frozenEpoch = pending.length > 0 ? pending[pending.length - 1]!.epoch : -1;
    if (this.#released) this.#dropView();
  }

  entries(stateName: string, keyGroup: number): Iterable<readonly [key: unknown, value: unknown]> {
    const table = this.#tables.get(stateName);
    if (table === undefined) return [];
    return decodeEntries(table.name, table.kind, this.#scanned(table.id, keyGroup));
  }

  /**
   * Reads one state's key group from the snapshot's RocksDB view asynchronously, in chunks, so
   * that writing it needs no synchronous read (a key group is 1/maxParallelism of the state).
   */
  prepare(stateName: string, keyGroup: number): Promise<void> | undefined {
    const table = this.#tables.get(stateName);
    if (table === undefined || this.#released) return undefined;
    return (async () => {
      await this.establish();
      const all: ScannedEntry[] = [];
      for await (const entries of this.#store.scanAll({ ...stateRange(table.id, keyGroup, keyGroup), snapshot: this.#view }, SCAN_CHUNK)) {
        for (const e of entries) all.push(e);
      }
      this.#prepared = { stateId: table.id, keyGroup, entries: all };
    })();
  }

  /** The raw entries of one state's key group in the snapshot, scanned in chunks. */
  *#scanned(stateId: number, keyGroup: number): Generator<ScannedEntry> {
    if (this.#released) throw new Error('this RocksDB snapshot was released');
    const prepared = this.#prepared;
    if (prepared !== undefined && prepared.stateId === stateId && prepared.keyGroup === keyGroup) {
      this.#prepared = undefined;
      yield* prepared.entries;
      return;
    }
    this.establishSync();
    yield* this.#store.scanAllSync({ ...stateRange(stateId, keyGroup, keyGroup), snapshot: this.#view }, SCAN_CHUNK);
  }

  /**
   * RocksDB holds each entry exactly as a keyed state file does: the bytes are copied as they are.
   * A map state's run of (key, user key) entries becomes one entry: the key, then the pairs as
   * an array, each pair's bytes copied as they are.
   */
  encodedEntries(stateName: string, keyGroup: number): EncodedEntries {
    const table = this.#tables.get(stateName);
    if (table?.kind === 'map') return this.#encodedMaps(table, keyGroup);
    const scan = table === undefined ? [][Symbol.iterator]() : this.#scanned(table.id, keyGroup);
    let next = scan.next();
    let lastKey: unknown;
    return {
      get done() {
        return next.done === true;
      },
      get key() {
        return lastKey;
      },
      encodeInto(out: ByteWriter, maxBytes: number, maxEntries: number): number {
        const limit = out.pos + maxBytes;
        let count = 0;
        while (count < maxEntries && out.pos < limit && next.done !== true) {
          const value = (next.value as ScannedEntry).value;
          lastKey = undefined;
          out.append(value, 0, value.byteLength);
          count++;
          next = scan.next();
        }
        return count;
      },
    };
  }

  #encodedMaps(table: StateTable, keyGroup: number): EncodedEntries {
    const scan = this.#scanned(table.id, keyGroup);
    let pending = scan.next();
    /** The current key's pairs, encoded; reused from key to key. */
    const group = new ByteWriter(Buffer.allocUnsafeSlow(4096));
    let count = 0;
    let groupKey: unknown;
    let lastKey: unknown;
    /** Gathers the next key's pairs into `group`; false when none are left. */
    const gather = (): boolean => {
      if (pending.done === true) return false;
      const first = pending.value.key;
      const plen = mapPrefixLength(first);
      const prefix = first.subarray(0, plen);
      groupKey = mapEntryStreamKey(first);
      group.pos = 0;
      count = 0;
      while (pending.done !== true && samePrefix(prefix, pending.value.key, plen)) {
        const value = pending.value.value;
        group.append(value, 0, value.byteLength);
        count++;
        pending = scan.next();
      }
      return true;
    };
    let ready = gather();
    return {
      get done() {
        return !ready;
      },
      get key() {
        return lastKey;
      },
      encodeInto(out: ByteWriter, maxBytes: number, maxEntries: number): number {
        const limit = out.pos + maxBytes;
        let n = 0;
        while (n < maxEntries && out.pos < limit && ready) {
          lastKey = groupKey;
          writeValue(out, groupKey);
          writeArrayHeader(out, count);
          out.append(group.bytes, 0, group.pos);
          n++;
          ready = gather();
        }
        return n;
      },
    };
  }

  release(): void {
    if (this.#released) return;
    this.#released = true;
    if (this.#view === undefined) this.establishSync();
    else this.#dropView();
  }

  #dropView(): void {
    if (this.#view !== undefined) this.#store.releaseSnapshot(this.#view);
    this.#onDone(this);
  }
}

/**
 * One state's entries of one key group, decoded as the heap holds them, from its RocksDB entries
 * in key order (rocksdb-keys.ts): a map state's run of (key, user key) entries becomes one Map per
 * key; any other state's entry is its key and stored value.
 */
export function* decodeEntries(name: string, kind: StateKind, scanned: Iterable<ScannedEntry>): Generator<readonly [unknown, unknown]> {
  if (kind !== 'map') {
    for (const { value } of scanned) {
      const r = new ByteReader(value);
      const key = readValue(r);
      yield [key, readStored(r, kind)];
    }
    return;
  }
  let prefix: Uint8Array | undefined;
  let key: unknown;
  let map = new Map<unknown, [unknown, unknown]>();
  const where = `map state '${name}'`;
  for (const e of scanned) {
    const plen = mapPrefixLength(e.key);
    if (prefix === undefined || !samePrefix(prefix, e.key, plen)) {
      if (prefix !== undefined) yield [key, map];
      prefix = e.key.subarray(0, plen);
      key = mapEntryStreamKey(e.key);
      map = new Map();
    }
    const pair = readValue(new ByteReader(e.value)) as [unknown, unknown];
    map.set(canonicalKey(pair[0], where), pair);
  }
  if (prefix !== undefined) yield [key, map];
}

function samePrefix(prefix: Uint8Array, key: Uint8Array, plen: number): boolean {
  if (key.byteLength < plen || prefix.byteLength !== plen) return false;
  for (let i = plen - 1; i >= 0; i--) if (prefix[i] !== key[i]) return false;
  return true;
}

/** The first byte of an encoded array (state-codec.ts), as a map state's value is written in files. */
const ARRAY_TAG = (() => {
  const w = new ByteWriter(Buffer.alloc(16));
  writeStored(w, 'map', new Map());
  return w.bytes[0]!;
})();

/**
 * The start of an array of `n` elements as state-codec.ts writes it (the tag, then the size: one
 * byte below 255, else 255 and a u32), so that the pairs' bytes can follow as they are
 * (test/state/rocksdb-map-state.test.ts compares the result with the heap backend's bytes).
 */
function writeArrayHeader(out: ByteWriter, n: number): void {
  if (n < 0xff) {
    out.reserve(2);
    out.bytes[out.pos++] = ARRAY_TAG;
    out.bytes[out.pos++] = n;
  } else {
    out.reserve(2);
    out.bytes[out.pos++] = ARRAY_TAG;
    out.bytes[out.pos++] = 0xff;
    out.u32(n);
  }
}
