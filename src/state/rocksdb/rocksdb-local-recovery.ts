/**
 * Task-local recovery of full (canonical) checkpoints of the RocksDB backend (Flink's local
 * recovery of full snapshots).
 *
 * A full checkpoint writes the state in the canonical format to the checkpoint storage
 * (keyed-state-files.ts). With local recovery, the same asynchronous part also keeps a native copy
 * of the instance at the checkpoint's point in time in the subtask's task-local directory
 * (`<localdir>/job-<id>/local/op-<operator>-<subtask>/chk-<n>`, the directory the incremental path
 * uses): RocksDB's files taken with the snapshot's view (rocksdb-snapshot.ts establishWithCopy:
 * SST files hard-linked, the small files copied), the keyed timers in a canonical file of their
 * own, and a manifest (local-recovery.ts: it binds the copy to the checkpoint's files and key
 * groups, is checksummed itself and renamed into place last). Here it also holds the states with
 * their ids and the size and sha256 of every local file.
 *
 * Why a native copy rather than a second copy of the canonical files (Flink's duplicating
 * stream): a restore opens it as it is (hard links, no entry is decoded or written again), which
 * is what makes local recovery faster than reading the storage here, where the storage is often a
 * local disk too; and taking it costs a flush and hard links, not a second write of the state.
 * SST files never change, so each is hashed once per backend (the hashes of files listed again by
 * the next checkpoint are kept).
 *
 * A restore (findFullLocalCopy) looks for a copy whose manifest lists exactly the files being
 * restored and exactly the requested key groups (so rescaling always reads the storage), checks
 * every local file's size and sha256, reads the timers from the local file and, in restoreInto,
 * links the SST files into the fresh backend's instance (RocksDBKeyedStateBackend
 * restoreInstances); the storage's state files are not read. A missing, incomplete or corrupt
 * copy falls back to the storage. Which copies are kept (the newest completed checkpoint's, and
 * newer pending ones) is decided as for incremental checkpoints (the backend's UploadTracker is
 * told of the copy): older copies deleted on completion, the copy deleted on abort, and the job's
 * working directory deleted when the job terminates.
 */
