/**
 * The job of bench/rocksdb-timers.ts: one event-time timer per key on the RocksDB backend.
 *
 *   a source of 0..keys-1 (one subtask, in order, each number its own event time)
 *   → keyBy(x) → per key: a count in ValueState and a timer → on the timer: the count, read back
 *
 * args[0]: JSON { "keys": n, "mode": "end" | "spread", "delay": ms (spread) }
 *   end:    every timer at the same far timestamp: only the end of input fires them, all at once;
 *   spread: key x's timer at x + delay: each watermark fires the timers it passes.
 *
 * What it measured goes to globalThis.__rocksdbTimers (the runner runs it inline).
 */
import {
  KeyedProcessFunction,
  RichParallelSourceFunction,
  StreamExecutionEnvironment,
  ValueStateDescriptor,
  WatermarkStrategy,
  type Collector,
  type KeyedProcessContext,
  type OnTimerContext,
  type SourceContext,
  type ValueState,
} from '../src/index.ts';

interface Options {
  readonly keys: number;
  readonly mode: 'end' | 'spread';
  readonly delay?: number;
}

export interface TimerFigures {
  fired: number;
  /** performance.now() of the first and the last timer. */
  first: number;
  last: number;
  /** Sum of the counts the timers read (each must be 1). */
  sum: number;
}

const options = JSON.parse(process.argv[2] ?? '{}') as Options;
const figures: TimerFigures = { fired: 0, first: 0, last: 0, sum: 0 };
(globalThis as { __rocksdbTimers?: TimerFigures }).__rocksdbTimers = figures;
const END = Number.MAX_SAFE_INTEGER;

class Numbers extends RichParallelSourceFunction<number> {
  #running = true;
  async run(ctx: SourceContext<number>): Promise<void> {
    for (let x = 0; x < options.keys && this.#running; x++) await ctx.collect(x);
  }
  cancel(): void {
    this.#running = false;
  }
}

class CountAndTimer extends KeyedProcessFunction<number, number, number> {
  private count!: ValueState<number>;
  override open(): void {
    this.count = this.getRuntimeContext().getState(new ValueStateDescriptor<number>('count'));
  }
  processElement(x: number, ctx: KeyedProcessContext<number>): void {
    this.count.update((this.count.value() ?? 0) + 1);
    ctx.timerService().registerEventTimeTimer(options.mode === 'end' ? END : x + (options.delay ?? 1_000));
  }
  override onTimer(_ts: number, _ctx: OnTimerContext<number>, out: Collector<number>): void {
    const now = performance.now();
    if (figures.fired++ === 0) figures.first = now;
    figures.last = now;
    const c = this.count.value() ?? 0;
    figures.sum += c;
    out.collect(c);
  }
}

const env = StreamExecutionEnvironment.getExecutionEnvironment();
let numbers = env.addSource(new Numbers()).uid('numbers');
if (options.mode === 'spread') numbers = numbers.assignTimestampsAndWatermarks(WatermarkStrategy.forMonotonousTimestamps<number>().withTimestampAssigner((x) => x)).uid('timestamps');
numbers
  .keyBy((x) => x)
  .process(new CountAndTimer())
  .uid('count-and-timer')
  .addSink({ invoke() {} })
  .uid('sink');
await env.execute('bench rocksdb timers');
