/**
 * Cluster fixture: runs until cancelled or stopped. A throttled parallel source counts up, a
 * keyed function keeps a count per key in ValueState, and checkpoints are taken every 100 ms,
 * so checkpoints and savepoints carry real keyed state. Imports only 'weir', so its source can
 * be submitted to a cluster as it is.
 */
import { KeyedProcessFunction, RichParallelSourceFunction, StreamExecutionEnvironment, ValueStateDescriptor } from 'weir';
import type { Collector, KeyedProcessContext, SourceContext, ValueState } from 'weir';

class Ticks extends RichParallelSourceFunction<number> {
  private running = true;
  async run(ctx: SourceContext<number>): Promise<void> {
    for (let n = 0; this.running; n++) {
      await ctx.collect(n);
      await new Promise((r) => setTimeout(r, 2));
    }
  }
  cancel(): void {
    this.running = false;
  }
}

class CountPerKey extends KeyedProcessFunction<number, number, string> {
  private count!: ValueState<number>;
  override open(): void {
    this.count = this.getRuntimeContext().getState(new ValueStateDescriptor<number>('count'));
  }
  processElement(n: number, ctx: KeyedProcessContext<number>, out: Collector<string>): void {
    const c = (this.count.value() ?? 0) + 1;
    this.count.update(c);
    if (c % 1000 === 0) out.collect(`key ${ctx.getCurrentKey()}: ${c}`);
  }
}

const env = StreamExecutionEnvironment.getExecutionEnvironment();
env.enableCheckpointing(100);
env
  .addSource(new Ticks())
  .uid('ticks')
  .name('ticks')
  .keyBy((n) => n % 8)
  .process(new CountPerKey())
  .uid('count-per-key')
  .name('count per key')
  .addSink(() => {})
  .uid('discard')
  .name('discard');
await env.execute(process.argv[2] ?? 'cluster unbounded');
