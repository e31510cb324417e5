/**
 * What the keyed state backends whose states are tables of entries (entry-table.ts: the heap
 * backend and the RocksDB backend) share: the state objects made from a state's table, one per
 * name, with the same semantics whatever holds the entries. A backend supplies the table of a
 * name (creating it, or refusing a name registered with another kind).
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
import type { EntryTable } from './entry-table.ts';
import { describeKey } from './heap/heap-state-messages.ts';
import { HeapAggregatingState } from './heap/heap-aggregating-state.ts';
import { HeapListState } from './heap/heap-list-state.ts';
import { HeapMapState } from './heap/heap-map-state.ts';
import { HeapReducingState } from './heap/heap-reducing-state.ts';
import { HeapValueState } from './heap/heap-value-state.ts';

export abstract class EntryTableBackend {
  readonly maxParallelism: number;
  readonly keyGroupRange: KeyGroupRange;
  /** Names the owner in error messages (e.g. the operator). */
  protected readonly where: string | undefined;
  readonly #states = new Map<string, unknown>();

  /** RangeError for a max parallelism that is not a positive integer or a range outside it. */
  constructor(maxParallelism: number, keyGroupRange: KeyGroupRange, where: string | undefined) {
    if (!Number.isInteger(maxParallelism) || maxParallelism < 1) {
      throw new RangeError(`maxParallelism must be a positive integer, got ${maxParallelism}`);
    }
    const { start, end } = keyGroupRange;
    if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end < start || end >= maxParallelism) {
      throw new RangeError(`invalid key group range ${start}..${end} for maxParallelism ${maxParallelism}`);
    }
    this.maxParallelism = maxParallelism;
    this.keyGroupRange = { start, end };
    this.where = where;
  }

  /** The error for a key whose key group this backend does not own. */
  protected outOfRange(key: unknown, keyGroup: number): Error {
    const { start, end } = this.keyGroupRange;
    const owner = this.where === undefined ? '' : `${this.where}: `;
    return new Error(
      `${owner}key ${describeKey(key)} belongs to key group ${keyGroup}, outside this subtask's ` +
        `key groups ${start}..${end} (records were routed to the wrong subtask)`,
    );
  }

  /** The table of state `name`, created on first use; an error naming it when it has another kind. */
  protected abstract stateTable(name: string, kind: StateKind): EntryTable;

  getValueState<T>(d: ValueStateDescriptor<T>): ValueState<T> {
    return this.#state(d.name, 'value', (t) => new HeapValueState<T>(t, d.defaultValue));
  }

  getListState<T>(d: ListStateDescriptor<T>): ListState<T> {
    return this.#state(d.name, 'list', (t) => new HeapListState<T>(t));
  }

  getMapState<UK, UV>(d: MapStateDescriptor<UK, UV>): MapState<UK, UV> {
    return this.#state(d.name, 'map', (t) => new HeapMapState<UK, UV>(t, `map state '${d.name}'`));
  }

  getReducingState<T>(d: ReducingStateDescriptor<T>): ReducingState<T> {
    return this.#state(d.name, 'reducing', (t) => new HeapReducingState<T>(t, d.reduce));
  }

  getAggregatingState<IN, ACC, OUT>(d: AggregatingStateDescriptor<IN, ACC, OUT>): AggregatingState<IN, OUT> {
    return this.#state(d.name, 'aggregating', (t) => new HeapAggregatingState<IN, ACC, OUT>(t, d.aggregate));
  }

  /** Requesting a name twice gives the same object (its table checks the kind first). */
  #state<S>(name: string, kind: StateKind, create: (table: EntryTable) => S): S {
    const table = this.stateTable(name, kind);
    let state = this.#states.get(name);
    if (state === undefined) {
      state = create(table);
      this.#states.set(name, state);
    }
    return state as S;
  }
}
