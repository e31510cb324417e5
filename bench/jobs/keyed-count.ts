/**
 * fromSequence(1..N) → map(x % 10000) → keyBy(key) → per-key count in ValueState → counting sink.
 * The sink sees every updated count, so its largest value must be ceil(N / 10000).
 *
 *   weir run bench/jobs/keyed-count.ts <records> [runId]
 */
import {
  KeyedProcessFunction,
  StreamExecutionEnvironment,
  ValueStateDescriptor,
  type Collector,
  type KeyedProcessContext,
  type ValueState,
} from 'weir';
import { CountingSink, executeTimed, jobArgs, KEYED_COUNT_KEYS as KEYS } from './common.ts';

class CountPerKey extends KeyedProcessFunction<number, number, number> {
  private count!: ValueState<number>;

  override open(): void {
    this.count = this.getRuntimeContext().getState(new ValueStateDescriptor<number>('count'));
  }

  processElement(_key: number, _ctx: KeyedProcessContext<number>, out: Collector<number>): void {
    const c = (this.count.value() ?? 0) + 1;
    this.count.update(c);
    out.collect(c);
  }
}

const { n, runId } = jobArgs();
const env = StreamExecutionEnvironment.getExecutionEnvironment();
env
  .fromSequence(1, n)
  .map((x) => x % KEYS)
  .keyBy((k) => k)
  .process(new CountPerKey())
  .addSink(new CountingSink(runId));
await executeTimed(env, 'bench keyed-count', runId);
