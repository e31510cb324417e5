/**
 * Checkpoint storage of one job on a local (or locally mounted) file system, in Flink's
 * directory layout:
 *
 *   <state.checkpoints.dir>/<jobId>/
 *     chk-<n>/_metadata   the completed checkpoint n; written last, so its presence marks completion
 *     chk-<n>/<file>      state files exclusive to checkpoint n
 *     shared/             files several checkpoints may reference (incremental snapshots)
 *     taskowned/          files owned by the tasks rather than by any one checkpoint
 *
 *   <savepoint target>/savepoint-<first 6 chars of jobId>-<12 random hex>/
 *     _metadata, <file>…  self-contained: everything a savepoint references lives beside it
 *
 * Every path recorded in metadata is relative — to the job directory for checkpoints, to the
 * savepoint directory for savepoints — so a savepoint directory (or a whole job directory) can
 * be moved or copied and restored from its new place.
 *
 * Durability: every file is written under a temporary name, synced, then renamed into place
 * (atomic-write.ts). Before `_metadata` is published, the directories holding the files it
 * references are synced, so metadata that survived a crash never points at state files that did
 * not; after the rename the checkpoint directory is synced so the completion itself survives
 * (metadata-publisher.ts).
 */
import type { CheckpointId } from '../../core/ids.ts';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { CheckpointMetadata, StateFileHandle } from '../checkpoint-types.ts';
import type { CheckpointListing, CheckpointStorage, ResolvedRestorePath, SavepointWriter, StateFileScope } from '../checkpoint-storage.ts';
import type { StorageHooks } from './atomic-write.ts';
import { inspectCheckpoint, listCheckpointDirs } from './checkpoint-inspection.ts';
import { findLatestCompleteCheckpoint } from './checkpoint-loader.ts';
import { encodeMetadata, referencedFiles } from './metadata-codec.ts';
import { publishMetadata } from './metadata-publisher.ts';
import { createSavepointWriter, writeSavepointStateFile } from './savepoint-writer.ts';
import { FileSystemSharedStateRegistry, SHARED_FOLDER } from './shared-state-registry.ts';
import { readStateFileAt, writeStateFileIn } from './state-file-format.ts';
import { checkCheckpointId, checkFileName, checkJobId, resolveHandle, toLocalPath } from './storage-paths.ts';

export class FileSystemCheckpointStorage implements CheckpointStorage {
  /** Absolute path of `<baseDir>/<jobId>`. */
  readonly jobDir: string;
  readonly jobId: string;
  readonly sharedState: FileSystemSharedStateRegistry;
  readonly #hooks: StorageHooks;
  #layout: Promise<void> | undefined;

  /**
   * `baseDir` is a path (relative ones resolve against the working directory) or a file:// URI;
   * other schemes are refused with an error naming "state.checkpoints.dir". Nothing is created
   * until the first write.
   */
  constructor(baseDir: string, jobId: string, hooks: StorageHooks = {}) {
    checkJobId(jobId);
    this.jobId = jobId;
    this.jobDir = join(toLocalPath(baseDir, 'value for "state.checkpoints.dir"'), jobId);
    this.#hooks = hooks;
    this.sharedState = new FileSystemSharedStateRegistry(this.jobDir);
  }

  /** Absolute path of chk-<checkpointId>. */
  checkpointDir(checkpointId: CheckpointId): string {
    checkCheckpointId(checkpointId);
    return join(this.jobDir, `chk-${checkpointId}`);
  }

