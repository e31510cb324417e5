/**
 * The contract between keyed operators and the place their keyed state lives.
 *
 * Keyed state is partitioned into key groups (Flink's unit of rescaling): every key belongs to
 * exactly one key group of `maxParallelism`, and a backend owns a contiguous range of them.
 * Snapshots and restores work per state and per key group, so that a snapshot taken by one
 * subtask can be split among (or merged into) the subtasks of a different parallelism.
 */

import type {
  AggregatingState,
  AggregatingStateDescriptor,
  ListState,
  ListStateDescriptor,
  MapState,
  MapStateDescriptor,
  ReducingState,
  ReducingStateDescriptor,
  StateKind,
  ValueState,
  ValueStateDescriptor,
} from '../api/state.ts';
import type { KeyGroupRange } from '../core/key-group.ts';
import type { ByteWriter } from './state-codec.ts';

export interface KeyedStateBackend {
  readonly maxParallelism: number;
  readonly keyGroupRange: KeyGroupRange;

  /**
   * Sets the key that subsequent state access is scoped to. Throws a KeyError for a key that
   * cannot be a stream key, and an error for a key whose key group lies outside
   * `keyGroupRange` (records were routed to the wrong subtask). Called once per record.
   */
  setCurrentKey(key: unknown): void;
  /** The key given to the last setCurrentKey (undefined before the first). */
  getCurrentKey(): unknown;
  /** The key group of the current key (-1 before the first setCurrentKey). */
  getCurrentKeyGroup(): number;
  /**
   * Optional: setCurrentKey for a key whose group the caller already knows, computed from this
   * key with this backend's maxParallelism (a keyBy partitioner's result that travelled with the
   * record): the same checks, without hashing the key again.
   */
  setCurrentKeyInGroup?(key: unknown, keyGroup: number): void;

  /**
   * Requesting the same name twice returns the same state object; requesting a name that
   * already exists with a different kind throws an error naming the state.
   */
  getValueState<T>(d: ValueStateDescriptor<T>): ValueState<T>;
  getListState<T>(d: ListStateDescriptor<T>): ListState<T>;
  getMapState<UK, UV>(d: MapStateDescriptor<UK, UV>): MapState<UK, UV>;
  getReducingState<T>(d: ReducingStateDescriptor<T>): ReducingState<T>;
  getAggregatingState<IN, ACC, OUT>(d: AggregatingStateDescriptor<IN, ACC, OUT>): AggregatingState<IN, OUT>;

  /** Every key that has state under this name (the original key values); none for an unknown name. */
  keys(stateName: string): Iterable<unknown>;

  /**
   * Takes the synchronous part of a snapshot. Costs at most O(number of states + key groups),
   * independent of the amount of state, so that the pause it causes does not grow with state.
   */
  snapshot(): KeyedStateSnapshot;

  /**
   * Loads entries, e.g. from snapshots of other subtasks when rescaling. Entries of key groups
   * outside `keyGroupRange` are ignored; an entry that exists already is overwritten.
   */
  restore(data: Iterable<KeyedStateSnapshotData>): void;

  /** Releases all state and live snapshots; the backend must not be used afterwards. */
  dispose(): void;

  /**
   * Optional, for backends whose state is not in memory: makes the state of these keys readable
   * without waiting, ahead of their use (the input calls it with a record batch's keys before
   * processing it, and suspends the task until the promise settles); undefined when nothing must
   * be read. Only ever an optimisation: every access works without it. `keyGroups`, when given,
   * holds the key group of each key, index by index (as the partitioner computed it), so that
   * they are not hashed again.
   */
  prefetch?(keys: readonly unknown[], keyGroups?: ArrayLike<number>): Promise<void> | undefined;

  /**
   * Optional, with prefetch: about how many keys' state the backend keeps at hand at once (its
   * cache's capacity in keys, estimated from what it holds). A caller that reads ahead in chunks
   * (timers firing: timer-service.ts) keeps each chunk well below it, so a chunk's state is not
   * evicted before it is used.
   */
  prefetchCapacity?(): number;

