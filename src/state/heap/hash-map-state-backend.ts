/**
 * The heap state backend (Flink's HashMapStateBackend): keyed state lives in copy-on-write
 * tables on the JavaScript heap (heap-keyed-state-backend.ts), snapshots are frozen in O(states +
 * key groups) at the barrier and written asynchronously, time-sliced, in the keyed state file
 * format (keyed-state-files.ts). Every checkpoint writes the full state (no incremental files).
 */
import type { Configuration } from '../../api/configuration.ts';
import type { KeyGroupRange } from '../../core/key-group.ts';
import type { KeyedStateBackend } from '../keyed-state-backend.ts';
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
import { readKeyedState, writeKeyedState } from './keyed-state-files.ts';

export class HashMapStateBackend implements StateBackend {
  readonly name = 'hashmap';

  createKeyedStateBackend(p: KeyedStateBackendParameters): KeyedStateBackend {
    return new HeapKeyedStateBackend({ maxParallelism: p.maxParallelism, keyGroupRange: p.keyGroupRange, where: p.operatorName });
  }

  createOperatorStateBackend(): OperatorStateBackend {
    return new DefaultOperatorStateBackend();
  }

  writeKeyedSnapshot(w: KeyedSnapshotWrite): Promise<KeyedSnapshotWriteResult> {
    return writeKeyedState(w);
  }

  readKeyedSnapshot(files: readonly StateFileHandle[], read: StateFileSource, range: KeyGroupRange): Promise<RestoredKeyedState> {
    return readKeyedState(files, read, range);
  }
}

/** Registered as `state.backend.type: hashmap`; the backend has no options of its own. */
export const HASH_MAP_STATE_BACKEND: StateBackendFactory = {
  name: 'hashmap',
  create: (_config: Configuration) => new HashMapStateBackend(),
};
