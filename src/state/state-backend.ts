/**
 * The seam between the runtime and the place state lives (Flink's StateBackend).
 *
 * A state backend makes the state of one operator subtask: its keyed state (key groups of one
 * range) and its operator list state. A snapshot is taken in two parts, as the task drives it:
 * the synchronous part (`KeyedStateBackend.snapshot()`, at the barrier) freezes the state in time
 * independent of its size; the asynchronous part (`writeKeyedSnapshot`) writes the frozen view
 * through a `StateFileSink` and returns the handles of the files written. A restore reads such
 * files back (`readKeyedSnapshot`), for any key-group range, so state written at one parallelism
 * restores at another.
 *
 * The backend never sees the checkpoint storage's layout: it names files by a simple name, the
 * sink decides where they go and returns relative handles, and on restore it is given a reader
 * that turns a handle back into verified bytes. So every backend works with every storage.
 *
 * The runtime resolves the backend once per deployment from the configuration
 * (`state.backend.type`, see state-backend-registry.ts) and hands it to every task.
 */

import type { Configuration } from '../api/configuration.ts';
import type { StateKind } from '../api/state.ts';
import type { KeyGroupRange } from '../core/key-group.ts';
import type { KeyedStateBackend, KeyedStateSnapshot, KeyedStateSnapshotData } from './keyed-state-backend.ts';
import type { OperatorStateBackend } from './operator-state-backend.ts';
import type { StateFileHandle, StateFileScope } from './state-file.ts';
import type { RestoredTimer, TimerSnapshotSet } from './timer-snapshot.ts';

/**
 * Writes one payload as a state file, e.g. (name, payload, options) =>
 * storage.writeStateFile(checkpointId, name, payload, options). The payload is only valid until
 * the returned promise settles: its memory may be reused for a later file. Its sha256 may come
 * with it (see core/payload-digest.ts). The scope defaults to 'exclusive'; a backend that reuses
 * files across checkpoints writes them 'shared' and lists their handles again in later snapshots.
 */
export type StateFileSink = (name: string, payload: Uint8Array, options?: { readonly scope?: StateFileScope }) => Promise<StateFileHandle>;

/** Returns the verified payload of a state file a sink wrote (e.g. storage.readStateFile). */
export type StateFileSource = ((handle: StateFileHandle) => Promise<Uint8Array>) & {
  /**
   * Where the storage can: writes a file's payload to the local file `dest`, verified, without
   * holding it in memory. Backends that restore whole files (RocksDB) use it when present.
   */
  readonly copyTo?: ((handle: StateFileHandle, dest: string) => Promise<void>) | undefined;
};

/** Who a backend is made for: one parallel subtask of one operator. */
export interface StateBackendScope {
  readonly jobId: string;
  /** The operator's stable id (its uid's hash), which names its state in checkpoints. */
  readonly operatorId: string;
  /** The operator's name, for messages. */
  readonly operatorName: string;
  readonly subtaskIndex: number;
  readonly parallelism: number;
}

export interface KeyedStateBackendParameters extends StateBackendScope {
  readonly maxParallelism: number;
  /** The key groups this subtask owns (keyGroupRangeForOperator). */
  readonly keyGroupRange: KeyGroupRange;
}

/** The asynchronous part of a keyed snapshot: what to write and where to. */
export interface KeyedSnapshotWrite {
  /** The frozen view taken by this backend's KeyedStateBackend.snapshot(); not released by the write. */
  readonly snapshot: KeyedStateSnapshot;
  readonly keyGroupRange: KeyGroupRange;
  /** Keyed timers of the operator (already copied synchronously); written with the state. */
  readonly timers?: TimerSnapshotSet<unknown>;
  /** A simple file-name prefix unique to the operator subtask, e.g. `op-3f2a…-1`. */
  readonly filePrefix: string;
  readonly sink: StateFileSink;
  /**
   * 'incremental': the snapshot may list 'shared' files of earlier completed checkpoints again
   * instead of writing them; 'full' (the default, and always for savepoints, whose files must all
   * be their own): everything is written anew. A backend without incremental snapshots ignores it.
   */
  readonly snapshotType?: 'full' | 'incremental';
  /** Aborts the write (e.g. the checkpoint was cancelled): it rejects with the signal's reason. */
  readonly signal?: AbortSignal;
  /**
   * The checkpoint being written (absent for writes outside a checkpoint): a backend that reuses
   * files across checkpoints tracks what it wrote per checkpoint, to reuse it once told that the
   * checkpoint completed (KeyedStateBackend.notifyCheckpointComplete).
   */
  readonly checkpointId?: number;
}

