/**
 * Restoring keyed state files in the canonical format (keyed-state-files.ts: every savepoint, and
 * full checkpoints, of either backend) into the RocksDB backend with memory bounded by a few
 * files and write batches, not by the state.
 *
 * The files are read as on the heap backend (keyed-state-reader.ts, with all of its checks), but
 * the entries of the requested key groups go, as each frame is decoded, into write batches of a
 * *staging* RocksDB instance instead of into memory, laid out as the keyed backend lays out its
 * own (rocksdb-keys.ts): a value or list entry is copied as the file holds it (the key, then the
 * stored value, which is what the backend stores), a map entry becomes one RocksDB entry per user
 * key. Every few MiB the reader waits until the I/O thread has applied what was posted, so
 * batches never pile up. Timers and the declared states are collected as before, so the result
 * has them as soon as the files are read, and a corrupt file fails the read, naming the file and
 * the frame, as it always did.
 *
 * restoreInto (the seam RestoredKeyedState has for backend-native restores) then makes the
 * staging instance the fresh keyed backend's instance as it is (a flush, a close and a rename:
 * no entry is copied again). A caller that reads `data` instead gets the staged entries decoded
 * (the whole range in memory, as before), so code written for restore(data) keeps working.
 *
 * What is not known while the files are read is the backend's maxParallelism, which decides
 * whether each key belongs to the key group the file stores it in. Instead of a key-by-key check
 * at write time, the restore keeps the greatest common divisor of (murmur(hash(key)) - keyGroup)
 * over every key: a key belongs to its group under maxParallelism P exactly when P divides that
 * difference (keyGroup < P), so P divides the gcd exactly when every key belongs; restoreInto
 * checks that against the backend's P, in O(1) memory, before it adopts the instance.
 */
