/**
 * Incremental checkpoints of the RocksDB backend (Flink's incremental RocksDB checkpoints).
 *
 * A checkpoint of one keyed subtask is a consistent copy of its RocksDB instance's files
 * (rocksdb-snapshot.ts establishWithCopy): the immutable SST files, plus CURRENT, MANIFEST and
 * OPTIONS. SST files never change once written, so an SST file this backend uploaded for a
 * checkpoint that then completed is listed again by later checkpoints (the same 'shared' handle)
 * instead of being uploaded again; only files new since are written. What is reused:
 *
 * - only files of checkpoints this backend was told completed (notifyCheckpointComplete), never
 *   of pending or aborted ones: an aborted checkpoint's files may be deleted at any time;
 * - only files of this job's own checkpoint storage: after a restart from one of the job's own
 *   checkpoints with the same key groups, the restored SST files are listed again (their handles
 *   are this job's); after a restore from a savepoint, another job's checkpoint or with
 *   rescaling, the first checkpoint uploads everything, so a checkpoint never depends on files
 *   whose retention this job does not control.
 *
 * The checkpoint storage counts references to 'shared' files across retained checkpoints (every
 * reused handle is listed in each checkpoint's `_metadata`, with its checksum) and deletes a file
 * once no retained checkpoint lists it. The small files (MANIFEST, CURRENT, OPTIONS) travel inside
 * the subtask's exclusive metadata file (`<prefix>.rdb`); keyed timers go into a keyed state file
 * of their own, in the canonical format.
 *
 * A restore downloads the files into a directory and opens them: with the same key-group range
 * the downloaded instance becomes the working instance as it is; when rescaling, each old
 * instance is opened on the side and the entries of the new range are copied over (the layout
 * puts each state's key group in one key range).
 */
