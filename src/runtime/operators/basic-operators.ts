/** Stateless one-record-at-a-time operators: map, filter, flatMap. */
import type { Collector, FilterFunction, FlatMapFunction, MapFunction } from '../../api/functions.ts';
import { UdfOperator } from './udf.ts';

export class MapOperator extends UdfOperator<MapFunction<unknown, unknown>> {
  processElement(value: unknown, timestamp: number): void {
    this.setKeyFromElement(value, 0);
    this.output.collect(this.fn.map(value), timestamp);
  }
}

export class FilterOperator extends UdfOperator<FilterFunction<unknown>> {
  processElement(value: unknown, timestamp: number): void {
    this.setKeyFromElement(value, 0);
    if (this.fn.filter(value)) this.output.collect(value, timestamp);
  }
}

/** Collector that stamps outputs with the timestamp of the record being processed. */
export class TimestampedCollector implements Collector<unknown> {
  timestamp = -Infinity;
  constructor(readonly emit: (value: unknown, timestamp: number) => void) {}
  collect(value: unknown): void {
    this.emit(value, this.timestamp);
  }
}

export class FlatMapOperator extends UdfOperator<FlatMapFunction<unknown, unknown>> {
  #out!: TimestampedCollector;
  override async open(): Promise<void> {
    this.#out = new TimestampedCollector((v, ts) => this.output.collect(v, ts));
    await super.open();
  }
  processElement(value: unknown, timestamp: number): void {
    this.setKeyFromElement(value, 0);
    this.#out.timestamp = timestamp;
    this.fn.flatMap(value, this.#out);
  }
}
