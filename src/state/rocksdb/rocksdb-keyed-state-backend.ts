/**
 * Keyed state in an embedded RocksDB instance (Flink's EmbeddedRocksDBStateBackend): state larger
 * than the JavaScript heap, behind a bounded cache that keeps state access synchronous (see
 * rocksdb-table.ts for the cache, rocksdb-snapshot.ts for snapshots, rocksdb-keys.ts for the
 * layout, docs/rocksdb.md for the design and its measurements).
 *
 * The state objects are the heap backend's (entry-table.ts), so both backends implement the
 * state semantics once. Each backend owns one RocksDB instance in its own directory, deleted on
 * dispose(); the instance is a working copy, never the durable state: checkpoints and savepoints
 * write the state out through the checkpoint storage.
 */
import type { MapState, MapStateDescriptor, StateKind } from '../../api/state.ts';
import { rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { canonicalKey, computeKeyGroupForKeyHash, hashKey, type KeyGroupRange, type PrimitiveKey } from '../../core/key-group.ts';
import { article, describeKey } from '../heap/heap-state-messages.ts';
import { toStored } from '../heap/stored-values.ts';
import { EntryTableBackend } from '../entry-table-backend.ts';
import type { KeyedStateBackend, KeyedStateSnapshotData } from '../keyed-state-backend.ts';
import type { NativeRestoreOptions } from '../state-backend.ts';
import { ByteReader, readValue, writeStored, writeValue } from '../state-codec.ts';
import { ChangeLog, ChangelogState, type ChangelogOptions, type LogTarget } from './rocksdb-changelog.ts';
import { type IncrementalMeta, type IncrementalSource, type OldInstance, UploadTracker } from './rocksdb-incremental.ts';
import { pruneCopies } from '../local-recovery.ts';
import { pack } from './rocksdb-bridge.ts';
import { entryKey, stateRange } from './rocksdb-keys.ts';
import { RocksDBMapState, RocksDBMapTable } from './rocksdb-map-state.ts';
import { RocksDBSnapshot, type StateTable } from './rocksdb-snapshot.ts';
import { RocksDBStore, type RocksDBStoreOptions } from './rocksdb-store.ts';
import { CacheContext, ENTRY_OVERHEAD, RocksDBTable } from './rocksdb-table.ts';

export interface RocksDBKeyedStateBackendOptions extends RocksDBStoreOptions {
  readonly maxParallelism: number;
  readonly keyGroupRange: KeyGroupRange;
  /** Bytes the cache of decoded entries may hold (an estimate). */
  readonly cacheBytes: number;
  /** Names the owner in error messages (e.g. the operator). */
  readonly where?: string | undefined;
  /**
   * Local recovery: the subtask's task-local directory (stable across attempts of the job), where
   * the last completed incremental checkpoint's files stay, so a restart restores without
   * downloading them. Absent: off.
   */
  readonly localRecoveryDir?: string | undefined;
  /**
   * A change log of the writes to RocksDB (`state.backend.changelog.enabled`, rocksdb-changelog.ts),
   * kept beside the instance as `<path>-log`. Absent: off.
   */
  readonly changelog?: ChangelogOptions | undefined;
}

/** Puts of a change log replay posted per write batch. */
const REPLAY_BATCH = 4096;

/** State ids are u16 in the key layout. */
const MAX_STATES = 0xffff;

export class RocksDBKeyedStateBackend extends EntryTableBackend implements KeyedStateBackend {
  readonly #store: RocksDBStore;
  readonly #ctx: CacheContext;
  readonly #tables = new Map<string, StateTable>();
  readonly #tableList: StateTable[] = [];
  readonly #mapStates = new Map<string, RocksDBMapState<unknown, unknown>>();
  readonly #live = new Set<RocksDBSnapshot>();
  /** What this backend uploaded for incremental checkpoints. */
  readonly #uploads = new UploadTracker();
  readonly #options: RocksDBKeyedStateBackendOptions;
  readonly #changelog: ChangelogState<IncrementalMeta> | undefined;
  #lastRestore: 'local' | 'remote' | undefined;
  #disposed = false;

  constructor(o: RocksDBKeyedStateBackendOptions) {
    super(o.maxParallelism, o.keyGroupRange, o.where);
    this.#ctx = new CacheContext(o.cacheBytes);
    this.#store = new RocksDBStore(o);
    this.#options = o;
    if (o.changelog !== undefined) {
      const log = new ChangeLog(`${o.path}-log`);
      this.#changelog = new ChangelogState(log, o.changelog);
      this.#store.logTo(log);
    }
  }

  /** What an incremental checkpoint of `snapshot` (taken by this backend) needs. */
  incrementalSource(snapshot: RocksDBSnapshot): IncrementalSource {
    return {
      snapshot,
      uploads: this.#uploads,
      localRecoveryDir: this.#options.localRecoveryDir,
      path: this.#store.path,
      keyGroupRange: this.keyGroupRange,
      states: this.#tableList.map((t) => ({ name: t.name, kind: t.kind, id: t.id })),
      changelog: this.#changelog,
    };
  }

  notifyCheckpointComplete(checkpointId: number): void {
    this.#changelog?.complete(checkpointId);
    const wrote = this.#uploads.complete(checkpointId);
    const local = this.#options.localRecoveryDir;
    // Keep only the newest completed checkpoint's task-local copy (and newer pending ones).
    if (local !== undefined && wrote) pruneCopies(local, checkpointId);
  }

  notifyCheckpointAborted(checkpointId: number): void {
    this.#changelog?.abort(checkpointId);
    this.#uploads.abort(checkpointId);
    const local = this.#options.localRecoveryDir;
    if (local !== undefined) rmSync(join(local, `chk-${checkpointId}`), { recursive: true, force: true });
  }

  /**
   * Reads the state of these keys (every registered state) that is not cached with one batched
   * read, without blocking; undefined when everything is cached. The input calls it with the keys
   * of a record batch before processing it, so the batch then runs without synchronous misses.
   * A key written while its read was under way is not installed from it (the answer may be
   * older or newer than that write): prefetching only ever saves reads, it never decides a value.
   */
  prefetch(keys: readonly unknown[], keyGroups?: ArrayLike<number>): Promise<void> | undefined {
    if (this.#disposed || this.#tableList.length === 0) return undefined;
    const { start, end } = this.keyGroupRange;
    const tables = this.#tableList;
    // Keys whose reads are queued: a key that repeats in the batch is read once. Cached keys (all
    // of them, with few keys) cost one lookup per state and are not remembered.
    let queued: Set<PrimitiveKey> | undefined;
    const dbKeys: Uint8Array[] = [];
    const targets: { table: RocksDBTable; canonical: PrimitiveKey; key: unknown; keyGroup: number }[] = [];
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i];
      let canonical: PrimitiveKey;
      try {
        canonical = canonicalKey(key, this.where);
      } catch {
        continue; // processing the record reports it
      }
      // The key group (a hash) only for a key with something to read: a cached key costs a lookup.
      let keyGroup = -1;
      for (const table of tables) {
        // Map states are read a user key at a time when used (rocksdb-map-state.ts).
        if (table instanceof RocksDBMapTable) continue;
        const cached = table.cache.get(canonical);
        if (cached !== undefined) {
          // In use soon: not to be evicted before (the input reads a batch ahead of its turn).
          cached.ref = true;
          continue;
        }
        if (keyGroup < 0) {
          // The first state of this key to read: skip the key if an earlier record queued it.
          if (queued === undefined) queued = new Set();
          else if (queued.has(canonical)) break;
          queued.add(canonical);
          if (keyGroups !== undefined) keyGroup = keyGroups[i]!;
          else {
            try {
              keyGroup = computeKeyGroupForKeyHash(hashKey(key, this.where), this.maxParallelism);
            } catch {
              break; // processing the record reports it
            }
          }
          if (keyGroup < start || keyGroup > end) break;
        }
        dbKeys.push(entryKey(table.id, keyGroup, canonical));
        targets.push({ table, canonical, key, keyGroup });
      }
    }
    if (dbKeys.length === 0) return undefined;
    this.#ctx.prefetched += dbKeys.length;
    const store = this.#store;
    const watch = store.watchWrites();
    return store.getMany(dbKeys).then(
      (values) => {
        try {
          if (this.#disposed) return;
          for (let i = 0; i < targets.length; i++) {
            const t = targets[i]!;
            if (!t.table.cache.has(t.canonical) && !store.writtenSince(dbKeys[i]!, watch)) t.table.install(t.canonical, t.key, t.keyGroup, values[i]);
          }
        } finally {
          store.endWatch(watch);
        }
      },
      (e: unknown) => {
        store.endWatch(watch);
        throw e;
      },
    );
  }

  /**
   * About how many keys' state the cache holds: its budget over what a key takes in it (the
   * average cached entry so far, at least the fixed overhead, times the states read ahead per
   * key). Map states are not read ahead and do not count.
   */
  prefetchCapacity(): number {
    const ctx = this.#ctx;
    let states = 0;
    for (const table of this.#tableList) if (!(table instanceof RocksDBMapTable)) states++;
    const perEntry = ctx.entries > 0 ? Math.max(ENTRY_OVERHEAD, ctx.bytes / ctx.entries) : ENTRY_OVERHEAD;
    return Math.floor(ctx.budget / (perEntry * Math.max(1, states)));
  }

  /** Entries read ahead of use so far (prefetch). */
  get prefetched(): number {
    return this.#ctx.prefetched;
  }

  /** Where the last restore of RocksDB files (an incremental checkpoint, or the task-local copy of a full one) read them from. */
  get lastRestore(): 'local' | 'remote' | undefined {
    return this.#lastRestore;
  }

  /**
   * Restores RocksDB instances of an incremental checkpoint into this fresh backend: one instance
   * covering exactly this range becomes the working instance as it is; otherwise each is opened
   * on the side and the entries of this range are copied over, state by state.
   */
  async restoreInstances(instances: readonly OldInstance[], o?: NativeRestoreOptions): Promise<void> {
    this.#alive();
    if (this.#tableList.length > 0) throw new Error('internal: a RocksDB backend restores before any state is registered');
    const { start, end } = this.keyGroupRange;
    const only = instances.length === 1 ? instances[0]! : undefined;
    if (only !== undefined && only.meta.keyGroupRange.start === start && only.meta.keyGroupRange.end === end) {
      const dir = `${this.#store.path}-restore`;
      await rm(dir, { recursive: true, force: true });
      const local = this.#options.localRecoveryDir;
      this.#lastRestore = await only.download(dir, local === undefined ? undefined : join(local, `chk-${only.meta.checkpointId}`));
      this.#store.swapIn(dir);
      // The instance's files are the checkpoint's, file for file: uploaded already when the
      // checkpoint is this job's own.
      if (o?.ownStorage === true) this.#uploads.adopt(only.meta.ssts);
      for (const s of [...only.meta.states].sort((a, b) => a.id - b.id)) {
        const table = this.#table(s.name, s.kind);
        if (table.id !== s.id) throw new Error(`internal: restored state '${s.name}' has id ${s.id}, expected ${table.id}`);
      }
      await this.#replay(only);
      return;
    }
    for (const [i, instance] of instances.entries()) {
      const dir = `${this.#store.path}-restore-${i}`;
      await rm(dir, { recursive: true, force: true });
      this.#lastRestore = await instance.download(dir);
      const old = new RocksDBStore({ ...this.#options, path: dir });
      try {
        const from = Math.max(start, instance.meta.keyGroupRange.start);
        const to = Math.min(end, instance.meta.keyGroupRange.end);
        for (const s of instance.meta.states) {
          const table = this.#table(s.name, s.kind);
          if (from > to) continue;
          for await (const entries of old.scanAll(stateRange(s.id, from, to), 4096)) {
            for (const { key, value } of entries) {
              const rekeyed = Uint8Array.from(key);
              rekeyed[0] = table.id >>> 8;
              rekeyed[1] = table.id & 0xff;
              this.#store.write(rekeyed, Uint8Array.from(value));
            }
          }
        }
        this.#store.postWrites();
      } finally {
        old.close();
      }
      await this.#replay(instance);
    }
  }

  /**
   * Replays an old instance's change log segments (rocksdb-changelog.ts) over what was restored
   * of it: only records of this backend's key groups, with the state ids of this backend. The
   * next checkpoint then materializes (uploads SST files), the log starting afresh.
   */
  async #replay(instance: OldInstance): Promise<void> {
    const { start, end } = this.keyGroupRange;
    const ids = new Map<number, number>();
    for (const s of instance.meta.states) ids.set(s.id, this.#table(s.name, s.kind).id);
    const store = this.#store;
    const own = (key: Uint8Array): boolean => {
      const keyGroup = (key[2]! << 8) | key[3]!;
      return keyGroup >= start && keyGroup <= end;
    };
    /** The key with this backend's id of its state; `from`: the id to map (the start key's, for a range's end). */
    const rekey = (key: Uint8Array, from = (key[0]! << 8) | key[1]!): Uint8Array => {
      const id = ids.get(from);
      if (id === undefined) throw new Error(`a change log segment writes to state id ${from}, which the checkpoint's metadata does not list`);
      const at = (key[0]! << 8) | key[1]!;
      if (from === at && id === at) return key;
      const out = Uint8Array.from(key);
      const next = id + (at - from);
      out[0] = next >>> 8;
      out[1] = next & 0xff;
      return out;
    };
    // Runs of puts go down as packed write batches (nothing reads this instance before the
    // restore ends, so they may skip the I/O thread's overlay); deletes keep their place after them.
    let keys: Uint8Array[] = [];
    let values: Uint8Array[] = [];
    const postPuts = (): void => {
      if (keys.length === 0) return;
      store.postPackedPuts(pack(keys), pack(values));
      keys = [];
      values = [];
    };
    const target: LogTarget & { flush(): void } = {
      // Lets go of the records given so far: puts packed (copied) and posted, deletes posted.
      flush: () => {
        postPuts();
        store.postWrites();
      },
      put: (key, value) => {
        if (!own(key)) return;
        keys.push(rekey(key));
        values.push(value);
        if (keys.length >= REPLAY_BATCH) postPuts();
      },
      delete: (key) => {
        if (!own(key)) return;
        postPuts();
        store.write(rekey(key), null);
      },
      deleteRange: (first, last) => {
        if (!own(first)) return;
        postPuts();
        store.deleteRange(rekey(first), rekey(last, (first[0]! << 8) | first[1]!));
      },
    };
    const scratch = `${store.path}-replay`;
    try {
      await instance.replay(
        target,
        async () => {
          postPuts();
          await store.settled();
        },
        scratch,
      );
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
    this.#changelog?.reset();
  }

  /**
   * Makes `staged` (an instance holding canonical files' entries of exactly this backend's key
   * groups, laid out as this backend lays out its own, with these state ids: see
   * rocksdb-canonical-restore.ts) this fresh backend's instance as it is. `staged` is flushed and
   * closed, and its directory becomes this backend's.
   */
  async adoptStaged(staged: RocksDBStore, states: readonly { readonly name: string; readonly kind: StateKind; readonly id: number }[], range: KeyGroupRange): Promise<void> {
    this.#alive();
    if (this.#tableList.length > 0) throw new Error('internal: a RocksDB backend restores before any state is registered');
    const { start, end } = this.keyGroupRange;
    if (range.start !== start || range.end !== end) {
      throw new Error(`internal: keyed state read for key groups ${range.start}..${range.end} cannot be restored into a backend of key groups ${start}..${end}`);
    }
    await staged.detach();
    try {
      this.#store.swapIn(staged.path);
    } catch (e) {
      rmSync(staged.path, { recursive: true, force: true });
      throw e;
    }
    for (const s of [...states].sort((a, b) => a.id - b.id)) {
      const table = this.#table(s.name, s.kind);
      if (table.id !== s.id) throw new Error(`internal: restored state '${s.name}' has id ${s.id}, expected ${table.id}`);
    }
  }

  /** Puts and deletes written to RocksDB so far, and the bytes of their keys and values. */
  get rocksdbWrites(): { readonly count: number; readonly bytes: number } {
    return { count: this.#store.writeCount, bytes: this.#store.writtenBytes };
  }

  /** Entries in the cache of decoded entries, over every state. */
  get cachedEntries(): number {
    return this.#ctx.entries;
  }

  /** Synchronous RocksDB reads so far (cache misses). */
  get cacheMisses(): number {
    return this.#ctx.misses;
  }

  /** The directory of the RocksDB instance. */
  get path(): string {
    return this.#store.path;
  }

  setCurrentKey(key: unknown): void {
    const canonical = canonicalKey(key, this.where);
    this.#setKey(key, canonical, computeKeyGroupForKeyHash(hashKey(key, this.where), this.maxParallelism));
  }

  setCurrentKeyInGroup(key: unknown, keyGroup: number): void {
    this.#setKey(key, canonicalKey(key, this.where), keyGroup);
  }

  #setKey(key: unknown, canonical: PrimitiveKey, keyGroup: number): void {
    if (keyGroup < this.keyGroupRange.start || keyGroup > this.keyGroupRange.end) throw this.outOfRange(key, keyGroup);
    const ctx = this.#ctx;
    ctx.key = key;
    ctx.canonical = canonical;
    ctx.keyGroup = keyGroup;
    ctx.serial++;
  }

  getCurrentKey(): unknown {
    return this.#ctx.key;
  }

  getCurrentKeyGroup(): number {
    return this.#ctx.keyGroup;
  }

  /**
   * Every key with state under this name: pending snapshots are established and changed entries
   * written back first, then RocksDB is scanned in chunks. Keys removed meanwhile are skipped;
   * keys added meanwhile may or may not appear.
   */
  *keys(stateName: string): Iterable<unknown> {
    const table = this.#tables.get(stateName);
    if (table === undefined) return;
    this.#writeBackAll();
    if (table instanceof RocksDBMapTable) {
      yield* table.streamKeys(this.keyGroupRange.start, this.keyGroupRange.end);
      return;
    }
    for (const { value } of this.#store.scanAllSync(stateRange(table.id, this.keyGroupRange.start, this.keyGroupRange.end), 1024)) {
      const key = readValue(new ByteReader(value));
      const cached = table.cache.get(canonicalKey(key, this.where));
      if (cached !== undefined && cached.value === undefined) continue;
      yield key;
    }
  }

  snapshot(): RocksDBSnapshot {
    this.#alive();
    const snapshot = new RocksDBSnapshot(this.#tableList, this.#ctx, this.#store, (s) => this.#live.delete(s), this);
    this.#live.add(snapshot);
    return snapshot;
  }

  restore(data: Iterable<KeyedStateSnapshotData>): void {
    this.#alive();
    const { start, end } = this.keyGroupRange;
    const w = this.#ctx.writer;
    for (const part of data) {
      if (!Number.isInteger(part.keyGroup) || part.keyGroup < start || part.keyGroup > end) continue;
      const table = this.#table(part.name, part.kind);
      for (const [key, value] of part.entries) {
        const canonical = canonicalKey(key, this.where);
        const keyGroup = computeKeyGroupForKeyHash(hashKey(key, this.where), this.maxParallelism);
        if (keyGroup !== part.keyGroup) {
          throw new Error(
            `cannot restore state '${part.name}': key ${describeKey(key)} belongs to key group ${keyGroup}, ` +
              `not ${part.keyGroup} (was the snapshot taken with a different maxParallelism?)`,
          );
        }
        if (table instanceof RocksDBMapTable) {
          table.restoreKey(keyGroup, canonical, value);
          continue;
        }
        const stored = toStored(part.kind, value, part.name);
        table.forget(canonical);
        const dbKey = entryKey(table.id, keyGroup, canonical);
        if (stored === undefined) {
          this.#store.write(dbKey, null);
          continue;
        }
        w.pos = 0;
        writeValue(w, key);
        writeStored(w, part.kind, stored);
        this.#store.write(dbKey, Uint8Array.prototype.slice.call(w.bytes, 0, w.pos));
      }
    }
    this.#store.postWrites();
  }

  /** Releases live snapshots, closes the RocksDB instance and deletes its directory. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    for (const table of this.#tableList) {
      if (table instanceof RocksDBMapTable) table.dropAll();
      else table.cache.clear();
    }
    this.#ctx.dirty = [];
    this.#ctx.pending.length = 0;
    this.#live.clear();
    this.#store.close();
    this.#changelog?.log.close();
  }

  /** Establishes pending snapshots, then writes every changed entry to RocksDB. */
  #writeBackAll(): void {
    for (const s of [...this.#live]) if (!s.established) s.establishSync();
    const ctx = this.#ctx;
    for (const entry of ctx.dirty) if (entry.dirty) entry.writeBack();
    ctx.dirty = [];
    this.#store.postWrites();
  }

  protected stateTable(name: string, kind: StateKind): RocksDBTable {
    const table = this.#table(name, kind);
    if (table instanceof RocksDBMapTable) throw new Error(`internal: map state '${name}' has no entry table`);
    return table;
  }

  /** A map state is stored one entry per user key (rocksdb-map-state.ts), not as one value per key. */
  override getMapState<UK, UV>(d: MapStateDescriptor<UK, UV>): MapState<UK, UV> {
    const table = this.#table(d.name, 'map') as RocksDBMapTable;
    let state = this.#mapStates.get(d.name);
    if (state === undefined) {
      state = new RocksDBMapState(table);
      this.#mapStates.set(d.name, state);
    }
    return state as MapState<UK, UV>;
  }

  #table(name: string, kind: StateKind): StateTable {
    let table = this.#tables.get(name);
    if (table === undefined) {
      if (this.#tableList.length >= MAX_STATES) throw new Error(`too many keyed states (at most ${MAX_STATES} per operator)`);
      const id = this.#tableList.length;
      table = kind === 'map' ? new RocksDBMapTable(id, name, this.#ctx, this.#store) : new RocksDBTable(id, name, kind, this.#ctx, this.#store);
      this.#tables.set(name, table);
      this.#tableList.push(table);
    } else if (table.kind !== kind) {
      throw new Error(`state '${name}' is ${article(table.kind)} state and cannot be used as ${article(kind)} state`);
    }
    return table;
  }

  #alive(): void {
    if (this.#disposed) throw new Error(`${this.where ?? 'RocksDB keyed state backend'}: used after dispose()`);
  }
}
