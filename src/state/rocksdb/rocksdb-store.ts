/**
 * One RocksDB instance (one keyed subtask's state) as the keyed backend uses it: buffered writes,
 * synchronous point reads and range scans, snapshots, all through this thread's I/O thread
 * (rocksdb-bridge.ts). Writes are buffered and posted in batches; every read posts the buffer
 * first, and the I/O thread answers in order, so a read always sees every earlier write.
 */
import { renameSync, rmdirSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { type Packed, pack, packedCount, type RocksDBBridge, rocksDBBridge, unpacked } from './rocksdb-bridge.ts';
import type { ChangeLog } from './rocksdb-changelog.ts';

export interface RocksDBStoreOptions {
  /** The instance's directory; created if missing, deleted by close(). */
  readonly path: string;
  /** RocksDB's write buffer (memtable) size in bytes. */
  readonly writeBufferSize: number;
  readonly maxWriteBufferNumber: number;
  readonly blockCache: boolean;
}

/** One entry of a range scan: views into the answer's bytes. */
export interface ScannedEntry {
  readonly key: Uint8Array;
  readonly value: Uint8Array;
}

/**
 * Working directories of this thread's open instances. They are working copies, never durable
 * state (checkpoints are), so they are deleted when the thread exits even without close().
 */
const openPaths = new Set<string>();
let exitHookInstalled = false;

function removeOnExit(path: string): void {
  openPaths.add(path);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const p of openPaths) rmSync(p, { recursive: true, force: true });
  });
}

/** Puts and deletes posted in one batch. */
const WRITE_BATCH = 1024;

/** A consistent copy of an instance's files (rocksdb-io-worker.mjs `checkpoint`). */
export interface InstanceCopy {
  /** The MANIFEST file CURRENT names, and the newest OPTIONS file (null when there is none). */
  readonly manifest: string;
  readonly options: string | null;
  /** The live SST files, each hard-linked into the copy. */
  readonly ssts: readonly string[];
}

export class RocksDBStore {
  readonly path: string;
  readonly #bridge: RocksDBBridge;
  readonly #options: RocksDBStoreOptions;
  #db: number;
  #keys: Uint8Array[] = [];
  #values: Uint8Array[] = [];
  #deletes: number[] = [];
  #closed = false;
  #writes = 0;
  /** The reads under way that watch writes (watchWrites); rarely more than two. */
  #watches: WriteWatch[] = [];
  /** Where puts, deletes and range deletions are logged (rocksdb-changelog.ts), when a change log is kept. */
  #log: ChangeLog | undefined;

  constructor(o: RocksDBStoreOptions) {
    this.path = o.path;
    this.#options = o;
    this.#bridge = rocksDBBridge();
    this.#db = this.#open();
    removeOnExit(o.path);
  }