import { createHash, randomBytes } from 'node:crypto';
import { link, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { StateKind } from '../../api/state.ts';
import { withPayloadDigest } from '../../core/payload-digest.ts';
import { decodeValue, encodeValue } from '../../core/record-codec.ts';
import type { KeyGroupRange } from '../../core/key-group.ts';
import { readKeyedState, writeKeyedState } from '../heap/keyed-state-files.ts';
import type { KeyedStateSnapshot } from '../keyed-state-backend.ts';
import { fileMatches } from '../local-recovery.ts';
import type { KeyedSnapshotWrite, KeyedSnapshotWriteResult, NativeRestoreOptions, RestoredKeyedState, StateFileSource } from '../state-backend.ts';
import type { StateFileHandle } from '../state-file.ts';
import { type ChangelogState, type LogTarget, type Materialization, replaySegment, replaySegmentFile } from './rocksdb-changelog.ts';
import type { RocksDBSnapshot } from './rocksdb-snapshot.ts';

/** The suffix of a subtask's incremental checkpoint metadata file. */
export const ROCKSDB_META_SUFFIX = '.rdb';
/**
 * 2: map states are stored one entry per user key (rocksdb-map-state.ts). Files of format 1 hold
 * each key's whole map as one value; they still restore when they have no map state.
 */
const FORMAT = 'weir-rocksdb-incremental/2';
const FORMAT_1 = 'weir-rocksdb-incremental/1';
/** 3: format 2 plus change log segments to replay over the SST files (rocksdb-changelog.ts). */
const FORMAT_3 = 'weir-rocksdb-incremental/3';
/** The suffix of an uploaded change log segment. */
const LOG_SUFFIX = '.clog';

/** What a subtask's `.rdb` file holds. */
export interface IncrementalMeta {
  readonly format: string;
  /**
   * The checkpoint whose SST files these are (the checkpoint itself, or with a change log the
   * materialization it builds on): names the task-local copy (local recovery).
   */
  readonly checkpointId: number;
  readonly keyGroupRange: KeyGroupRange;
  /** Every state with its id (the first two bytes of its keys). */
  readonly states: readonly { readonly name: string; readonly kind: StateKind; readonly id: number }[];
  /** Every live SST file: its local name and the handle of its uploaded copy. */
  readonly ssts: readonly { readonly name: string; readonly file: StateFileHandle }[];
  readonly manifest: { readonly name: string; readonly bytes: Uint8Array };
  readonly current: Uint8Array;
  readonly options: { readonly name: string; readonly bytes: Uint8Array } | null;
  /** Format 3: change log segments written after the SST files, replayed over them in order. */
  readonly changelog?: readonly StateFileHandle[];
}

/** What one backend uploaded, per checkpoint, and which of it may be reused. */
export class UploadTracker {
  /** Local SST name → its upload, from completed checkpoints. */
  readonly #confirmed = new Map<string, { readonly file: StateFileHandle; readonly size: number }>();
  /** Checkpoint → its uploads, until it completes or is aborted. */
  readonly #pending = new Map<number, Map<string, { readonly file: StateFileHandle; readonly size: number }>>();

  reusable(name: string, size: number): StateFileHandle | undefined {
    const u = this.#confirmed.get(name);
    return u !== undefined && u.size === size ? u.file : undefined;
  }

  record(checkpointId: number, name: string, file: StateFileHandle, size: number): void {
    let m = this.#pending.get(checkpointId);
    if (m === undefined) {
      m = new Map();
      this.#pending.set(checkpointId, m);
    }
    m.set(name, { file, size });
  }

  /**
   * Checkpoint → the files it listed (its live SST files, and change log segments), and whether
   * it kept a task-local copy of them, until it completes or is aborted.
   */
  readonly #listed = new Map<number, { readonly names: ReadonlySet<string>; readonly localCopy: boolean }>();

  /** What checkpoint `checkpointId` listed, reused or not; `localCopy`: false for a change log checkpoint, which keeps none. */
  listed(checkpointId: number, names: readonly string[], localCopy = true): void {
    this.#listed.set(checkpointId, { names: new Set(names), localCopy });
  }

  /** Pending checkpoints this backend kept a task-local copy of as full checkpoints (rocksdb-local-recovery.ts). */
  readonly #localFull = new Set<number>();

  /** Checkpoint `checkpointId` was written in full, with a task-local copy. */
  keptLocally(checkpointId: number): void {
    this.#localFull.add(checkpointId);
  }

  /**
   * Files of `checkpointId` (and of earlier pending ones it subsumes) become reusable, and files
   * it no longer listed (compacted away, never listed again) are forgotten. Answers whether this
   * backend wrote that checkpoint with a task-local copy (incrementally, or in full with local
   * recovery), so that older copies can go.
   */
  complete(checkpointId: number): boolean {
    const local = this.#localFull.has(checkpointId);
    for (const id of [...this.#localFull]) if (id <= checkpointId) this.#localFull.delete(id);
    for (const [id, uploads] of [...this.#pending]) {
      if (id > checkpointId) continue;
      this.#pending.delete(id);
      if (id === checkpointId) for (const [name, u] of uploads) this.#confirmed.set(name, u);
    }
    const live = this.#listed.get(checkpointId);
    if (live !== undefined) for (const name of [...this.#confirmed.keys()]) if (!live.names.has(name)) this.#confirmed.delete(name);
    for (const id of [...this.#listed.keys()]) if (id <= checkpointId) this.#listed.delete(id);
    return live?.localCopy === true || local;
  }

  abort(checkpointId: number): void {
    this.#localFull.delete(checkpointId);
    this.#pending.delete(checkpointId);
    this.#listed.delete(checkpointId);
  }

  /** Files of a restored checkpoint of this job's own storage: reusable like completed uploads. */
  adopt(files: readonly { readonly name: string; readonly file: StateFileHandle }[]): void {
    for (const f of files) this.#confirmed.set(f.name, { file: f.file, size: f.file.size });
  }
}

/** What the writer needs of the keyed backend that took the snapshot. */
export interface IncrementalSource {
  readonly snapshot: RocksDBSnapshot;
  readonly uploads: UploadTracker;
  /** With local recovery: the subtask's task-local directory, where the copy is kept as `chk-<n>`. */
  readonly localRecoveryDir: string | undefined;
  /** The working instance's directory: copies go beside it. */
  readonly path: string;
  readonly keyGroupRange: KeyGroupRange;
  readonly states: readonly { readonly name: string; readonly kind: StateKind; readonly id: number }[];
  /** With `state.backend.changelog.enabled`: the backend's change log and its materializations. */
  readonly changelog: ChangelogState<IncrementalMeta> | undefined;
}

/**
 * Writes an incremental checkpoint of `src`; undefined when the snapshot can no longer be copied
 * exactly (it was established before), in which case the caller writes a full one.
 */
export async function writeIncremental(src: IncrementalSource, w: KeyedSnapshotWrite & { readonly checkpointId: number }): Promise<KeyedSnapshotWriteResult | undefined> {
  const dir = src.localRecoveryDir === undefined ? `${src.path}-chk-${w.checkpointId}` : join(src.localRecoveryDir, `chk-${w.checkpointId}`);
  const copy = await src.snapshot.establishWithCopy(dir);
  if (copy === undefined) return undefined;
  let keep = false;
  try {
    const files: StateFileHandle[] = [];
    let bytes = 0;
    const ssts: { name: string; file: StateFileHandle }[] = [];
    for (const name of copy.ssts) {
      const path = join(dir, name);
      const { file, uploaded } = await uploadShared(src.uploads, w, name, path, (await stat(path)).size, name);
      bytes += uploaded;
      ssts.push({ name, file });
      files.push(file);
    }
    src.uploads.listed(w.checkpointId, copy.ssts);
    const meta: IncrementalMeta = {
      format: FORMAT,
      checkpointId: w.checkpointId,
      keyGroupRange: src.keyGroupRange,
      states: src.states.filter((s) => src.snapshot.states.some((x) => x.name === s.name)),
      ssts,
      manifest: { name: copy.manifest, bytes: await readFile(join(dir, copy.manifest)) },
      current: await readFile(join(dir, 'CURRENT')),
      options: copy.options === null ? null : { name: copy.options, bytes: await readFile(join(dir, copy.options)) },
    };
    bytes += await writeMetaAndTimers(meta, files, w);
    src.changelog?.materializing({ checkpointId: w.checkpointId, cut: src.snapshot.cut, meta });
    // The copy stays as the task-local copy until a later checkpoint completes (local recovery).
    keep = src.localRecoveryDir !== undefined;
    return { files, bytes, entries: 0 };
  } finally {
    if (!keep) await rm(dir, { recursive: true, force: true });
  }
}

/**
 * The shared file of a local file (an SST file, a change log segment) known to `uploads` as
 * `name`: the handle of its upload by a completed checkpoint when one is reusable, else uploaded
 * now as `<prefix>-<random>-<fileName>` and recorded for this checkpoint. `uploaded`: bytes written.
 */
async function uploadShared(
  uploads: UploadTracker,
  w: KeyedSnapshotWrite & { readonly checkpointId: number },
  name: string,
  path: string,
  size: number,
  fileName: string,
): Promise<{ readonly file: StateFileHandle; readonly uploaded: number }> {
  w.signal?.throwIfAborted();
  const reused = uploads.reusable(name, size);
  if (reused !== undefined) return { file: reused, uploaded: 0 };
  const payload = await hashedFile(path);
  const file = await w.sink(`${w.filePrefix}-${randomBytes(4).toString('hex')}-${fileName}`, payload, { scope: 'shared' });
  uploads.record(w.checkpointId, name, file, size);
  return { file, uploaded: payload.byteLength };
}

/** Writes the subtask's metadata file (first in `files`) and its timers (last); answers the bytes written. */
async function writeMetaAndTimers(meta: IncrementalMeta, files: StateFileHandle[], w: KeyedSnapshotWrite): Promise<number> {
  const encoded = encodeValue(meta);
  files.unshift(await w.sink(`${w.filePrefix}${ROCKSDB_META_SUFFIX}`, encoded));
  let bytes = encoded.byteLength;
  if (w.timers !== undefined && w.timers.size > 0) {
    const timers = await writeKeyedState({ snapshot: NO_STATES, keyGroupRange: w.keyGroupRange, filePrefix: `${w.filePrefix}-timers`, sink: w.sink, timers: w.timers });
    files.push(...timers.files);
    bytes += timers.bytes;
  }
  return bytes;
}

/**
 * Writes a change log checkpoint of `src` on top of materialization `base` (rocksdb-changelog.ts):
 * the base's SST files listed again, and the log's segments after the base's cut up to the
 * snapshot's, each uploaded once (segments of completed checkpoints are listed again).
 */
export async function writeChangelog(
  src: IncrementalSource & { readonly changelog: ChangelogState<IncrementalMeta> },
  base: Materialization<IncrementalMeta>,
  w: KeyedSnapshotWrite & { readonly checkpointId: number },
): Promise<KeyedSnapshotWriteResult> {
  await src.snapshot.establish();
  const cut = src.snapshot.cut;
  if (cut < base.cut) throw new Error(`internal: snapshot of checkpoint ${w.checkpointId} cut the change log at ${cut}, before its base's cut ${base.cut}`);
  const release = src.changelog.log.hold();
  try {
    return await writeLogCheckpoint(src, base, cut, w);
  } finally {
    release();
  }
}

async function writeLogCheckpoint(
  src: IncrementalSource & { readonly changelog: ChangelogState<IncrementalMeta> },
  base: Materialization<IncrementalMeta>,
  cut: number,
  w: KeyedSnapshotWrite & { readonly checkpointId: number },
): Promise<KeyedSnapshotWriteResult> {
  const files: StateFileHandle[] = base.meta.ssts.map((s) => s.file);
  const names = base.meta.ssts.map((s) => s.name);
  const segments: StateFileHandle[] = [];
  let bytes = 0;
  for (const seg of src.changelog.log.segments(base.cut, cut)) {
    const name = `log-${seg.seq}`;
    const { file, uploaded } = await uploadShared(src.uploads, w, name, seg.path, seg.size, `${name}${LOG_SUFFIX}`);
    bytes += uploaded;
    segments.push(file);
    names.push(name);
    files.push(file);
  }
  src.uploads.listed(w.checkpointId, names, false);
  const meta: IncrementalMeta = {
    ...base.meta,
    format: FORMAT_3,
    states: src.states.filter((s) => src.snapshot.states.some((x) => x.name === s.name)),
    changelog: segments,
  };
  bytes += await writeMetaAndTimers(meta, files, w);
  return { files, bytes, entries: 0 };
}

/**
 * Whether the task-local copy in `dir` holds exactly the SST files `meta` lists (size and
 * sha256 of each); a missing or corrupt copy is not used.
 */
export async function localCopyMatches(dir: string, meta: IncrementalMeta): Promise<boolean> {
  for (const sst of meta.ssts) if (!(await fileMatches(join(dir, sst.name), sst.file.size, sst.file.checksum))) return false;
  return true;
}

/** A snapshot with no states: the timers of an incremental checkpoint (or of a task-local copy) are written with it. */
export const NO_STATES: KeyedStateSnapshot = { states: [], entries: () => [], release() {} };

/** Whether a keyed snapshot's files are an incremental RocksDB checkpoint. */
export function isIncremental(files: readonly StateFileHandle[]): boolean {
  return files.some((f) => f.path.endsWith(ROCKSDB_META_SUFFIX));
}

/** One old subtask's instance, ready to download. */
export interface OldInstance {
  readonly meta: IncrementalMeta;
  /**
   * Writes the instance's files into `dir` (created). With `local`, a task-local copy of the same
   * checkpoint: its SST files are hard-linked from there when they all match, and only the small
   * files are written; answers whether the local copy was used.
   */
  download(dir: string, local?: string): Promise<'local' | 'remote'>;
  /**
   * Applies the instance's change log segments (format 3; none before) to `target`, in order,
   * after download; `settle` runs after each segment (a writer bounds what it has in flight).
   * Where the storage copies files (StateFileSource.copyTo), each segment is copied, verified,
   * into the directory `scratch` and replayed from there a slice at a time (`target.flush()`
   * between slices), so a segment never needs memory of its size.
   */
  replay(target: LogTarget & { flush(): void }, settle: () => Promise<void>, scratch: string): Promise<void>;
}

/** What restoreInto needs of the RocksDB keyed backend. */
export interface NativeRestoreTarget {
  restoreInstances(instances: readonly OldInstance[], o?: NativeRestoreOptions): Promise<void>;
}

/**
 * Reads an incremental checkpoint's files for `range`: the timers (canonical files) now, the
 * instances when restoreInto runs. Old instances whose key groups miss the range are skipped.
 */
export async function readIncremental(files: readonly StateFileHandle[], read: StateFileSource, range: KeyGroupRange): Promise<RestoredKeyedState> {
  const metas: IncrementalMeta[] = [];
  const others: StateFileHandle[] = [];
  for (const f of files) {
    if (!f.path.endsWith(ROCKSDB_META_SUFFIX)) {
      if (!f.path.endsWith('.sst') && !f.path.endsWith(LOG_SUFFIX)) others.push(f);
      continue;
    }
    const meta = decodeValue(await read(f)) as IncrementalMeta;
    if (meta?.format === FORMAT_1 && meta.states.some((s) => s.kind === 'map')) {
      throw new Error(
        `${f.path} is a RocksDB incremental checkpoint that stores map states in an older layout (one value per key), which this version does not read; restore from a savepoint instead`,
      );
    }
    if (meta?.format !== FORMAT && meta?.format !== FORMAT_1 && meta?.format !== FORMAT_3) {
      throw new Error(`${f.path} is not a RocksDB incremental checkpoint file of a format this version reads (${String(meta?.format)})`);
    }
    metas.push(meta);
  }
  const timers = others.length > 0 ? await readKeyedState(others, read, range) : undefined;
  const states = new Map<string, StateKind>();
  for (const m of metas) for (const s of m.states) states.set(s.name, s.kind);
  const overlapping = metas.filter((m) => m.keyGroupRange.start <= range.end && m.keyGroupRange.end >= range.start);
  const instances: OldInstance[] = overlapping.map((meta) => ({
    meta,
    async download(dir: string, local?: string): Promise<'local' | 'remote'> {
      await mkdir(dir, { recursive: true });
      const fromLocal = local !== undefined && (await localCopyMatches(local, meta));
      for (const sst of meta.ssts) {
        if (fromLocal) await link(join(local, sst.name), join(dir, sst.name));
        else if (read.copyTo !== undefined) await read.copyTo(sst.file, join(dir, sst.name));
        else await writeFile(join(dir, sst.name), await read(sst.file));
      }
      await writeFile(join(dir, meta.manifest.name), meta.manifest.bytes);
      await writeFile(join(dir, 'CURRENT'), meta.current);
      if (meta.options !== null) await writeFile(join(dir, meta.options.name), meta.options.bytes);
      return fromLocal ? 'local' : 'remote';
    },
    async replay(target: LogTarget & { flush(): void }, settle: () => Promise<void>, scratch: string): Promise<void> {
      for (const segment of meta.changelog ?? []) {
        if (read.copyTo !== undefined) {
          await mkdir(scratch, { recursive: true });
          const local = join(scratch, 'segment.log');
          try {
            await read.copyTo(segment, local);
            await replaySegmentFile(local, segment.path, target);
          } finally {
            await rm(local, { force: true });
          }
        } else replaySegment(await read(segment), segment.path, target);
        await settle();
      }
    },
  }));
  return {
    data: [],
    timers: timers?.timers ?? [],
    states: [...states].map(([name, kind]) => ({ name, kind })),
    async restoreInto(backend, o) {
      const target = backend as unknown as Partial<NativeRestoreTarget>;
      if (typeof target.restoreInstances !== 'function') {
        throw new Error(
          'this checkpoint holds RocksDB files (an incremental checkpoint) and restores only on the RocksDB state backend (state.backend.type: rocksdb); to change backends, restore from a savepoint',
        );
      }
      await target.restoreInstances(instances, o);
    },
  };
}

/** Bytes hashed per slice of the task thread while an SST file is prepared for upload. */
const HASH_SLICE = 1 << 20;

/**
 * An SST file's bytes with their sha256 attached (payload-digest.ts), hashed a slice at a time
 * between turns of the task, so that the storage neither hashes nor copies a file of tens of MB
 * in one go on the thread that processes records.
 */
async function hashedFile(path: string): Promise<Uint8Array> {
  const payload = await readFile(path);
  const hash = createHash('sha256');
  for (let i = 0; i < payload.byteLength; i += HASH_SLICE) {
    hash.update(payload.subarray(i, Math.min(payload.byteLength, i + HASH_SLICE)));
    if (i + HASH_SLICE < payload.byteLength) await new Promise((resolve) => setImmediate(resolve));
  }
  return withPayloadDigest(payload, hash.digest());
}
