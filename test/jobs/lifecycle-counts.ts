/**
 * Fixture of the cluster lifecycle tests: numbers 1..N from a checkpointed source whose
 * position is a list of independent ranges (so any rescale hands every remaining number to
 * exactly one subtask), counted and summed per key (n % 7) in keyed state; each key's totals
 * are printed once, at the end of input, as `<tag> key=<k> count=<c> sum=<s>`.
 *
 *   args: <tag> <N> <records per ms per subtask, 0 = unthrottled> [variant]
 *   variant 'no-counts' leaves out the keyed operator (uid 'counts'), to test restoring a
 *   snapshot with state that maps to no operator.
 */
import {
  KeyedProcessFunction,
  ListStateDescriptor,
  RichParallelSourceFunction,
  StreamExecutionEnvironment,
  ValueStateDescriptor,
  type CheckpointedFunction,
  type Collector,
  type FunctionInitializationContext,
  type KeyedProcessContext,
  type ListState,
  type OnTimerContext,
  type SourceContext,
  type ValueState,
} from 'weir';

const [tag = 'counts', nArg = '20000', rateArg = '0', variant = 'full'] = process.argv.slice(2);
const N = Number(nArg);
const RATE = Number(rateArg);
const END = Number.MAX_SAFE_INTEGER;

/** A range of numbers still to emit: next, next + step, … up to `to`. */
type Range = [next: number, to: number, step: number];

class RangeSource extends RichParallelSourceFunction<number> implements CheckpointedFunction {
  #running = true;
  #ranges: Range[] = [];
  #state!: ListState<Range>;

  initializeState(ctx: FunctionInitializationContext): void {
    this.#state = ctx.getOperatorStateStore().getListState(new ListStateDescriptor<Range>('ranges'));
    if (ctx.isRestored()) this.#ranges = this.#state.get().map((r) => [...r] as Range);
    else {
      const rc = this.getRuntimeContext();
      this.#ranges = [[1 + rc.getIndexOfThisSubtask(), N, rc.getNumberOfParallelSubtasks()]];
    }
  }

  snapshotState(): void {
    this.#state.update(this.#ranges.filter((r) => r[0] <= r[1]).map((r) => [...r] as Range));
  }

  async run(ctx: SourceContext<number>): Promise<void> {
    const batch = RATE > 0 ? Math.max(1, Math.round(RATE * 5)) : Infinity;
    let sinceSleep = 0;
    for (const r of this.#ranges) {
      while (this.#running && r[0] <= r[1]) {
        await ctx.collect(r[0]);
        r[0] += r[2];
        if (++sinceSleep >= batch) {
          sinceSleep = 0;
          await new Promise((res) => setTimeout(res, 5));
        }
      }
    }
  }

  cancel(): void {
    this.#running = false;
  }
}

class Totals extends KeyedProcessFunction<number, number, string> {
  private count!: ValueState<number>;
  private sum!: ValueState<number>;
  override open(): void {
    this.count = this.getRuntimeContext().getState(new ValueStateDescriptor<number>('count'));
    this.sum = this.getRuntimeContext().getState(new ValueStateDescriptor<number>('sum'));
  }
  processElement(n: number, ctx: KeyedProcessContext<number>, _out: Collector<string>): void {
    const c = this.count.value() ?? 0;
    if (c === 0) ctx.timerService().registerEventTimeTimer(END);
    this.count.update(c + 1);
    this.sum.update((this.sum.value() ?? 0) + n);
  }
  override onTimer(_ts: number, ctx: OnTimerContext<number>, out: Collector<string>): void {
    out.collect(`${tag} key=${ctx.getCurrentKey()} count=${this.count.value()} sum=${this.sum.value()}`);
  }
}

const env = StreamExecutionEnvironment.getExecutionEnvironment();
env.enableCheckpointing(200);
env.getCheckpointConfig().setExternalizedCheckpointRetention('RETAIN_ON_CANCELLATION');
const numbers = env.addSource(new RangeSource()).uid('numbers').name('numbers');
if (variant === 'no-counts') {
  numbers.filter(() => false).uid('nothing').print().uid('print');
} else {
  numbers
    .keyBy((n) => n % 7)
    .process(new Totals())
    .uid('counts')
    .name('counts')
    .print()
    .uid('print');
}
await env.execute(`lifecycle ${tag}`);
