/**
 * The seed's keyed visit count (UserVisitCountFunction): clicks from ClickSource, keyed by
 * user, counted in ValueState, printed as "<user> 访问次数: <count>".
 *
 *   weir run [-p N] examples/user-visit-count.ts [maxEvents] [intervalMs] [parallelism]
 *
 * With no arguments it runs like the seed: one click a second until interrupted.
 */
import {
  KeyedProcessFunction,
  StreamExecutionEnvironment,
  ValueStateDescriptor,
  WatermarkStrategy,
  type Collector,
  type KeyedProcessContext,
  type ValueState,
} from 'weir';
import { ClickSource } from './click-source.ts';
import type { Event } from './event.ts';

export class UserVisitCountFunction extends KeyedProcessFunction<string, Event, string> {
  private visitCountState!: ValueState<number>;

  override open(): void {
    this.visitCountState = this.getRuntimeContext().getState(new ValueStateDescriptor<number>('visit-count'));
  }

  processElement(value: Event, _ctx: KeyedProcessContext<string>, out: Collector<string>): void {
    const count = (this.visitCountState.value() ?? 0) + 1;
    this.visitCountState.update(count);
    out.collect(`${value.user} 访问次数: ${count}`);
  }
}

const [maxEvents, intervalMs, parallelism] = process.argv.slice(2).map(Number);

const env = StreamExecutionEnvironment.getExecutionEnvironment();
// An explicit argument wins; otherwise `weir run -p N` (or the default) decides.
if (parallelism) env.setParallelism(parallelism);

const stream = env
  .addSource(new ClickSource({ maxEvents: maxEvents || Infinity, intervalMs: intervalMs ?? 1000 }))
  .uid('source-id')
  .assignTimestampsAndWatermarks(WatermarkStrategy.forMonotonousTimestamps<Event>().withTimestampAssigner((e) => e.timestamp))
  .uid('watermark-assigner-id');

stream
  .keyBy((e) => e.user)
  .process(new UserVisitCountFunction())
  .uid('visit-count-processor-id')
  .print('用户访问统计');

await env.execute('User Visit Count');
