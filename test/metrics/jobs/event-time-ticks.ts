/**
 * Cluster fixture: a throttled source whose records are their own event times (ms from 1000 on),
 * with monotonous watermarks, keyed into a sink. Runs until cancelled. Imports only 'weir'.
 */
import { RichParallelSourceFunction, StreamExecutionEnvironment, WatermarkStrategy } from 'weir';
import type { SourceContext } from 'weir';

class Ticks extends RichParallelSourceFunction<number> {
  private running = true;
  async run(ctx: SourceContext<number>): Promise<void> {
    for (let n = 1000; this.running; n++) {
      await ctx.collect(n);
      await new Promise((r) => setTimeout(r, 2));
    }
  }
  cancel(): void {
    this.running = false;
  }
}

const env = StreamExecutionEnvironment.getExecutionEnvironment();
env
  .addSource(new Ticks())
  .name('ticks')
  .assignTimestampsAndWatermarks(WatermarkStrategy.forMonotonousTimestamps<number>().withTimestampAssigner((n) => n))
  .name('timestamps')
  .keyBy((n) => n % 4)
  .map((n) => n)
  .name('keyed map')
  .addSink(() => {})
  .name('discard');
await env.execute('event time ticks');