export interface KeyedSnapshotWriteResult {
  readonly files: readonly StateFileHandle[];
  /** Total payload bytes written. */
  readonly bytes: number;
  /** State entries written (one per key and state; timers are not counted). */
  readonly entries: number;
}

/** How native files are restored. */
export interface NativeRestoreOptions {
  /**
   * The files are in the checkpoint storage this job writes to (a restart from one of its own
   * checkpoints): later checkpoints may list the restored 'shared' files again instead of
   * uploading them anew. Otherwise (a savepoint, another job's checkpoint) they may not: their
   * handles are relative to another directory, whose retention this job does not control.
   */
  readonly ownStorage: boolean;
}

export interface RestoredKeyedState {
  /** Ready for KeyedStateBackend.restore(); only key groups inside the requested range. */
  readonly data: KeyedStateSnapshotData[];
  /** Only timers whose key group is inside the range, with `canonical` = canonicalKey(key). */
  readonly timers: RestoredTimer<unknown>[];
  /** States that exist in the files (names and kinds), even when none of their entries fall in the range. */
  readonly states: readonly { readonly name: string; readonly kind: StateKind }[];
  /**
   * Set when the backend that read the files restores them itself, into a fresh keyed backend of
   * its kind, instead of KeyedStateBackend.restore(data): RocksDB's own files of an incremental
   * checkpoint (`data` is then empty), or canonical files that RocksDB has staged as it read them
   * (`data` then decodes the staged entries when first read, for a caller that restores another
   * way). The runtime calls this when it is set.
   */
  readonly restoreInto?: (backend: KeyedStateBackend, o?: NativeRestoreOptions) => Promise<void>;
}

export interface StateBackend {
  /** The configuration name it was resolved from, e.g. 'hashmap'. */
  readonly name: string;

  /** A fresh, empty keyed state backend for one subtask. Throws RangeError for an invalid range. */
  createKeyedStateBackend(p: KeyedStateBackendParameters): KeyedStateBackend;

  /** A fresh, empty operator state backend for one subtask. */
  createOperatorStateBackend(p: StateBackendScope): OperatorStateBackend;

  /**
   * Writes a snapshot taken by a keyed backend this state backend created. Files go through
   * `sink` only; on failure or abort, files already written are left to the caller (who discards
   * the checkpoint).
   */
  writeKeyedSnapshot(w: KeyedSnapshotWrite): Promise<KeyedSnapshotWriteResult>;

  /**
   * Reads files written by writeKeyedSnapshot (of any subtasks, any parallelism) and keeps what
   * belongs to `range`. A malformed file gives a CorruptCheckpointError naming its path.
   */
  readKeyedSnapshot(files: readonly StateFileHandle[], read: StateFileSource, range: KeyGroupRange): Promise<RestoredKeyedState>;

  /**
   * Optional: deletes what the backend keeps of the job outside the checkpoint storage (e.g.
   * RocksDB working directories), in case a task's thread ended without disposing its backend.
   * Called once the job is terminal and its threads are gone.
   */
  releaseJob?(jobId: string): Promise<void>;
}

/** How a backend is registered under a configuration name. */
export interface StateBackendFactory {
  /** The value of `state.backend.type` that selects it (Flink's name where Flink has one). */
  readonly name: string;
  /** Other accepted values of `state.backend.type`. */
  readonly aliases?: readonly string[];
  /** Makes the backend for one job; may read its own options from the configuration. */
  create(config: Configuration): StateBackend;
}
