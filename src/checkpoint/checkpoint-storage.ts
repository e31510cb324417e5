/**
 * The seam between checkpointing and the place checkpoints live (Flink's CheckpointStorage and
 * CheckpointStorageAccess): where the files of a checkpoint or savepoint go, how `_metadata`
 * completes one, how a restore finds one, and when files are deleted.
 *
 * What every implementation promises:
 * - Atomicity: a file (state file or `_metadata`) appears under its final name complete or not
 *   at all; `_metadata` is published last, after everything it references is durable, so its
 *   presence marks a complete checkpoint.
 * - Verification: every state file is checked against the size and checksum its handle records,
 *   and `_metadata` against its own checksum and shape; any mismatch is a CorruptCheckpointError
 *   naming the file and the problem (never garbage handed to a state backend).
 * - Relocation: handles hold paths relative to a root (the job's checkpoint directory, or the
 *   savepoint directory), so a savepoint or a job's directory can be copied elsewhere and
 *   restored from there.
 * - Scopes: a checkpoint's files are 'exclusive' (deleted with it), 'shared' (referenced by
 *   several checkpoints, deleted once no retained checkpoint references them: see
 *   SharedStateRegistry and releaseCheckpoint) or 'taskowned' (owned by the tasks, deleted with the job's directory).
 *   Savepoints are self-contained: all their files live in their own directory, and the job
 *   never deletes a completed one.
 *
 * State backends never see this interface: the runtime hands them a sink (name → handle) and a
 * reader (handle → verified bytes) built from it (state/state-backend.ts).
 */
import type { CheckpointId } from '../core/ids.ts';
import type { StateFileScope } from '../state/state-file.ts';
import type { CheckpointMetadata, StateFileHandle } from './checkpoint-types.ts';

export type { StateFileScope } from '../state/state-file.ts';

/** A checkpoint or savepoint read back and verified. */
export interface LoadedCheckpoint {
  readonly metadata: CheckpointMetadata;
  /** What the metadata's relative paths resolve against (pass it to readStateFile). */
  readonly root: string;
  /** The checkpoint (chk-<n>) or savepoint itself. */
  readonly dir: string;
}

/** A restore path resolved to a checkpoint, with the newer ones that were passed over and why. */
export interface ResolvedRestorePath extends LoadedCheckpoint {
  /**
   * True when the pointer named a directory of checkpoints (a job's, or a base directory with one
   * job) and this is the newest complete one found there; false when it named this one exactly.
   */
  readonly searched: boolean;
  /** Newer checkpoints passed over as partial or corrupt, newest first, with why. */
  readonly skipped: readonly { readonly dir: string; readonly problem: string }[];
}

export interface CheckpointListing {
  readonly checkpointId: CheckpointId;
  readonly dir: string;
  readonly ok: boolean;
  readonly problem?: string;
}

/** One savepoint being written: its own place, its files, its `_metadata`. */
export interface SavepointWriter {
  readonly dir: string;
  /** Handles are relative to the savepoint itself (the plain `name`). */
  writeStateFile(name: string, payload: Uint8Array): Promise<StateFileHandle>;
  /** Publishes `_metadata`, completing the savepoint; returns where the savepoint is. */
  writeMetadata(m: CheckpointMetadata): Promise<string>;
  /** Removes the savepoint, e.g. after it failed (idempotent). */
  discard(): Promise<void>;
}

/**
 * Reference counts of shared files (the hook incremental checkpoints use). A checkpoint
 * registers the shared files its metadata references when it completes (before the completed
 * checkpoint store subsumes older ones, so a file carried over from the previous checkpoint is
 * never unreferenced in between); when a checkpoint leaves retention it is unregistered
 * (CheckpointStorage.releaseCheckpoint), and every shared file no registered checkpoint
 * references any more is deleted. A shared file is never deleted while one references it.
 */
export interface SharedStateRegistry {
  /** Records that `checkpointId` references these files (only 'shared' ones are counted); idempotent per checkpoint. */
  registerCheckpoint(checkpointId: CheckpointId, files: readonly StateFileHandle[]): void;
  /** Drops the references of `checkpointId` and deletes the shared files left unreferenced; returns their paths. */
  unregisterCheckpoint(checkpointId: CheckpointId): Promise<readonly string[]>;
  /** How many registered checkpoints reference the shared file at `path` (a handle's path). */
  referenceCount(path: string): number;
}