  #open(): number {
    const o = this.#options;
    return this.#bridge.callSync<number>({
      op: 'open',
      path: o.path,
      writeBufferSize: o.writeBufferSize,
      maxWriteBufferNumber: o.maxWriteBufferNumber,
      blockCache: o.blockCache,
    });
  }

  /** Logs every later put, delete and range deletion to `log` (while it is active), in posting order. */
  logTo(log: ChangeLog): void {
    this.#log = log;
  }

  /**
   * Closes the change log's open segment here, in the order of the writes: answers the cut
   * (rocksdb-changelog.ts), or -1 without a change log.
   */
  cutLog(): number {
    return this.#log === undefined ? -1 : this.#log.cut();
  }

  /**
   * Makes `dir` (a RocksDB instance's files, e.g. downloaded from a checkpoint) this store's
   * instance: the current one is closed and deleted, `dir` moved into its place and opened.
   */
  swapIn(dir: string): void {
    this.#writes++;
    for (const w of this.#watches) w.swapped = true;
    this.#keys = [];
    this.#values = [];
    this.#deletes = [];
    this.#bridge.callSync({ op: 'close', db: this.#db });
    rmSync(this.path, { recursive: true, force: true });
    renameSync(dir, this.path);
    this.#db = this.#open();
  }

  /** Takes a consistent copy of the instance's files into `dir` (after everything written so far). */
  checkpoint(dir: string): Promise<InstanceCopy> {
    this.postWrites();
    return this.#bridge.call<InstanceCopy>({ op: 'checkpoint', db: this.#db, dir });
  }

  /** Buffers a put (value) or a delete (null). */
  write(key: Uint8Array, value: Uint8Array | null): void {
    this.#writes++;
    this.#writtenBytes += key.byteLength + (value?.byteLength ?? 0);
    const watches = this.#watches;
    if (watches.length > 0) {
      const h = hashBytes(key);
      for (const w of watches) w.written.add(h);
    }
    const log = this.#log;
    if (log?.active === true) {
      if (value === null) log.delete(key);
      else log.put(key, value);
    }
    if (value === null) this.#deletes.push(this.#keys.length);
    this.#keys.push(key);
    this.#values.push(value ?? EMPTY);
    if (this.#keys.length >= WRITE_BATCH) this.postWrites();
  }

  /** Bytes of the keys and values of the puts and deletes so far. */
  get writtenBytes(): number {
    return this.#writtenBytes;
  }

  #writtenBytes = 0;

  /** Puts and deletes buffered or posted so far (a range deletion and a swap count as one each). */
  get writeCount(): number {
    return this.#writes;
  }

  /**
   * Starts noting which keys are written from now on, for a read whose answer arrives later
   * (the I/O thread may answer it with a value older or newer than such a write). Each watch
   * needs one endWatch; several may be under way at once (a read ahead of the current one).
   */
  watchWrites(): WriteWatch {
    const w: WriteWatch = { written: new Set(), ranges: [], swapped: false };
    this.#watches.push(w);
    return w;
  }

  /**
   * Whether `key` was written, or deleted by a range holding it, since `watch` began. It may
   * answer true for a key that was not (its hash is that of a key that was): a reader then only
   * reads it again. It never answers false for one that was.
   */
  writtenSince(key: Uint8Array, watch: WriteWatch): boolean {
    if (watch.swapped || watch.written.has(hashBytes(key))) return true;
    for (const r of watch.ranges) if (Buffer.compare(r.start, key) <= 0 && Buffer.compare(key, r.end) < 0) return true;
    return false;
  }

  endWatch(watch: WriteWatch): void {
    const at = this.#watches.indexOf(watch);
    if (at >= 0) this.#watches.splice(at, 1);
  }

  /** Posts the buffered writes (they take effect before any later request). */
  postWrites(): void {
    if (this.#keys.length === 0) return;
    const keys = pack(this.#keys);
    const values = pack(this.#values);
    // The packed bytes are fresh: moved to the I/O thread rather than copied.
    this.#bridge.post({ op: 'write', db: this.#db, keys, values, deletes: this.#deletes }, [
      keys.bytes.buffer as ArrayBuffer,
      keys.offsets.buffer as ArrayBuffer,
      values.bytes.buffer as ArrayBuffer,
      values.offsets.buffer as ArrayBuffer,
    ]);
    this.#keys = [];
    this.#values = [];
    this.#deletes = [];
  }

  /**
   * Posts puts packed by the caller as one write batch, after the buffered writes. Only for an
   * instance that no get reads while they are pending (a restore's staging instance): they skip
   * the I/O thread's overlay of pending writes. The packed arrays' buffers are moved, not copied.
   */
  postPackedPuts(keys: Packed, values: Packed): void {
    this.postWrites();
    this.#writes += packedCount(keys);
    this.#writtenBytes += keys.bytes.byteLength + values.bytes.byteLength;
    const moved = [keys.bytes.buffer, keys.offsets.buffer, values.bytes.buffer, values.offsets.buffer] as ArrayBuffer[];
    this.#bridge.post({ op: 'bulkWrite', db: this.#db, keys, values }, moved);
  }

  /** The value of `key`, or undefined; blocks until the I/O thread answers. */
  getSync(key: Uint8Array): Uint8Array | undefined {
    this.postWrites();
    const a = this.#bridge.callSync<{ values: Packed; present: Uint8Array }>({ op: 'get', db: this.#db, keys: pack([key]) });
    return a.present[0] === 1 ? unpacked(a.values, 0) : undefined;
  }

  /** The values of many keys (undefined where missing) in one read batch, without blocking. */
  async getMany(keys: readonly Uint8Array[]): Promise<(Uint8Array | undefined)[]> {
    this.postWrites();
    const a = await this.#bridge.call<{ values: Packed; present: Uint8Array }>({ op: 'get', db: this.#db, keys: pack(keys) });
    const out: (Uint8Array | undefined)[] = new Array(keys.length);
    for (let i = 0; i < keys.length; i++) out[i] = a.present[i] === 1 ? unpacked(a.values, i) : undefined;
    return out;
  }

  /**
   * Up to `limit` entries with start <= key < end (after > key instead when given), from a
   * snapshot when given; blocks until answered. `more`: there may be more after the last.
   */
  scanSync(range: ScanRange): { entries: ScannedEntry[]; more: boolean } {
    this.postWrites();
    return scanned(this.#bridge.callSync(this.#scanRequest(range)));
  }

  /** As scanSync, without blocking. */
  async scan(range: ScanRange): Promise<{ entries: ScannedEntry[]; more: boolean }> {
    this.postWrites();
    return scanned(await this.#bridge.call(this.#scanRequest(range)));
  }

  /**
   * Every entry with start <= key < end (from a snapshot when given), in key order, read
   * `chunk` entries per request, each request blocking until answered.
   */
  *scanAllSync(range: WholeRange, chunk: number): Generator<ScannedEntry> {
    let after: Uint8Array | undefined;
    for (;;) {
      const { entries, more } = this.scanSync({ ...range, after, limit: chunk });
      yield* entries;
      if (!more || entries.length === 0) return;
      after = entries[entries.length - 1]!.key;
    }
  }

  /** As scanAllSync, one chunk at a time, without blocking. */
  async *scanAll(range: WholeRange, chunk: number): AsyncGenerator<readonly ScannedEntry[]> {
    let after: Uint8Array | undefined;
    for (;;) {
      const { entries, more } = await this.scan({ ...range, after, limit: chunk });
      if (entries.length > 0) yield entries;
      if (!more || entries.length === 0) return;
      after = entries[entries.length - 1]!.key;
    }
  }

  /** A RocksDB snapshot of everything written so far; blocks until taken. */
  snapshotSync(): number {
    this.postWrites();
    return this.#bridge.callSync<number>({ op: 'snapshot', db: this.#db });
  }

  /** As snapshotSync, without blocking. */
  snapshot(): Promise<number> {
    this.postWrites();
    return this.#bridge.call<number>({ op: 'snapshot', db: this.#db });
  }

  releaseSnapshot(snapshot: number): void {
    if (!this.#closed) this.#bridge.post({ op: 'release', db: this.#db, snapshot });
  }

  /** Deletes every key in [start, end). */
  deleteRange(start: Uint8Array, end: Uint8Array): void {
    this.postWrites();
    this.#writes++;
    for (const w of this.#watches) w.ranges.push({ start, end });
    if (this.#log?.active === true) this.#log.deleteRange(start, end);
    this.#bridge.post({ op: 'deleteRange', db: this.#db, start, end });
  }

  /**
   * Settles once every write posted before it is in RocksDB: a writer that posts faster than the
   * I/O thread applies awaits it now and then, so that posted batches do not pile up in memory.
   */
  async settled(): Promise<void> {
    this.postWrites();
    await this.#bridge.call({ op: 'barrier', db: this.#db });
  }

  /**
   * Flushes the memtable and closes the instance, keeping its directory (for another store's
   * swapIn): the store is closed as by close(), but its files are the caller's from then on.
   */
  async detach(): Promise<void> {
    if (this.#closed) throw new Error(`internal: the RocksDB instance ${this.path} is closed`);
    this.postWrites();
    await this.#bridge.call({ op: 'flush', db: this.#db });
    this.#closed = true;
    await this.#bridge.call({ op: 'close', db: this.#db });
    openPaths.delete(this.path);
  }

  /** Closes the instance and deletes its directory. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#keys = [];
    this.#values = [];
    this.#deletes = [];
    try {
      this.#bridge.callSync({ op: 'close', db: this.#db });
    } finally {
      rmSync(this.path, { recursive: true, force: true });
      openPaths.delete(this.path);
      try {
        // The parent groups one job's instances (embedded-rocksdb-state-backend.ts): the last one out removes it.
        rmdirSync(dirname(this.path));
      } catch {
        // Not empty (or not ours to remove).
      }
    }
  }

  #scanRequest(r: ScanRange): Record<string, unknown> {
    return {
      op: 'scan',
      db: this.#db,
      ...(r.after !== undefined ? { gt: r.after } : { gte: r.start }),
      lt: r.end,
      limit: r.limit,
      ...(r.snapshot !== undefined ? { snapshot: r.snapshot } : {}),
    };
  }
}

/** A whole key range to scan, from a snapshot when given. */
export type WholeRange = Omit<ScanRange, 'after' | 'limit'>;

export interface ScanRange {
  readonly start: Uint8Array;
  readonly end: Uint8Array;
  /** Continue after this key instead of at `start`. */
  readonly after?: Uint8Array | undefined;
  readonly limit: number;
  readonly snapshot?: number | undefined;
}

const EMPTY = new Uint8Array(0);

function scanned(a: { keys: Packed; values: Packed; more: boolean }): { entries: ScannedEntry[]; more: boolean } {
  const n = packedCount(a.keys);
  const entries: ScannedEntry[] = new Array(n);
  for (let i = 0; i < n; i++) entries[i] = { key: unpacked(a.keys, i), value: unpacked(a.values, i) };
  return { entries, more: a.more };
}

/** The writes seen while one read was under way (RocksDBStore.watchWrites). */
export interface WriteWatch {
  /** Hashes of the keys written (hashBytes). */
  readonly written: Set<number>;
  /** Ranges deleted ([start, end)). */
  readonly ranges: { readonly start: Uint8Array; readonly end: Uint8Array }[];
  /** The whole instance was replaced (swapIn). */
  swapped: boolean;
}

/** FNV-1a over a key's bytes: cheaper than a string of them, and a collision only costs a read. */
function hashBytes(key: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key[i]!, 0x01000193);
  return h >>> 0;
}
