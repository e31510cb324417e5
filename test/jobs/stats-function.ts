/**
 * The keyed function shared by the keyed-results and golden fixtures: per key a count
 * (ValueState), every value (ListState) and a histogram (MapState), reported once per key from an
 * event-time timer that only the end of input fires.
 */
import {
  KeyedProcessFunction,
  ListStateDescriptor,
  MapStateDescriptor,
  ValueStateDescriptor,
  type Collector,
  type KeyedProcessContext,
  type ListState,
  type MapState,
  type OnTimerContext,
  type ValueState,
} from 'weir';

/** Far beyond any watermark before the end of input: fires exactly at end of input. */
export const END_TIMER = Number.MAX_SAFE_INTEGER;

export type Tagged = readonly unknown[];

export interface Rec {
  k: string;
  v: number;
}

/**
 * Per key: count (ValueState), every value (ListState), a histogram by v % 5 (MapState); the
 * totals are emitted once per key from an event-time timer that only end of input fires.
 */
export class StatsFunction extends KeyedProcessFunction<string, Rec, Tagged> {
  private count!: ValueState<number>;
  private values!: ListState<number>;
  private buckets!: MapState<number, number>;

  override open(): void {
    const rc = this.getRuntimeContext();
    this.count = rc.getState(new ValueStateDescriptor<number>('count'));
    this.values = rc.getListState(new ListStateDescriptor<number>('values'));
    this.buckets = rc.getMapState(new MapStateDescriptor<number, number>('buckets'));
  }

  processElement(r: Rec, ctx: KeyedProcessContext<string>, _out: Collector<Tagged>): void {
    const c = this.count.value();
    if (c === undefined) ctx.timerService().registerEventTimeTimer(END_TIMER);
    this.count.update((c ?? 0) + 1);
    this.values.add(r.v);
    const b = r.v % 5;
    this.buckets.put(b, (this.buckets.get(b) ?? 0) + 1);
  }

  override onTimer(ts: number, ctx: OnTimerContext<string>, out: Collector<Tagged>): void {
    const values = this.values.get();
    const sum = values.reduce((a, b) => a + b, 0);
    const buckets = [...this.buckets.entries()].sort((a, b) => a[0] - b[0]);
    out.collect(['stats', ctx.getCurrentKey(), this.count.value(), sum, values.length, buckets, ctx.timeDomain(), ts]);
  }
}