  /**
   * Writes one state file of a checkpoint atomically and returns its handle (path relative to
   * the job directory). `name` must be a simple file name. By default the file goes into
   * chk-<n>/ and is removed with the checkpoint; 'shared' and 'taskowned' place it in those
   * job-level directories instead, where the caller owns its lifetime. A shared file's name gets
   * the checkpoint's id in front (`shared/c<n>-<name>`): if checkpoint n is discarded without
   * completing, its shared files that no completed checkpoint references are deleted with it
   * (discardCheckpoint), since a backend reuses only files of completed checkpoints.
   */
  async writeStateFile(
    checkpointId: CheckpointId,
    name: string,
    payload: Uint8Array,
    options: { readonly scope?: StateFileScope } = {},
  ): Promise<StateFileHandle> {
    checkCheckpointId(checkpointId);
    checkFileName(name);
    const scope = options.scope ?? 'exclusive';
    const folder =
      scope === 'exclusive' ? `chk-${checkpointId}` : scope === 'shared' ? SHARED_FOLDER : scope === 'taskowned' ? 'taskowned' : undefined;
    if (folder === undefined) throw new Error(`Unknown state file scope '${String(scope)}'`);
    await this.#ensureLayout();
    const dir = join(this.jobDir, folder);
    await mkdir(dir, { recursive: true });
    const fileName = scope === 'shared' ? `${sharedPrefix(checkpointId)}${name}` : name;
    return writeStateFileIn(dir, `${folder}/${fileName}`, fileName, payload, this.#hooks);
  }

  /**
   * Reads a state file and verifies it against its header and its handle. `root` is the
   * directory the handle's path is relative to: the job directory (default) for checkpoints,
   * the savepoint directory for savepoints.
   */
  async readStateFile(handle: StateFileHandle, root: string = this.jobDir): Promise<Uint8Array> {
    return readStateFileAt(resolveHandle(root, handle), handle);
  }

  /**
   * Completes checkpoint `metadata.checkpointId` by publishing its `_metadata` atomically.
   * The metadata must be of kind 'checkpoint' for this job, reference only relative paths, and
   * the checkpoint must not already be complete. Returns the chk-<n> directory.
   */
  async writeMetadata(metadata: CheckpointMetadata): Promise<string> {
    if (metadata.kind !== 'checkpoint') {
      throw new Error(`Checkpoint storage only writes metadata of kind 'checkpoint', got '${String(metadata.kind)}'`);
    }
    if (metadata.jobId !== this.jobId) {
      throw new Error(`Metadata of job ${String(metadata.jobId)} cannot be written into the checkpoints of job ${this.jobId}`);
    }
    const dir = this.checkpointDir(metadata.checkpointId);
    const text = encodeMetadata(metadata);
    await this.#ensureLayout();
    await mkdir(dir, { recursive: true });
    await publishMetadata(dir, text, metadata, this.jobDir, [this.jobDir], this.#hooks);
    this.sharedState.registerCheckpoint(metadata.checkpointId, referencedFiles(metadata));
    return dir;
  }

  /** Removes chk-<n> with everything in it; nothing happens if it is already gone. */
  async discardCheckpoint(checkpointId: CheckpointId): Promise<void> {
    // A subtask may still be finishing a write into the directory of an aborted checkpoint;
    // rm then meets a file that appeared after it listed the directory, and simply tries again.
    await rm(this.checkpointDir(checkpointId), { recursive: true, force: true, maxRetries: 5, retryDelay: 20 });
    // Shared files written for this checkpoint that no registered checkpoint references: those of
    // a checkpoint that never completed (a completed one is still registered when it is released,
    // so its files are left to the registry's counts).
    const prefix = sharedPrefix(checkpointId);
    let names: string[];
    try {
      names = await readdir(join(this.jobDir, SHARED_FOLDER));
    } catch {
      return;
    }
    for (const name of names) {
      if (name.startsWith(prefix) && this.sharedState.referenceCount(`${SHARED_FOLDER}/${name}`) === 0) {
        await rm(join(this.jobDir, SHARED_FOLDER, name), { force: true });
      }
    }
  }

  async releaseCheckpoint(checkpointId: CheckpointId): Promise<void> {
    await this.discardCheckpoint(checkpointId);
    await this.sharedState.unregisterCheckpoint(checkpointId);
  }

  /**
   * Every chk-* directory of this job, newest first, with a verdict: complete means the metadata
   * reads back with a valid checksum, belongs to this checkpoint, and every file it references is
   * present with the recorded size and header. Payload checksums are not recomputed here (that
   * needs reading all state); loadCheckpoint and findLatestCompleteCheckpoint do that.
   */
  async listCheckpoints(): Promise<CheckpointListing[]> {
    const out: CheckpointListing[] = [];
    for (const { checkpointId, dir } of await listCheckpointDirs(this.jobDir)) {
      const verdict = await inspectCheckpoint(dir, checkpointId, false);
      out.push(verdict.ok ? { checkpointId, dir, ok: true } : { checkpointId, dir, ok: false, problem: verdict.problem });
    }
    return out;
  }

  /** Deletes the whole job directory, checkpoints and shared files alike (DELETE_ON_CANCELLATION). */
  async discardAll(): Promise<void> {
    this.#layout = undefined;
    await rm(this.jobDir, { recursive: true, force: true });
    this.sharedState.clear();
  }

  async latestCompleteCheckpoint(): Promise<ResolvedRestorePath | undefined> {
    const latest = await findLatestCompleteCheckpoint(this.jobDir);
    return latest === undefined ? undefined : { ...latest, searched: true };
  }

  /** Creates `savepoint-<first 6 of jobId>-<12 random hex>` under `targetDir` (a path or file:// URI). */
  createSavepoint(targetDir: string): Promise<SavepointWriter> {
    return createSavepointWriter(targetDir, this.jobId, this.#hooks);
  }

  writeSavepointStateFile(savepointDir: string, name: string, payload: Uint8Array): Promise<StateFileHandle> {
    return writeSavepointStateFile(savepointDir, name, payload, this.#hooks);
  }

  /** Creates the job directory with its shared/ and taskowned/ folders, once. */
  #ensureLayout(): Promise<void> {
    this.#layout ??= (async () => {
      await mkdir(join(this.jobDir, SHARED_FOLDER), { recursive: true });
      await mkdir(join(this.jobDir, 'taskowned'), { recursive: true });
    })().catch((e: unknown) => {
      this.#layout = undefined;
      throw e;
    });
    return this.#layout;
  }
}

/** The name prefix of shared files written for a checkpoint. */
function sharedPrefix(checkpointId: CheckpointId): string {
  return `c${checkpointId}-`;
}
