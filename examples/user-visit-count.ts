/**
 * The seed's keyed visit count (UserVisitCountFunction): clicks from ClickSource, keyed by
 * user, counted in ValueState, printed as "<user> 访问次数: <count>".
 *
 *   weir run [-p N] examples/user-visit-count.ts [maxEvents] [intervalMs] [parallelism]
 *
 * With no arguments it runs like the seed: one click a second until interrupted.
 */
import { StreamExecutionEnvironment, WatermarkStrategy } from 'weir';
import { ClickSource } from './click-source.ts';
import type { Event } from './event.ts';
import { UserVisitCountFunction } from './user-visit-count-function.ts';

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
