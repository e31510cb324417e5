/**
 * Task-local recovery for the heap backend (Flink's local recovery of HashMapStateBackend
 * snapshots): each file a checkpoint writes to the storage is also written, byte for byte, into
 * the subtask's task-local copy (Flink's duplicating output stream), and a manifest binds the copy
 * to the checkpoint (local-recovery.ts). A duplicate has the storage file's bytes, so it is checked
 * against the handle the checkpoint's metadata holds (size and sha256): a restart of the same key
 * groups reads every file from the copy, and any file that is missing or does not match is read
 * from the storage instead (a missing or torn manifest, or another range: every file). The heap
 * restores canonical files by decoding them either way, so what local recovery saves is the read
 * of the storage (a remote file system, an object store), not the decoding.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { KeyGroupRange } from '../../core/key-group.ts';
import { sha256Of } from '../../core/payload-digest.ts';
import { decodeValue, encodeValue } from '../../core/record-codec.ts';
import { findCopies, type LocalCopies, manifestName, readManifest, sameFiles, writeManifest } from '../local-recovery.ts';
import type { KeyedSnapshotWrite, KeyedSnapshotWriteResult, RestoredKeyedState, StateFileSink, StateFileSource } from '../state-backend.ts';
import type { StateFileHandle } from '../state-file.ts';

const FORMAT = 'weir-heap-local/1';
const MANIFEST_PREFIX = 'heap-';

interface HeapLocalManifest {
  readonly format: string;
  readonly checkpointId: number;
  readonly keyGroupRange: KeyGroupRange;
  /** The checkpoint's files, each with the name of its duplicate in the copy's directory. */
  readonly files: readonly { readonly handle: StateFileHandle; readonly name: string }[];
}

/** Restores with local recovery on, in this thread: every file from the copy, or at least one from the storage. */
export const heapLocalRecoveryStats = { local: 0, remote: 0 };

/**
 * Writes a snapshot through `write` (to the storage) and a duplicate of every file into
 * `copies`' copy of checkpoint `w.checkpointId`. The checkpoint never fails because of the copy:
 * a copy that cannot be written whole is deleted.
 */
export async function writeWithLocalCopy(
  w: KeyedSnapshotWrite & { readonly checkpointId: number },
  copies: LocalCopies,
  write: (w: KeyedSnapshotWrite) => Promise<KeyedSnapshotWriteResult>,
): Promise<KeyedSnapshotWriteResult> {
  const dir = copies.copyDir(w.checkpointId);
  let whole = true;
  try {
    await mkdir(dir, { recursive: true });
  } catch {
    whole = false;
  }
  const names = new Map<string, string>();
  let written = 0;
  const sink: StateFileSink = async (name, payload, options) => {
    // The payload is only valid until this settles: both writes finish before it does. Writes
    // may overlap (one file written while the next is serialised): numbered as they start.
    const local = `${written++}-${name.replace(/[^A-Za-z0-9._-]/g, '_')}`;
    const [handle] = await Promise.all([
      w.sink(name, payload, options),
      whole
        ? writeFile(join(dir, local), payload).catch(() => {
            whole = false;
          })
        : undefined,
    ]);
    names.set(handle.path, local);
    return handle;
  };
  let result: KeyedSnapshotWriteResult;
  try {
    result = await write({ ...w, sink });
  } catch (e) {
    await copies.discard(w.checkpointId);
    throw e;
  }
  try {
    if (!whole) throw new Error('incomplete copy');
    // An aborted checkpoint keeps no copy (its directory may have been deleted already).
    w.signal?.throwIfAborted();
    const manifest: HeapLocalManifest = {
      format: FORMAT,
      checkpointId: w.checkpointId,
      keyGroupRange: w.keyGroupRange,
      files: result.files.map((handle) => ({ handle, name: names.get(handle.path)! })),
    };
    if (manifest.files.some((f) => f.name === undefined)) throw new Error('a file of the checkpoint has no duplicate');
    await writeManifest(join(dir, manifestName(MANIFEST_PREFIX, result.files, w.keyGroupRange)), encodeValue(manifest));
    copies.kept(w.checkpointId);
  } catch {
    await copies.discard(w.checkpointId);
  }
  return result;
}

/**
 * Reads `files` for `range` through `readFiles`, each file from a task-local copy under `root`
 * when one of exactly these files and range exists and the duplicate matches its handle, else
 * from the storage (`read`).
 */
export async function readWithLocalCopy(
  root: string,
  files: readonly StateFileHandle[],
  read: StateFileSource,
  range: KeyGroupRange,
  readFiles: (files: readonly StateFileHandle[], read: StateFileSource, range: KeyGroupRange) => Promise<RestoredKeyedState>,
): Promise<RestoredKeyedState> {
  const name = manifestName(MANIFEST_PREFIX, files, range);
  let copy: { readonly dir: string; readonly names: ReadonlyMap<string, string> } | undefined;
  for (const dir of await findCopies(root, name)) {
    const body = await readManifest(join(dir, name));
    if (body === undefined) continue;
    try {
      const m = decodeValue(body) as HeapLocalManifest;
      if (m?.format !== FORMAT || m.keyGroupRange.start !== range.start || m.keyGroupRange.end !== range.end) continue;
      if (!sameFiles(m.files.map((f) => f.handle), files)) continue;
      copy = { dir, names: new Map(m.files.map((f) => [f.handle.path, f.name])) };
      break;
    } catch {
      // Not a manifest this version reads.
    }
  }
  if (copy === undefined) {
    heapLocalRecoveryStats.remote++;
    return readFiles(files, read, range);
  }
  const found = copy;
  let fromStorage = 0;
  const readLocal: StateFileSource = async (h) => {
    const local = found.names.get(h.path);
    if (local !== undefined) {
      try {
        const bytes = await readFile(join(found.dir, local));
        if (bytes.byteLength === h.size && (await sha256Of(bytes)).toString('hex') === h.checksum) return bytes;
      } catch {
        // Missing: read from the storage.
      }
    }
    fromStorage++;
    return read(h);
  };
  const restored = await readFiles(files, readLocal, range);
  if (fromStorage === 0) heapLocalRecoveryStats.local++;
  else heapLocalRecoveryStats.remote++;
  return restored;
}