import { copyFile, link, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { StateKind } from '../../api/state.ts';
import type { KeyGroupRange } from '../../core/key-group.ts';
import { sha256Of } from '../../core/payload-digest.ts';
import { decodeValue, encodeValue } from '../../core/record-codec.ts';
import { readKeyedState, writeKeyedState } from '../heap/keyed-state-files.ts';
import { fileMatches, findCopies, manifestName, readManifest, sameFiles, writeManifest as writeManifestFile } from '../local-recovery.ts';
import type { KeyedSnapshotWrite, KeyedSnapshotWriteResult, NativeRestoreOptions, RestoredKeyedState, StateFileSink } from '../state-backend.ts';
import type { StateFileHandle } from '../state-file.ts';
import type { RestoredTimer } from '../timer-snapshot.ts';
import { type IncrementalMeta, type IncrementalSource, NO_STATES, type NativeRestoreTarget, type OldInstance } from './rocksdb-incremental.ts';

const FORMAT = 'weir-rocksdb-local-full/1';
/** The prefix of the manifest's name (local-recovery.ts manifestName). */
const MANIFEST_PREFIX = 'rocksdb-full-';
/** The local timers files' prefix. */
const TIMERS_PREFIX = 'timers';

/** A local file: its name in the copy's directory, size and sha256 (hex). */
interface LocalFile {
  readonly name: string;
  readonly size: number;
  readonly checksum: string;
}

/** What a copy's manifest holds. */
interface FullLocalManifest {
  readonly format: string;
  readonly checkpointId: number;
  readonly keyGroupRange: KeyGroupRange;
  /** The handles of the files the checkpoint wrote to the storage, as its metadata lists them. */
  readonly files: readonly StateFileHandle[];
  readonly states: readonly { readonly name: string; readonly kind: StateKind; readonly id: number }[];
  readonly ssts: readonly LocalFile[];
  /** MANIFEST-*, CURRENT, OPTIONS-* (copies, not links: RocksDB writes such files). */
  readonly small: { readonly manifest: LocalFile; readonly current: LocalFile; readonly options: LocalFile | null };
  /** Canonical timer files (their handles' paths are local names). */
  readonly timers: readonly StateFileHandle[];
}

/** Restores of full checkpoints with local recovery on, in this thread: from a task-local copy, or from the storage (no usable copy). */
export const fullLocalRecoveryStats = { local: 0, remote: 0 };

/** Per keyed backend: SST name → size and sha256 of files hashed for earlier copies (SST files never change). */
const sstHashes = new WeakMap<object, Map<string, { readonly size: number; readonly checksum: string }>>();

/**
 * Writes a full checkpoint of `src` to the storage (`w`) and keeps a native task-local copy of it
 * (see the header). The checkpoint never fails because of the local copy: when the copy cannot be
 * taken or written, it is deleted and only the storage's files are written.
 */
export async function writeFullWithLocalCopy(src: IncrementalSource & { readonly localRecoveryDir: string }, w: KeyedSnapshotWrite & { readonly checkpointId: number }): Promise<KeyedSnapshotWriteResult> {
  const dir = join(src.localRecoveryDir, `chk-${w.checkpointId}`);
  let copy: Awaited<ReturnType<typeof src.snapshot.establishWithCopy>>;
  try {
    copy = await src.snapshot.establishWithCopy(dir);
  } catch {
    copy = undefined;
  }
  if (copy === undefined) {
    // Established before (read first), or the copy failed: no exact copy can be taken now.
    await rm(dir, { recursive: true, force: true });
    await src.snapshot.establish();
    return writeKeyedState(w);
  }
  let result: KeyedSnapshotWriteResult;
  try {
    result = await writeKeyedState(w);
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
  try {
    await writeManifest(src, w, dir, copy, result.files);
    src.uploads.keptLocally(w.checkpointId);
  } catch {
    await rm(dir, { recursive: true, force: true });
  }
  return result;
}

async function writeManifest(
  src: IncrementalSource,
  w: KeyedSnapshotWrite & { readonly checkpointId: number },
  dir: string,
  copy: { readonly manifest: string; readonly options: string | null; readonly ssts: readonly string[] },
  files: readonly StateFileHandle[],
): Promise<void> {
  let known = sstHashes.get(src.snapshot.owner);
  if (known === undefined) {
    known = new Map();
    sstHashes.set(src.snapshot.owner, known);
  }
  const ssts: LocalFile[] = [];
  for (const name of copy.ssts) {
    w.signal?.throwIfAborted();
    const size = (await stat(join(dir, name))).size;
    const hit = known.get(name);
    const checksum = hit !== undefined && hit.size === size ? hit.checksum : await fileChecksum(join(dir, name));
    ssts.push({ name, size, checksum });
  }
  known.clear();
  for (const s of ssts) known.set(s.name, { size: s.size, checksum: s.checksum });
  const timers: StateFileHandle[] = [];
  if (w.timers !== undefined && w.timers.size > 0) {
    const written = await writeKeyedState({ snapshot: NO_STATES, keyGroupRange: w.keyGroupRange, filePrefix: TIMERS_PREFIX, sink: localSink(dir), timers: w.timers });
    timers.push(...written.files);
  }
  const manifest: FullLocalManifest = {
    format: FORMAT,
    checkpointId: w.checkpointId,
    keyGroupRange: src.keyGroupRange,
    files,
    states: src.states.filter((s) => src.snapshot.states.some((x) => x.name === s.name)),
    ssts,
    small: {
      manifest: await localFile(dir, copy.manifest),
      current: await localFile(dir, 'CURRENT'),
      options: copy.options === null ? null : await localFile(dir, copy.options),
    },
    timers,
  };
  // An aborted checkpoint keeps no copy (its directory may have been deleted already).
  w.signal?.throwIfAborted();
  await writeManifestFile(join(dir, manifestName(MANIFEST_PREFIX, files, src.keyGroupRange)), encodeValue(manifest));
}

/** Writes files into the copy's directory, named as asked; handles are local names. */
function localSink(dir: string): StateFileSink {
  return async (name, payload) => {
    await writeFile(join(dir, name), payload);
    return { path: name, size: payload.byteLength, checksum: (await sha256Of(payload)).toString('hex') };
  };
}

async function localFile(dir: string, name: string): Promise<LocalFile> {
  const bytes = await readFile(join(dir, name));
  return { name, size: bytes.byteLength, checksum: (await sha256Of(bytes)).toString('hex') };
}

async function fileChecksum(path: string): Promise<string> {
  return (await sha256Of(await readFile(path))).toString('hex');
}

/** A verified local copy. */
interface FoundCopy {
  readonly dir: string;
  readonly manifest: FullLocalManifest;
  readonly timers: RestoredTimer<unknown>[];
}

/**
 * Looks under `root` (the backend's local directory: `job-*∕local∕op-*∕chk-*`) for a task-local
 * copy of exactly these files and this range whose every file matches its manifest; undefined
 * when there is none (then the caller reads the storage).
 */
export async function findFullLocalCopy(root: string, files: readonly StateFileHandle[], range: KeyGroupRange): Promise<FoundCopy | undefined> {
  const name = manifestName(MANIFEST_PREFIX, files, range);
  for (const dir of await findCopies(root, name)) {
    const found = await verify(dir, name, files, range);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** The copy in `dir` when its manifest is whole, lists these files and range, and every local file matches it. */
async function verify(dir: string, name: string, files: readonly StateFileHandle[], range: KeyGroupRange): Promise<FoundCopy | undefined> {
  try {
    const body = await readManifest(join(dir, name));
    if (body === undefined) return undefined;
    const m = decodeValue(body) as FullLocalManifest;
    if (m?.format !== FORMAT) return undefined;
    if (m.keyGroupRange.start !== range.start || m.keyGroupRange.end !== range.end) return undefined;
    if (!sameFiles(m.files, files)) return undefined;
    const small = [m.small.manifest, m.small.current, ...(m.small.options === null ? [] : [m.small.options])];
    for (const f of [...m.ssts, ...small]) if (!(await fileMatches(join(dir, f.name), f.size, f.checksum))) return undefined;
    const read = async (h: StateFileHandle): Promise<Uint8Array> => {
      const bytes = await readFile(join(dir, h.path));
      if (bytes.byteLength !== h.size || (await sha256Of(bytes)).toString('hex') !== h.checksum) throw new Error(`the local file ${h.path} does not match its manifest`);
      return bytes;
    };
    const timers = m.timers.length > 0 ? (await readKeyedState(m.timers, read, range)).timers : [];
    return { dir, manifest: m, timers };
  } catch {
    return undefined;
  }
}

/**
 * The restored state of a verified local copy: restoreInto makes the copy the fresh RocksDB
 * backend's instance (linking its SST files); `fallback` (a read of the storage) is used instead
 * when the backend is not a RocksDB backend of the copy's key groups or the copy cannot be opened.
 */
export function restoredFromLocal(found: FoundCopy, fallback: () => Promise<RestoredKeyedState>): RestoredKeyedState {
  const m = found.manifest;
  const instance: OldInstance = {
    meta: {
      format: FORMAT,
      checkpointId: m.checkpointId,
      keyGroupRange: m.keyGroupRange,
      states: m.states,
      ssts: [],
      manifest: { name: m.small.manifest.name, bytes: new Uint8Array(0) },
      current: new Uint8Array(0),
      options: null,
    } satisfies IncrementalMeta,
    async download(dir: string): Promise<'local'> {
      await mkdir(dir, { recursive: true });
      for (const sst of m.ssts) await link(join(found.dir, sst.name), join(dir, sst.name));
      const small = [m.small.manifest, m.small.current, ...(m.small.options === null ? [] : [m.small.options])];
      for (const f of small) await copyFile(join(found.dir, f.name), join(dir, f.name));
      return 'local';
    },
    // A full checkpoint's copy holds the whole state: no change log.
    async replay(): Promise<void> {},
  };
  let used = false;
  return {
    get data(): never {
      throw new Error('internal: keyed state restored from a task-local RocksDB copy restores only through restoreInto');
    },
    timers: found.timers,
    states: m.states.map((s) => ({ name: s.name, kind: s.kind })),
    async restoreInto(backend, o?: NativeRestoreOptions) {
      if (used) throw new Error('internal: the restored keyed state was restored into a backend already');
      used = true;
      const target = backend as unknown as Partial<NativeRestoreTarget>;
      const range = backend.keyGroupRange;
      if (typeof target.restoreInstances === 'function' && range.start === m.keyGroupRange.start && range.end === m.keyGroupRange.end) {
        try {
          // Not `o`: the local files are no uploads this job's checkpoints could list again.
          await target.restoreInstances([instance]);
          fullLocalRecoveryStats.local++;
          return;
        } catch {
          // The copy could not be opened: the storage's files are read instead.
        }
      }
      fullLocalRecoveryStats.remote++;
      const remote = await fallback();
      if (remote.restoreInto !== undefined) await remote.restoreInto(backend, o);
      else backend.restore(remote.data);
    },
  };
}
