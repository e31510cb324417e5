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
import type { EntryTable } from './entry-table.ts';
import { HeapAggregatingState } from './heap/heap-aggregating-state.ts';
import { HeapListState } from './heap/heap-list-state.ts';
import { HeapMapState } from './heap/heap-map-state.ts';
import { HeapReducingState } from './heap/heap-reducing-state.ts';
import { HeapValueState } from './heap/heap-value-state.ts';

export abstract class EntryTableBackend {
  readonly #states = new Map<string, unknown>();

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