/** Finding and reading checkpoints and savepoints, independent of any job. */
export interface CheckpointReader {
  /**
   * Loads exactly the checkpoint or savepoint `pointer` names (its directory or its `_metadata`)
   * and verifies it fully, every referenced file's checksum included.
   */
  loadCheckpoint(pointer: string): Promise<LoadedCheckpoint>;
  /**
   * What a restore starts from: a checkpoint or savepoint as loadCheckpoint reads it, or, for a
   * job's checkpoint directory, its newest complete and valid checkpoint (newer ones that are
   * partial or corrupt are skipped and reported). An error when there is none.
   */
  resolveRestorePath(pointer: string): Promise<ResolvedRestorePath>;
  /** Reads one state file of a loaded checkpoint (`root` as LoadedCheckpoint.root), verified. */
  readStateFile(root: string, handle: StateFileHandle): Promise<Uint8Array>;
  /**
   * Writes one state file's payload to the local file `dest`, verified as readStateFile verifies
   * it, without holding it in memory (a backend that restores files, e.g. RocksDB's SST files).
   */
  copyStatePayload?(root: string, handle: StateFileHandle, dest: string): Promise<void>;
}

/** The checkpoints (and savepoints) of one job. */
export interface CheckpointStorage {
  readonly jobId: string;
  /** Where the job's checkpoints live (the root of their handles). */
  readonly jobDir: string;
  readonly sharedState: SharedStateRegistry;

  /** Where checkpoint `checkpointId`'s exclusive files and `_metadata` go. */
  checkpointDir(checkpointId: CheckpointId): string;
  /**
   * Writes one state file of a checkpoint atomically; `name` must be a simple file name. The
   * handle's path is relative to jobDir.
   */
  writeStateFile(checkpointId: CheckpointId, name: string, payload: Uint8Array, options?: { readonly scope?: StateFileScope }): Promise<StateFileHandle>;
  /** Reads a state file verified against its handle; `root` defaults to jobDir. */
  readStateFile(handle: StateFileHandle, root?: string): Promise<Uint8Array>;
  /**
   * Completes a checkpoint by publishing its `_metadata` (never overwriting one) and registers
   * its shared files. Returns where the checkpoint is.
   */
  writeMetadata(metadata: CheckpointMetadata): Promise<string>;
  /**
   * Removes a checkpoint's own files (an aborted checkpoint, or one being released); its shared
   * files stay, for whoever tracks their references. Idempotent.
   */
  discardCheckpoint(checkpointId: CheckpointId): Promise<void>;
  /**
   * A completed checkpoint leaves retention (subsumed, or discarded at the end of the job):
   * discardCheckpoint, then its shared references are dropped and the shared files no retained
   * checkpoint references any more are deleted. What the completed checkpoint store calls.
   */
  releaseCheckpoint(checkpointId: CheckpointId): Promise<void>;
  /** Every checkpoint of the job, newest first, with a verdict (files' presence and headers, not their payloads). */
  listCheckpoints(): Promise<CheckpointListing[]>;
  /** The newest complete checkpoint, fully verified; undefined when none is. */
  latestCompleteCheckpoint(): Promise<ResolvedRestorePath | undefined>;
  /** Deletes all the job's checkpoints and shared files (the job ended without retention). */
  discardAll(): Promise<void>;

  /** Starts a savepoint under `targetDir` (a target the user chose, or the configured default). */
  createSavepoint(targetDir: string): Promise<SavepointWriter>;
  /** A subtask's write into a savepoint another process started (`savepointDir` as SavepointWriter.dir). */
  writeSavepointStateFile(savepointDir: string, name: string, payload: Uint8Array): Promise<StateFileHandle>;
}

/**
 * Retention: which of the completed checkpoint ids (any order) fall out when only the newest
 * `numRetained` are kept, oldest first.
 */
export function subsumedCheckpoints(completed: readonly number[], numRetained: number): number[] {
  if (!Number.isSafeInteger(numRetained) || numRetained < 1) throw new RangeError(`numRetained must be an integer ≥ 1, got ${String(numRetained)}`);
  const sorted = [...completed].sort((a, b) => a - b);
  return sorted.slice(0, Math.max(0, sorted.length - numRetained));
}