import { mkdirSync, rmdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { StateKind } from '../../api/state.ts';
import { assignToKeyGroup, canonicalKey, hashKey, type KeyGroupRange, murmurHash, type PrimitiveKey } from '../../core/key-group.ts';
import { describeKey } from '../heap/heap-state-messages.ts';
import { readKeyedStateInto } from '../heap/keyed-state-files/keyed-state-reader.ts';
import { type EntrySink, RestoreCollector } from '../heap/keyed-state-files/restore-collector.ts';
import { toStored } from '../heap/stored-values.ts';
import type { KeyedStateSnapshotData } from '../keyed-state-backend.ts';
import type { RestoredKeyedState, StateFileSource } from '../state-backend.ts';
import type { StateFileHandle } from '../state-file.ts';
import { ByteReader, ByteWriter, readStored, readValue, StateCodecError, writeStored, writeValue } from '../state-codec.ts';
import type { Packed } from './rocksdb-bridge.ts';
import { KeyBuilder, stateRange, writeEntryKey, writeMapPrefix, writeUserKey } from './rocksdb-keys.ts';
import { decodeEntries } from './rocksdb-snapshot.ts';
import { RocksDBKeyedStateBackend } from './rocksdb-keyed-state-backend.ts';
import { RocksDBStore, type RocksDBStoreOptions } from './rocksdb-store.ts';

/** Bytes posted between two waits for the I/O thread; at most about two such windows are in flight. */
const WINDOW_BYTES = 8 * 1024 * 1024;
/** Puts, and bytes of keys and values, packed into one write batch of the staging instance at most. */
const BATCH_PUTS = 16 * 1024;
const BATCH_BYTES = 1024 * 1024;
/** Entries read per scan request when `data` is decoded from the staging instance. */
const SCAN_CHUNK = 1024;

/** The first byte of an encoded array (state-codec.ts): how files hold a map state's pairs. */
const ARRAY_TAG = (() => {
  const w = new ByteWriter(Buffer.alloc(16));
  writeStored(w, 'map', new Map());
  return w.bytes[0]!;
})();
/** An array size at or above this is written as this byte and a u32 (state-codec.ts). */
const LONG_SIZE = 0xff;

/** A state as staged: its id in the staging instance's keys, in order of its first entry. */
export interface StagedState {
  readonly name: string;
  readonly kind: StateKind;
  readonly id: number;
}

/** Staging instances not restored into a backend (their result was dropped) are closed and deleted. */
const abandoned = new FinalizationRegistry<RocksDBStore>((store) => {
  try {
    store.close();
  } catch {
    // The thread's I/O thread is gone: its instances went with it; the directory is removed at exit.
  }
});

/**
 * Reads canonical keyed state files for `range` into a staging RocksDB instance at `o.path`
 * (created; deleted on failure). See the header for what the result holds.
 */
export async function readCanonicalKeyedState(
  files: readonly StateFileHandle[],
  read: StateFileSource,
  range: KeyGroupRange,
  o: RocksDBStoreOptions,
): Promise<RestoredKeyedState> {
  makeDir(o.path);
  const store = new RocksDBStore(o);
  const sink = new StagingSink(store);
  const collector = new RestoreCollector(range, sink);
  try {
    await readKeyedStateInto(files, read, collector);
    await sink.finish();
  } catch (e) {
    store.close();
    throw e;
  }
  const staged = sink.states;
  let decoded: KeyedStateSnapshotData[] | undefined;
  let consumed = false;
  const result: RestoredKeyedState = {
    get data(): KeyedStateSnapshotData[] {
      if (consumed) throw new Error('internal: the restored keyed state was restored into a backend already');
      decoded ??= decodeStaged(store, staged, range);
      return decoded;
    },
    timers: collector.timers,
    states: [...collector.states].map(([name, s]) => ({ name, kind: s.kind })),
    async restoreInto(backend) {
      if (consumed) throw new Error('internal: the restored keyed state was restored into a backend already');
      abandoned.unregister(result);
      try {
        if (!(backend instanceof RocksDBKeyedStateBackend)) {
          const data = result.data;
          consumed = true;
          backend.restore(data);
          return;
        }
        consumed = true;
        sink.checkKeyGroups(backend.maxParallelism);
        await backend.adoptStaged(store, staged, range);
      } finally {
        store.close(); // deletes the instance unless the backend adopted it
        removeIfEmpty(dirname(store.path));
      }
    },
  };
  abandoned.register(result, store, result);
  return result;
}

/** Puts the entries of a restore into the staging instance as the parsers decode them. */
class StagingSink implements EntrySink {
  readonly #store: RocksDBStore;
  readonly #ids = new Map<string, StagedState>();
  readonly states: StagedState[] = [];
  readonly #w = new ByteWriter(Buffer.allocUnsafeSlow(4096));
  readonly #kb = new KeyBuilder();
  readonly #puts = new PutPacker();
  /** Bytes posted when the last window started. */
  #mark = 0;
  #inFlight: Promise<void> | undefined;
  /** gcd of murmur(hash(key)) - keyGroup over every key (see the header); 0 while every difference is 0. */
  #gcd = 0;
  /** A key whose murmur hash is below its key group: in no group's place under any maxParallelism. */
  #misplaced: { readonly name: string; readonly key: unknown; readonly keyGroup: number } | undefined;
  /** The first key of each key group, to name one in the error when keys are out of place. */
  readonly #samples = new Map<number, { readonly name: string; readonly key: unknown }>();

  constructor(store: RocksDBStore) {
    this.#store = store;
  }

  read(name: string, kind: StateKind, keyGroup: number, r: ByteReader): void {
    const id = this.#id(name, kind);
    const start = r.pos;
    const key = readValue(r);
    const canonical = this.#placed(name, key, keyGroup);
    if (kind === 'map') {
      this.#readMap(id, keyGroup, canonical, r, name);
      return;
    }
    const value = readStored(r, kind);
    // As restore(): nothing is stored for an empty list or an undefined value.
    if (value === undefined || (kind === 'list' && (value as unknown[]).length === 0)) return;
    // The entry's bytes in the file are the value the backend stores: copied as they are.
    const p = this.#puts;
    writeEntryKey(p.keys, id, keyGroup, canonical);
    p.value(r.bytes, start, r.pos);
    if (p.full) this.#post();
  }

  add(name: string, kind: StateKind, keyGroup: number, key: unknown, value: unknown): void {
    const id = this.#id(name, kind);
    const canonical = this.#placed(name, key, keyGroup);
    if (kind === 'map') {
      this.#writeMap(id, keyGroup, canonical, value instanceof Map ? value.values() : (value as Iterable<unknown>), name);
      return;
    }
    const stored = toStored(kind, value, name);
    if (stored === undefined) return;
    const w = this.#w;
    w.pos = 0;
    writeValue(w, key);
    writeStored(w, kind, stored);
    const p = this.#puts;
    writeEntryKey(p.keys, id, keyGroup, canonical);
    p.value(w.bytes, 0, w.pos);
    if (p.full) this.#post();
  }

  frameDone(): Promise<void> | undefined {
    const written = this.#store.writtenBytes + this.#puts.bytes;
    if (written - this.#mark < WINDOW_BYTES) return undefined;
    this.#post();
    this.#mark = written;
    // Wait for the window before the last while the I/O thread applies the last.
    const previous = this.#inFlight;
    const current = this.#store.settled();
    current.catch(() => {}); // awaited at the next window or in finish()
    this.#inFlight = current;
    return previous;
  }

  /** Settles once everything posted is in the staging instance. */
  async finish(): Promise<void> {
    this.#post();
    await this.#inFlight;
    await this.#store.settled();
  }

  /**
   * Throws when a key is not in the key group the files stored it in under `maxParallelism`
   * (the snapshot was taken with another maxParallelism).
   */
  checkKeyGroups(maxParallelism: number): void {
    if (this.#misplaced === undefined && this.#gcd % maxParallelism === 0) return;
    const wrong = (name: string, key: unknown, keyGroup: number): Error =>
      new Error(
        `cannot restore state '${name}': key ${describeKey(key)} belongs to key group ${assignToKeyGroup(key, maxParallelism)}, ` +
          `not ${keyGroup} (was the snapshot taken with a different maxParallelism?)`,
      );
    for (const [keyGroup, s] of this.#samples) if (assignToKeyGroup(s.key, maxParallelism) !== keyGroup) throw wrong(s.name, s.key, keyGroup);
    const m = this.#misplaced;
    if (m !== undefined) throw wrong(m.name, m.key, m.keyGroup);
    throw new Error(
      `cannot restore keyed state: some keys do not belong to the key groups the snapshot stores them in under maxParallelism ${maxParallelism} ` +
        '(was the snapshot taken with a different maxParallelism?)',
    );
  }

  /** Posts the packed puts as one write batch. */
  #post(): void {
    const p = this.#puts;
    if (p.count === 0) return;
    const { keys, values } = p.take();
    this.#store.postPackedPuts(keys, values);
  }

  #id(name: string, kind: StateKind): number {
    let s = this.#ids.get(name);
    if (s === undefined) {
      s = { name, kind, id: this.states.length };
      this.#ids.set(name, s);
      this.states.push(s);
    }
    return s.id;
  }

  /** The key's canonical form, noting where the key belongs (checkKeyGroups). */
  #placed(name: string, key: unknown, keyGroup: number): PrimitiveKey {
    const canonical = canonicalKey(key);
    const d = murmurHash(hashKey(key)) - keyGroup;
    if (d < 0) this.#misplaced ??= { name, key, keyGroup };
    else this.#gcd = gcd(this.#gcd, d);
    if (!this.#samples.has(keyGroup)) this.#samples.set(keyGroup, { name, key });
    return canonical;
  }

  /** A map state's value as a file holds it (an array of pairs): each pair's bytes become one entry as they are. */
  #readMap(id: number, keyGroup: number, canonical: PrimitiveKey, r: ByteReader, name: string): void {
    if (r.bytes[r.pos] !== ARRAY_TAG) {
      // Not written by this codec's map writer: decoded and encoded again.
      const pairs = readStored(r, 'map') as Map<PrimitiveKey, unknown>;
      this.#writeMap(id, keyGroup, canonical, pairs.values(), name);
      return;
    }
    r.pos++;
    let n = r.u8();
    if (n === LONG_SIZE) n = r.u32();
    r.need(n);
    const prefixLength = this.#mapPrefix(id, keyGroup, canonical);
    const p = this.#puts;
    for (let i = 0; i < n; i++) {
      const start = r.pos;
      const pair = readValue(r);
      this.#mapEntryKey(prefixLength, pair, name);
      p.key(this.#kb);
      p.value(r.bytes, start, r.pos);
      if (p.full) this.#post();
    }
  }

  #writeMap(id: number, keyGroup: number, canonical: PrimitiveKey, pairs: Iterable<unknown>, name: string): void {
    const prefixLength = this.#mapPrefix(id, keyGroup, canonical);
    const w = this.#w;
    const p = this.#puts;
    for (const pair of pairs) {
      this.#mapEntryKey(prefixLength, pair, name);
      w.pos = 0;
      writeValue(w, pair);
      p.key(this.#kb);
      p.value(w.bytes, 0, w.pos);
      if (p.full) this.#post();
    }
  }

  /** Starts the key builder with the prefix of one key's map entries; returns its length. */
  #mapPrefix(id: number, keyGroup: number, canonical: PrimitiveKey): number {
    const kb = this.#kb;
    kb.pos = 0;
    writeMapPrefix(kb, id, keyGroup, canonical);
    return kb.pos;
  }

  /** Builds the RocksDB key of one [user key, value] pair in the key builder: its prefix, then the user key. */
  #mapEntryKey(prefixLength: number, pair: unknown, name: string): void {
    if (!Array.isArray(pair) || pair.length !== 2) throw new StateCodecError('a map state value is not an array of [key, value] pairs');
    const kb = this.#kb;
    kb.pos = prefixLength;
    writeUserKey(kb, userKey(pair[0], name));
  }
}