  /** Optional: checkpoint `checkpointId` completed (files it wrote may be reused by later ones). */
  notifyCheckpointComplete?(checkpointId: number): void;
  /** Optional: checkpoint `checkpointId` was aborted (nothing it wrote may be reused). */
  notifyCheckpointAborted?(checkpointId: number): void;
}

/**
 * Stored representation of one entry's value, as snapshots yield it and restore accepts it:
 * - value, reducing, aggregating: the value or accumulator itself;
 * - list: an array of the elements;
 * - map: a `Map` from the canonical form of each user key to a `[userKey, userValue]` pair
 *   (restore also accepts any iterable of `[userKey, userValue]` pairs).
 */
export interface KeyedStateSnapshot {
  /** The states that existed when the snapshot was taken. */
  readonly states: readonly { readonly name: string; readonly kind: StateKind }[];

  /**
   * The entries of one state in one key group exactly as they were when snapshot() was called,
   * whatever the live state does afterwards. Values are the stored representation and may be
   * shared with the live state: consumers must treat them as read-only.
   */
  entries(stateName: string, keyGroup: number): Iterable<readonly [key: unknown, value: unknown]>;

  /**
   * Optional, for writers: the same entries, encoded with state-codec.ts (per entry: the key,
   * then the value as `writeStored` writes it) straight into the writer's buffer, a part at a
   * time. The entries are fixed when this is called; the live state may change between parts.
   */
  encodedEntries?(stateName: string, keyGroup: number): EncodedEntries;

  /**
   * Optional, for writers that go through the key groups in ascending order: every key group up
   * to `keyGroup` is written and will not be read from this snapshot again, so the backend may
   * stop keeping their old values (reading them afterwards is an error).
   */
  markWritten?(keyGroup: number): void;

  /**
   * Optional, for writers that also use encodedEntries() and markWritten(): hands over the old
   * values the backend has saved since the last call for key groups the writer has not reached,
   * each as (its state's index in `states`, its key group, its encoded key and value in
   * bytes[start, end)), to be written now rather than kept until the writer gets there. The bytes
   * are only valid during the call. encodedEntries() leaves those keys out, so every key is
   * written once; entries() is no longer available afterwards. Keeps what a snapshot holds
   * beside the live state small however long it is being written.
   */
  takeSaved?(take: (state: number, keyGroup: number, bytes: Uint8Array, start: number, end: number) => void): void;

  /** Optional, with takeSaved(): how many bytes the next takeSaved() would hand over, about. */
  savedBytes?(): number;

  /**
   * Optional, for backends whose snapshot is not in memory: reads one state's key group ahead,
   * without blocking, so that the entries()/encodedEntries() call for it that follows needs no
   * synchronous read; undefined when nothing must be read. Writers await it before each.
   */
  prepare?(stateName: string, keyGroup: number): Promise<void> | undefined;

  /** Ends the snapshot: the backend stops preserving its view. Idempotent. */
  release(): void;
}

/** The entries of one state in one key group of a snapshot, encoded on demand. */
export interface EncodedEntries {
  /** Whether every entry has been encoded. */
  readonly done: boolean;
  /** The key of the entry encoded last: the one at fault when encodeInto threw. */
  readonly key: unknown;
  /**
   * Appends entries to `out` until it has grown by at least `maxBytes` or `maxEntries` were
   * added or none are left; returns how many were added. An entry is never split.
   */
  encodeInto(out: ByteWriter, maxBytes: number, maxEntries: number): number;
}

/** The entries of one state in one key group, as written by a snapshot and read by restore. */
export interface KeyedStateSnapshotData {
  readonly name: string;
  readonly kind: StateKind;
  readonly keyGroup: number;
  readonly entries: Iterable<readonly [key: unknown, value: unknown]>;
  /**
   * The values belong to this data alone (e.g. freshly decoded from a checkpoint), so restore may
   * keep them as they are instead of copying them. Absent: the values may be shared.
   */
  readonly owned?: boolean;
}
