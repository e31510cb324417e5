import type { AggregateFunction, AggregatingState } from '../../api/state.ts';
import type { EntryTable } from '../entry-table.ts';

/** The accumulator is passed to the aggregate function's add/getResult, which may mutate it. */
export class HeapAggregatingState<IN, ACC, OUT> implements AggregatingState<IN, OUT> {
  readonly #table: EntryTable;
  readonly #aggregate: AggregateFunction<IN, ACC, OUT>;

  constructor(table: EntryTable, aggregate: AggregateFunction<IN, ACC, OUT>) {
    this.#table = table;
    this.#aggregate = aggregate;
  }

  get(): OUT | undefined {
    const table = this.#table;
    const entry = table.current();
    if (entry === undefined) return undefined;
    return this.#aggregate.getResult(table.own(entry) as ACC);
  }

  add(value: IN): void {
    const table = this.#table;
    const entry = table.current();
    const aggregate = this.#aggregate;
    if (entry === undefined) {
      table.write(undefined, aggregate.add(value, aggregate.createAccumulator()));
      return;
    }
    table.write(entry, aggregate.add(value, table.own(entry) as ACC));
  }

  clear(): void {
    this.#table.clearCurrent();
  }
}