/**
 * Puts packed as they are made, keys and values each into one growing buffer with the end of
 * every entry noted, as the I/O thread takes a write batch (rocksdb-bridge.ts Packed): no object
 * per entry on this side, and one copy of each value's bytes from the file.
 */
class PutPacker {
  /** Keys are written here (writeEntryKey) or copied in (key), then ended by value(). */
  keys = new KeyBuilder();
  #values = new KeyBuilder();
  #keyEnds = new Uint32Array(BATCH_PUTS + 1);
  #valueEnds = new Uint32Array(BATCH_PUTS + 1);
  count = 0;

  /** Bytes of keys and values packed. */
  get bytes(): number {
    return this.keys.pos + this.#values.pos;
  }

  /** Whether to post the batch now. */
  get full(): boolean {
    return this.count >= BATCH_PUTS || this.keys.pos + this.#values.pos >= BATCH_BYTES;
  }

  /** Appends a key built in `kb` (its bytes up to its position). */
  key(kb: KeyBuilder): void {
    const k = this.keys;
    k.reserve(kb.pos);
    kb.buf.copy(k.buf, k.pos, 0, kb.pos);
    k.pos += kb.pos;
  }

  /** Ends the entry whose key was appended last, with bytes[start, end) as its value. */
  value(bytes: Uint8Array, start: number, end: number): void {
    const v = this.#values;
    const n = end - start;
    v.reserve(n);
    const buf = v.buf;
    let p = v.pos;
    // Most values are a few bytes: a loop costs less than a view to copy from.
    if (n <= 32) for (let i = start; i < end; i++) buf[p++] = bytes[i]!;
    else {
      buf.set(bytes.subarray(start, end), p);
      p += n;
    }
    v.pos = p;
    this.count++;
    this.#keyEnds[this.count] = this.keys.pos;
    this.#valueEnds[this.count] = p;
  }

