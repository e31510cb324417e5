/**
 * The heap state backend (Flink's HashMapStateBackend): keyed state lives in copy-on-write
 * tables on the JavaScript heap (heap-keyed-state-backend.ts), snapshots are frozen in O(states +
 * key groups) at the barrier and written asynchronously, time-sliced, in the keyed state file
 * format (keyed-state-files.ts). Every checkpoint writes the full state (no incremental files).
 * With local recovery, each checkpoint's files are also kept in a task-local copy
 * (heap-local-recovery.ts).
 */
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { ConfigError, type Configuration } from '../../api/configuration.ts';
import type { KeyGroupRange } from '../../core/key-group.ts';
import type { KeyedStateBackend } from '../keyed-state-backend.ts';
import { LocalCopies, localRecoveryDir } from '../local-recovery.ts';
import { DefaultOperatorStateBackend, type OperatorStateBackend } from '../operator-state-backend.ts';
import type {
  KeyedSnapshotWrite,
  KeyedSnapshotWriteResult,
  KeyedStateBackendParameters,
  RestoredKeyedState,
  StateBackend,
  StateBackendFactory,
  StateFileSource,
} from '../state-backend.ts';
import type { StateFileHandle } from '../state-file.ts';
import { HeapKeyedStateBackend } from './heap-keyed-state-backend.ts';
import { readWithLocalCopy, writeWithLocalCopy } from './heap-local-recovery.ts';
import { readKeyedState, writeKeyedState } from './keyed-state-files.ts';

export interface HashMapStateBackendOptions {
  /** Task-local recovery (`state.backend.local-recovery`): heap-local-recovery.ts. */
  readonly localRecovery?: boolean;
  /** Root of the task-local copies; default `weir-local-recovery` under the OS temporary directory. */
  readonly localRoot?: string;
}

export class HashMapStateBackend implements StateBackend {
  readonly name = 'hashmap';
  readonly #localRoot: string | undefined;

  constructor(o: HashMapStateBackendOptions = {}) {
    this.#localRoot = o.localRecovery === true ? (o.localRoot ?? join(tmpdir(), 'weir-local-recovery')) : undefined;
  }

  createKeyedStateBackend(p: KeyedStateBackendParameters): KeyedStateBackend {
    const root = this.#localRoot;
    const localCopies = root === undefined ? undefined : new LocalCopies(localRecoveryDir(root, p.jobId, p.operatorId, p.subtaskIndex));
    return new HeapKeyedStateBackend({ maxParallelism: p.maxParallelism, keyGroupRange: p.keyGroupRange, where: p.operatorName, localCopies });
  }

  createOperatorStateBackend(): OperatorStateBackend {
    return new DefaultOperatorStateBackend();
  }

  writeKeyedSnapshot(w: KeyedSnapshotWrite): Promise<KeyedSnapshotWriteResult> {
    const copies = LocalCopies.of(w.snapshot);
    if (copies !== undefined && w.checkpointId !== undefined) return writeWithLocalCopy({ ...w, checkpointId: w.checkpointId }, copies, writeKeyedState);
    return writeKeyedState(w);
  }

  readKeyedSnapshot(files: readonly StateFileHandle[], read: StateFileSource, range: KeyGroupRange): Promise<RestoredKeyedState> {
    if (this.#localRoot !== undefined && files.length > 0) return readWithLocalCopy(this.#localRoot, files, read, range, readKeyedState);
    return readKeyedState(files, read, range);
  }

  /** Deletes the job's task-local copies (local recovery). */
  async releaseJob(jobId: string): Promise<void> {
    if (this.#localRoot !== undefined) await rm(join(this.#localRoot, `job-${jobId}`), { recursive: true, force: true });
  }
}

/** A directory given as a path or a file:// URI. */
function localPath(dir: string): string {
  return dir.startsWith('file:') ? fileURLToPath(dir) : dir;
}

/** Registered as `state.backend.type: hashmap`; its options are `state.backend.local-recovery` and `taskmanager.state.local.root-dirs`. */
export const HASH_MAP_STATE_BACKEND: StateBackendFactory = {
  name: 'hashmap',
  create: (config: Configuration) => {
    if (config.get('state.backend.changelog.enabled')) {
      throw new ConfigError(
        'state.backend.changelog.enabled: the change log is kept by the RocksDB state backend only (state.backend.type: rocksdb); the heap backend checkpoints its state in full',
      );
    }
    const root = config.get('taskmanager.state.local.root-dirs');
    return new HashMapStateBackend({ localRecovery: config.get('state.backend.local-recovery'), ...(root === undefined ? {} : { localRoot: localPath(root) }) });
  },
};
