/**
 * E2E fixture: keyed state and keyed aggregations whose final per-key results must not depend
 * on parallelism or execution mode. Run through runJob() from weir/testing; the parallelism and
 * mode come from the harness. Every record this job collects is a tagged tuple.
 *
 *   args[0]: 'keyed' | 'union' | 'connect'
 *   args[1]: N (how many numbers each source produces), default 20000
 *
 * Imported again in every worker thread, so the pipeline must be built deterministically.
 */
import {
  KeyedCoProcessFunction,
  StreamExecutionEnvironment,
  ValueStateDescriptor,
  type CoMapFunction,
  type Collector,
  type DataStream,
  type KeyedProcessContext,
  type OnTimerContext,
  type ValueState,
} from 'weir';
import { END_TIMER, StatsFunction, type Rec, type Tagged } from './stats-function.ts';

const variant = process.argv[2] ?? 'keyed';
const N = Number(process.argv[3] ?? 20000);

/** Keyed on both inputs: counts and sums each side per key, reports once at end of input. */
class CoStats extends KeyedCoProcessFunction<number, number, Rec, Tagged> {
  private left!: ValueState<[number, number]>;
  private right!: ValueState<[number, number]>;

  override open(): void {
    const rc = this.getRuntimeContext();
    this.left = rc.getState(new ValueStateDescriptor<[number, number]>('left'));
    this.right = rc.getState(new ValueStateDescriptor<[number, number]>('right'));
  }
  processElement1(v: number, ctx: KeyedProcessContext<number>): void {
    const [c, s] = this.left.value() ?? [0, 0];
    this.left.update([c + 1, s + v]);
    ctx.timerService().registerEventTimeTimer(END_TIMER);
  }
  processElement2(r: Rec, ctx: KeyedProcessContext<number>): void {
    const [c, s] = this.right.value() ?? [0, 0];
    this.right.update([c + 1, s + r.v]);
    ctx.timerService().registerEventTimeTimer(END_TIMER);
  }
  override onTimer(_ts: number, ctx: OnTimerContext<number>, out: Collector<Tagged>): void {
    out.collect(['co', ctx.getCurrentKey(), this.left.value() ?? [0, 0], this.right.value() ?? [0, 0]]);
  }
}

const coMap: CoMapFunction<number, Rec, [string, number]> = {
  map1: (v) => ['even', v],
  map2: (r) => [r.k, r.v],
};

const env = StreamExecutionEnvironment.getExecutionEnvironment();
let out: DataStream<Tagged>;

if (variant === 'keyed') {
  const numbers = env.fromSequence(1, N).name('numbers');
  const records = numbers.map((x): Rec => ({ k: `k${x % 7}`, v: x * 3 })).name('to-record');
  const stats = records.keyBy((r) => r.k).process(new StatsFunction()).name('stats');
  const sums = numbers
    .map((x): [number, number] => [x % 7, x])
    .keyBy((t) => t[0])
    .sum(1)
    .name('sum-by-mod7')
    .map((t): Tagged => ['sum', t[0], t[1]]);
  const reduced = records
    .keyBy((r) => r.v % 3)
    .reduce((a, b) => ({ k: a.k, v: Math.max(a.v, b.v) }))
    .name('max-by-mod3')
    .map((r): Tagged => ['max', r.v % 3, r.v]);
  out = stats.union(sums, reduced);
} else if (variant === 'union') {
  const a = env.fromSequence(1, N).name('first-half');
  const b = env.fromSequence(N + 1, 2 * N).name('second-half');
  out = a
    .union(b)
    .map((x): [string, number, number] => [x % 2 === 0 ? 'even' : 'odd', x, 1])
    .keyBy((t) => t[0])
    .reduce((p, q) => [p[0], p[1] + q[1], p[2] + q[2]])
    .name('sum-and-count')
    .map((t): Tagged => ['union', t[0], t[1], t[2]]);
} else if (variant === 'connect') {
  const evens = env.fromSequence(1, N).filter((x) => x % 2 === 0);
  const records = env.fromSequence(1, N).map((x): Rec => ({ k: `k${x % 3}`, v: x }));
  const co = evens
    .connect(records)
    .keyBy(
      (v) => v % 5,
      (r) => r.v % 5,
    )
    .process(new CoStats())
    .name('co-stats');
  const mapped = evens
    .connect(records)
    .map(coMap)
    .name('co-map')
    .keyBy((t) => t[0])
    .sum(1)
    .map((t): Tagged => ['comap', t[0], t[1]]);
  out = co.union(mapped);
} else {
  throw new Error(`unknown variant ${variant}`);
}

await out.executeAndCollect(`keyed-results ${variant}`);
