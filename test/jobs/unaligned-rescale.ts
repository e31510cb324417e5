/**
 * Fixture for rescaling from unaligned checkpoints (the scenarios of Flink's
 * UnalignedCheckpointRescaleITCase): bounded, replayable sources feed a slow stage through the
 * exchange under test, so the buffers in front of it stay full and an unaligned checkpoint stores
 * in-flight records of that exchange. A keyed count per number (ValueState) is reported once per
 * number, from an event-time timer that only the end of input fires, so a run restored from such a
 * checkpoint reports how often each number was counted over both runs.
 *
 * Pipelines (`variant`):
 * - keyed:     seq → keyBy → slow count                 (hash exchange into the slow stage)
 * - rebalance: seq → rebalance → slow map → keyBy → count
 * - rescale:   seq → rescale → slow map → keyBy → count
 * - forward:   seq → (forward, chain broken) slow map → keyBy → count
 * - broadcast: seq → broadcast → slow map → keyBy → count (each number once per slow subtask)
 * - union:     seq 1..N ∪ seq N+1..2N → keyBy → slow count
 * - connect:   seq 1..N connect seq N+1..2N, both keyed → slow two-input count
 *
 *   args[0]: variant
 *   args[1]: N, how many numbers each source produces
 *   args[2]: JSON options (all optional):
 *     { "dir": checkpoint dir (enables checkpointing, retained on cancellation),
 *       "interval": checkpoint interval ms (default 60 s: checkpoints are triggered by the test),
 *       "unaligned": aligned-checkpoint timeout ms (0: unaligned from the start) — enables
 *                    unaligned checkpoints,
 *       "slowMs": ms the slow stage spins per record (0 or absent: not slow) }
 *
 * The job graph does not depend on the options, so a run restored with other options (a fast
 * slow stage) restores the state of a slow one. Imported again in every worker thread.
 */
import {
  CheckpointConfig,
  KeyedCoProcessFunction,
  KeyedProcessFunction,
  RichMapFunction,
  StreamExecutionEnvironment,
  ValueStateDescriptor,
  WatermarkStrategy,
  type Collector,
  type DataStream,
  type KeyedProcessContext,
  type OnTimerContext,
  type ValueState,
} from 'weir';
import { PacedSequence } from './savepoint-sources.ts';

export type Variant = 'keyed' | 'rebalance' | 'rescale' | 'forward' | 'broadcast' | 'union' | 'connect';

interface Options {
  readonly dir?: string;
  readonly interval?: number;
  readonly unaligned?: number;
  readonly slowMs?: number;
}

const variant = (process.argv[2] ?? 'keyed') as Variant;
const N = Number(process.argv[3] ?? 3000);
const options = JSON.parse(process.argv[4] ?? '{}') as Options;
const slowMs = options.slowMs ?? 0;

/** Far beyond any watermark before the end of input: fires exactly at end of input. */
const END_TIMER = Number.MAX_SAFE_INTEGER;

/** Splits per source: more than any parallelism the tests use, so every reader has some. */
export const SPLITS = 6;

function spin(): void {
  if (slowMs <= 0) return;
  const until = performance.now() + slowMs;
  while (performance.now() < until) {
    // busy-wait: the stage is slow, so its input buffers stay full
  }
}

class SlowMap extends RichMapFunction<number, number> {
  map(x: number): number {
    spin();
    return x;
  }
}

/** Counts each key; reports [key, count] once, at end of input. */
class CountAtEnd extends KeyedProcessFunction<number, number, [number, number]> {
  private count!: ValueState<number>;
  constructor(readonly slow: boolean) {
    super();
  }
  override open(): void {
    this.count = this.getRuntimeContext().getState(new ValueStateDescriptor<number>('count'));
  }
  processElement(_x: number, ctx: KeyedProcessContext<number>): void {
    if (this.slow) spin();
    const c = this.count.value();
    if (c === undefined) ctx.timerService().registerEventTimeTimer(END_TIMER);
    this.count.update((c ?? 0) + 1);
  }
  override onTimer(_ts: number, ctx: OnTimerContext<number>, out: Collector<[number, number]>): void {
    out.collect([ctx.getCurrentKey(), this.count.value() ?? 0]);
  }
}

/** The same count for two keyed inputs (both slow). */
class CoCountAtEnd extends KeyedCoProcessFunction<number, number, number, [number, number]> {
  private count!: ValueState<number>;
  override open(): void {
    this.count = this.getRuntimeContext().getState(new ValueStateDescriptor<number>('count'));
  }
  processElement1(_x: number, ctx: KeyedProcessContext<number>): void {
    this.#add(ctx);
  }
  processElement2(_x: number, ctx: KeyedProcessContext<number>): void {
    this.#add(ctx);
  }
  #add(ctx: KeyedProcessContext<number>): void {
    spin();
    const c = this.count.value();
    if (c === undefined) ctx.timerService().registerEventTimeTimer(END_TIMER);
    this.count.update((c ?? 0) + 1);
  }
  override onTimer(_ts: number, ctx: OnTimerContext<number>, out: Collector<[number, number]>): void {
    out.collect([ctx.getCurrentKey(), this.count.value() ?? 0]);
  }
}

const env = StreamExecutionEnvironment.getExecutionEnvironment();
if (options.dir !== undefined) {
  env.enableCheckpointing(options.interval ?? 60_000);
  const cc = env.getCheckpointConfig();
  cc.setCheckpointStorage(options.dir);
  cc.setExternalizedCheckpointRetention(CheckpointConfig.ExternalizedCheckpointCleanup.RETAIN_ON_CANCELLATION);
  if (options.unaligned !== undefined) cc.enableUnalignedCheckpoints().setAlignedCheckpointTimeout(options.unaligned);
}

function numbers(from: number, to: number, name: string): DataStream<number> {
  return env.fromSource(new PacedSequence(from, to, SPLITS), WatermarkStrategy.noWatermarks<number>(), name).uid(name);
}

const byValue = (x: number): number => x;
const countAfter = (s: DataStream<number>): DataStream<[number, number]> =>
  s.map(new SlowMap()).uid('slow-map').name('slow-map').keyBy(byValue).process(new CountAtEnd(false)).uid('count');

let counts: DataStream<[number, number]>;
const seq = numbers(1, N, 'seq');
switch (variant) {
  case 'keyed':
    counts = seq.keyBy(byValue).process(new CountAtEnd(true)).uid('count');
    break;
  case 'rebalance':
    counts = countAfter(seq.rebalance());
    break;
  case 'rescale':
    counts = countAfter(seq.rescale());
    break;
  case 'forward':
    counts = seq.map(new SlowMap()).uid('slow-map').name('slow-map').disableChaining().keyBy(byValue).process(new CountAtEnd(false)).uid('count');
    break;
  case 'broadcast':
    counts = countAfter(seq.broadcast());
    break;
  case 'union':
    counts = seq.union(numbers(N + 1, 2 * N, 'seq-2')).keyBy(byValue).process(new CountAtEnd(true)).uid('count');
    break;
  case 'connect':
    counts = seq.connect(numbers(N + 1, 2 * N, 'seq-2')).keyBy(byValue, byValue).process(new CoCountAtEnd()).uid('count');
    break;
  default:
    throw new Error(`unknown variant ${String(variant)}`);
}

export const collected = await counts.executeAndCollect(`unaligned rescale ${variant}`);