  /** The packed puts, in buffers of their own (to be moved to the I/O thread); the packer starts empty again. */
  take(): { keys: Packed; values: Packed } {
    const n = this.count;
    const keys = { bytes: this.keys.buf.subarray(0, this.keys.pos), offsets: this.#keyEnds.slice(0, n + 1) };
    const values = { bytes: this.#values.buf.subarray(0, this.#values.pos), offsets: this.#valueEnds.slice(0, n + 1) };
    this.keys = fresh(this.keys);
    this.#values = fresh(this.#values);
    this.count = 0;
    return { keys, values };
  }
}

/**
 * A new, empty key builder of `b`'s capacity (b's buffer is about to be moved to another thread),
 * at most two batches': one large value does not make every later batch allocate its size.
 */
function fresh(b: KeyBuilder): KeyBuilder {
  const next = new KeyBuilder();
  next.buf = Buffer.allocUnsafeSlow(Math.min(b.buf.length, 2 * BATCH_BYTES));
  return next;
}

function userKey(key: unknown, name: string): PrimitiveKey {
  try {
    return canonicalKey(key, `map state '${name}'`);
  } catch (error) {
    throw new StateCodecError(`a map state holds an invalid user key (${error instanceof Error ? error.message : String(error)})`, { cause: error });
  }
}

/**
 * Creates the staging instance's directory. Its parent is shared by the restores of every thread
 * of the process and removed by the last one out, possibly between creating it and the instance
 * directory inside it: then it is created again.
 */
function makeDir(path: string): void {
  for (let attempt = 1; ; attempt++) {
    try {
      mkdirSync(path, { recursive: true });
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || attempt >= 3) throw e;
    }
  }
}

function removeIfEmpty(dir: string): void {
  try {
    rmdirSync(dir);
  } catch {
    // Not empty (another restore is staging), or gone.
  }
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/** The staged entries decoded, per state and key group, as KeyedStateBackend.restore() takes them. */
function decodeStaged(store: RocksDBStore, states: readonly StagedState[], range: KeyGroupRange): KeyedStateSnapshotData[] {
  const out: KeyedStateSnapshotData[] = [];
  for (const s of states) {
    for (let keyGroup = range.start; keyGroup <= range.end; keyGroup++) {
      const entries = [...decodeEntries(s.name, s.kind, store.scanAllSync(stateRange(s.id, keyGroup, keyGroup), SCAN_CHUNK))];
      if (entries.length > 0) out.push({ name: s.name, kind: s.kind, keyGroup, entries, owned: true });
    }
  }
  return out;
}
