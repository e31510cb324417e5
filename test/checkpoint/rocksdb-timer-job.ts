/**
 * Fixture for event-time timers across many keys on the RocksDB backend
 * (rocksdb-timer-jobs.test.ts): the numbers 1..N, each its own event time, keyed by x % keys; per
 * key a value state of the sums of its event-time windows of `window` ms, and one timer per key
 * and window at the window's end, which reports the window's sum from the state and removes it.
 * Each window holds about one record of every key, so each watermark that passes a window's end
 * fires a timer of nearly every key at once. Imported again in every worker thread.
 *
 *   args[0]: JSON { "n": N, "keys": distinct keys, "window": ms,
 *                   "interval"?: checkpoint interval ms, "dir"?: checkpoint dir,
 *                   "pace"?: records per ms and source subtask,
 *                   "failAt"?: [{ "attempt": n, "after": records }] — the reports of the timers
 *                              fail their task after that many in that attempt }
 *
 * Collected rows: ['window', key, windowEnd, sum], one per key and window. The operator after the
 * timers fails the job if a report reaches it after the watermark that fired its timer: a
 * watermark goes on only once every timer it fires has fired.
 */
import {
  KeyedProcessFunction,
  ProcessFunction,
  RestartStrategies,
  StreamExecutionEnvironment,
  ValueStateDescriptor,
  WatermarkStrategy,
  type Collector,
  type KeyedProcessContext,
  type OnTimerContext,
  type ProcessContext,
  type ValueState,
} from 'weir';
import { FailAfterRecords } from 'weir/testing';
import { NumberSource } from '../support/number-source.ts';

interface Options {
  readonly n: number;
  readonly keys: number;
  readonly window: number;
  readonly interval?: number;
  readonly dir?: string;
  readonly pace?: number;
  readonly failAt?: readonly { readonly attempt: number; readonly after: number }[];
}

const options = JSON.parse(process.argv[2] ?? '{}') as Options;

type Row = readonly unknown[];

/** Per key, the sums of its open windows ([end, sum] pairs, in a value state); a timer per window end reports and drops one. */
class WindowSums extends KeyedProcessFunction<number, number, Row> {
  private sums!: ValueState<[number, number][]>;
  override open(): void {
    this.sums = this.getRuntimeContext().getState(new ValueStateDescriptor<[number, number][]>('sums'));
  }
  processElement(x: number, ctx: KeyedProcessContext<number>, _out: Collector<Row>): void {
    const end = Math.floor(x / options.window) * options.window + options.window - 1;
    const sums = this.sums.value() ?? [];
    const open = sums.find((s) => s[0] === end);
    if (open) open[1] += x;
    else sums.push([end, x]);
    this.sums.update(sums);
    ctx.timerService().registerEventTimeTimer(end);
  }
  override onTimer(ts: number, ctx: OnTimerContext<number>, out: Collector<Row>): void {
    const sums = this.sums.value() ?? [];
    const at = sums.findIndex((s) => s[0] === ts);
    out.collect(['window', ctx.getCurrentKey(), ts, at < 0 ? null : sums[at]![1]]);
    if (at >= 0) sums.splice(at, 1);
    if (sums.length === 0) this.sums.clear();
    else this.sums.update(sums);
  }
}

/** Passes the reports on; throws for one whose window's end the watermark here has passed already. */
class InOrder extends ProcessFunction<Row, Row> {
  processElement(row: Row, ctx: ProcessContext, out: Collector<Row>): void {
    const watermark = ctx.timerService().currentWatermark();
    if (watermark >= (row[2] as number)) throw new Error(`the report of ${JSON.stringify(row)} came after watermark ${watermark}`);
    out.collect(row);
  }
}

const env = StreamExecutionEnvironment.getExecutionEnvironment();
env.getConfig().setAutoWatermarkInterval(5);
if (options.interval !== undefined) {
  env.enableCheckpointing(options.interval);
  if (options.dir) env.getCheckpointConfig().setCheckpointStorage(options.dir);
  env.setRestartStrategy(RestartStrategies.fixedDelayRestart(10, 0));
}

let reports = env
  .addSource(new NumberSource(1, options.n, options.pace))
  .uid('numbers')
  .assignTimestampsAndWatermarks(WatermarkStrategy.forMonotonousTimestamps<number>().withTimestampAssigner((x) => x))
  .uid('timestamps')
  .keyBy((x) => x % options.keys)
  .process(new WindowSums())
  .uid('window-sums')
  .name('window sums')
  .process(new InOrder())
  .uid('in-order');
for (const [i, f] of (options.failAt ?? []).entries()) {
  reports = reports.map(new FailAfterRecords<Row>(f.after, { attempt: f.attempt, subtask: -1 })).uid(`fail-${i}`);
}
export const collected = await reports.executeAndCollect('rocksdb timers');
