/** The README's job: count records per key with ValueState at parallelism 2. */
import { StreamExecutionEnvironment, KeyedProcessFunction, ValueStateDescriptor } from 'weir';
import type { Collector, KeyedProcessContext, ValueState } from 'weir';

class CountPerKey extends KeyedProcessFunction<number, number, string> {
  private count!: ValueState<number>;
  override open(): void {
    this.count = this.getRuntimeContext().getState(new ValueStateDescriptor<number>('count'));
  }
  processElement(n: number, ctx: KeyedProcessContext<number>, out: Collector<string>): void {
    const c = (this.count.value() ?? 0) + 1;
    this.count.update(c);
    if (c % 100_000 === 0) out.collect(`key ${ctx.getCurrentKey()}: ${c} records`);
  }
}

const env = StreamExecutionEnvironment.getExecutionEnvironment();
env.setParallelism(2);
env.fromSequence(1, 1_000_000).keyBy((n) => n % 4).process(new CountPerKey()).print();
await env.execute('count per key');
