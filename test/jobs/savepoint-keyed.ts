/**
 * Fixture for savepoints and stop-with-savepoint: per-key totals in keyed state, reported once
 * per key by an event-time timer that only the end of input (or a draining stop) fires. Run
 * through startJob()/runJob() from weir/testing; imported again in every worker thread.
 *
 *   args[0]: N, the numbers 1..N are read by a paced split-based source (6 splits)
 *   args[1]: JSON options (all optional):
 *     { "interval": checkpoint interval ms, "mode": "EXACTLY_ONCE" | "AT_LEAST_ONCE",
 *       "dir": checkpoint dir, "savepointDir": default savepoint dir (setDefaultSavepointDirectory),
 *       "batch"/"pauseMs": pace of each source reader (absent: full speed),
 *       "drop": true leaves out the "parity" operator (its state in a savepoint is then unclaimed),
 *       "failSnapshot": n makes subtask 0 of the totals decline checkpoint n (its asynchronous part fails) }
 *
 * Collected rows: ['final', key, count, sum] per key mod 7 and ['parity', key, count] per parity;
 * a restored job also reports ['resumed', key, count] for each key whose count it restored.
 */
import {
  KeyedProcessFunction,
  StreamExecutionEnvironment,
  ValueStateDescriptor,
  WatermarkStrategy,
  type Collector,
  type KeyedProcessContext,
  type OnTimerContext,
  type ValueState,
} from 'weir';
import { injectFaults } from 'weir/testing';
import { PacedSequence } from './savepoint-sources.ts';

interface Options {
  readonly interval?: number;
  readonly mode?: 'EXACTLY_ONCE' | 'AT_LEAST_ONCE';
  readonly dir?: string;
  readonly savepointDir?: string;
  readonly batch?: number;
  readonly pauseMs?: number;
  readonly drop?: boolean;
  readonly failSnapshot?: number;
}

const N = Number(process.argv[2] ?? 10_000);
const options = JSON.parse(process.argv[3] ?? '{}') as Options;

/** Far beyond any watermark before the end of input. */
const END = Number.MAX_SAFE_INTEGER;

type Row = readonly unknown[];

/** Count and sum per key in ValueState; one row per key when event time ends. */
class Totals extends KeyedProcessFunction<number, number, Row> {
  private count!: ValueState<number>;
  private sum!: ValueState<number>;
  constructor(readonly tag: string) {
    super();
  }
  override open(): void {
    const rc = this.getRuntimeContext();
    this.count = rc.getState(new ValueStateDescriptor<number>('count'));
    this.sum = rc.getState(new ValueStateDescriptor<number>('sum'));
  }
  #seen = new Set<number>();
  processElement(v: number, ctx: KeyedProcessContext<number>, out: Collector<Row>): void {
    const c = this.count.value();
    const key = ctx.getCurrentKey();
    if (this.tag === 'final' && c !== undefined && !this.#seen.has(key)) out.collect(['resumed', key, c]);
    this.#seen.add(key);
    if (c === undefined) ctx.timerService().registerEventTimeTimer(END);
    this.count.update((c ?? 0) + 1);
    this.sum.update((this.sum.value() ?? 0) + v);
  }
  override onTimer(_ts: number, ctx: OnTimerContext<number>, out: Collector<Row>): void {
    out.collect(this.tag === 'final' ? ['final', ctx.getCurrentKey(), this.count.value(), this.sum.value()] : [this.tag, ctx.getCurrentKey(), this.count.value()]);
  }
}

if (options.failSnapshot !== undefined) {
  const failAt = options.failSnapshot;
  injectFaults({
    asyncSnapshot(p) {
      if (p.checkpointId === failAt && p.subtaskIndex === 0 && p.vertexName.includes('totals')) {
        throw new Error(`injected failure of snapshot ${p.checkpointId} in ${p.taskName}`);
      }
    },
  });
}

const env = StreamExecutionEnvironment.getExecutionEnvironment();
if (options.interval !== undefined) {
  env.enableCheckpointing(options.interval);
  if (options.mode) env.getCheckpointConfig().setCheckpointingMode(options.mode);
  if (options.dir) env.getCheckpointConfig().setCheckpointStorage(options.dir);
}
if (options.savepointDir) env.setDefaultSavepointDirectory(options.savepointDir);

const pace = options.batch === undefined ? {} : { batch: options.batch, pauseMs: options.pauseMs ?? 1 };
const numbers = env
  .fromSource(new PacedSequence(1, N, 6, pace), WatermarkStrategy.forMonotonousTimestamps<number>(), 'numbers')
  .uid('numbers');

let out = numbers
  .keyBy((x) => x % 7)
  .process(new Totals('final'))
  .uid('totals')
  .name('totals');
if (!options.drop) {
  out = out.union(
    numbers
      .keyBy((x) => x % 2)
      .process(new Totals('parity'))
      .uid('parity')
      .name('parity'),
  );
}

await out.executeAndCollect('savepoint keyed').then(() => undefined);
