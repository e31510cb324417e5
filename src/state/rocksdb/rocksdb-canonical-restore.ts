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
import { entryKey, KeyBuilder, stateRange, writeMapPrefix, writeUserKey } from './rocksdb-keys.ts';
import { decodeEntries } from './rocksdb-snapshot.ts';
import { RocksDBKeyedStateBackend } from './rocksdb-keyed-state-backend.ts';
import { RocksDBStore, type RocksDBStoreOptions } from './rocksdb-store.ts';

/** Bytes posted between two waits for the I/O thread; at most about two such windows are in flight. */
const WINDOW_BYTES = 8 * 1024 * 1024;
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
    // A view into the file's payload, which does not change: the store copies it when it posts the batch.
    this.#store.write(entryKey(id, keyGroup, canonical), r.bytes.subarray(start, r.pos));
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
    this.#store.write(entryKey(id, keyGroup, canonical), Uint8Array.prototype.slice.call(w.bytes, 0, w.pos));
  }

  frameDone(): Promise<void> | undefined {
    const written = this.#store.writtenBytes;
    if (written - this.#mark < WINDOW_BYTES) return undefined;
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
    for (let i = 0; i < n; i++) {
      const start = r.pos;
      const pair = readValue(r);
      this.#store.write(this.#mapEntryKey(prefixLength, pair, name), r.bytes.subarray(start, r.pos));
    }
  }

  #writeMap(id: number, keyGroup: number, canonical: PrimitiveKey, pairs: Iterable<unknown>, name: string): void {
    const prefixLength = this.#mapPrefix(id, keyGroup, canonical);
    const w = this.#w;
    for (const pair of pairs) {
      const key = this.#mapEntryKey(prefixLength, pair, name);
      w.pos = 0;
      writeValue(w, pair);
      this.#store.write(key, Uint8Array.prototype.slice.call(w.bytes, 0, w.pos));
    }
  }

  /** Starts the key builder with the prefix of one key's map entries; returns its length. */
  #mapPrefix(id: number, keyGroup: number, canonical: PrimitiveKey): number {
    const kb = this.#kb;
    kb.pos = 0;
    writeMapPrefix(kb, id, keyGroup, canonical);
    return kb.pos;
  }

  /** The RocksDB key of one [user key, value] pair: the builder's prefix, then the user key. */
  #mapEntryKey(prefixLength: number, pair: unknown, name: string): Uint8Array {
    if (!Array.isArray(pair) || pair.length !== 2) throw new StateCodecError('a map state value is not an array of [key, value] pairs');
    const kb = this.#kb;
    kb.pos = prefixLength;
    writeUserKey(kb, userKey(pair[0], name));
    return Uint8Array.prototype.slice.call(kb.buf, 0, kb.pos);
  }
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
