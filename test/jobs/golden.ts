/**
 * E2E fixture for checkpointing and recovery: three pipelines (keyed counts and aggregations, a
 * union of two parallel sources, a two-input connect with event-time timers) whose collected
 * output is compared between a straight run, runs with failures injected, and runs restored from
 * a retained checkpoint. Run through runJob()/startJob() from weir/testing.
 *
 *   args[0]: 'keyed' | 'union' | 'connect'
 *   args[1]: N, how many numbers each source produces
 *   args[2]: JSON options (all optional):
 *     { "interval": ms, "mode": "EXACTLY_ONCE" | "AT_LEAST_ONCE", "dir": checkpoint dir,
 *       "retain": true (RETAIN_ON_CANCELLATION), "restarts": n,
 *       "faults": [{ "at": "source" | "operator" | "sink" | "alignment" | "async",
 *                    "attempt": n, "after": records (or checkpoint id for alignment/async),
 *                    "subtask"?: n, "checkpointed"?: true (also waits until this subtask has
 *                    seen a checkpoint complete in this attempt, so the restart restores one) }],
 *       "throttle": records per ms and source subtask (keeps a run long enough for checkpoints),
 *       "source": "sequence" (fromSequence, the default) | "function" (a checkpointed SourceFunction
 *                 that sleeps between small batches instead of busy-waiting),
 *       "unaligned": aligned-checkpoint timeout in ms (0: unaligned from the start) — enables
 *                 unaligned checkpoints,
 *       "slowSink": ms the collecting sink spins per record (backpressure: full buffers),
 *       "slowAsync": { [checkpoint id]: ms } — the asynchronous part of that checkpoint waits
 *                 that long before it writes (in every subtask and attempt),
 *       "slowClose": ms the sink's task takes to close (its slot finishes that much later) }
 *
 * A fault fires in the given attempt only (getAttemptNumber()), so every failure happens once
 * however often the job restarts. Imported again in every worker thread.
 */
import {
  CheckpointConfig,
  type CheckpointListener,
  KeyedCoProcessFunction,
  RestartStrategies,
  RichMapFunction,
  StreamExecutionEnvironment,
  ValueStateDescriptor,
  type Collector,
  type DataStream,
  type KeyedProcessContext,
  type OnTimerContext,
  type ValueState,
} from 'weir';
import { injectFaults } from 'weir/testing';
import { NumberSource } from '../support/number-source.ts';
import { END_TIMER, StatsFunction, type Rec, type Tagged } from './stats-function.ts';

interface Fault {
  readonly at: 'source' | 'operator' | 'sink' | 'alignment' | 'async';
  readonly attempt: number;
  readonly after: number;
  readonly subtask?: number;
  readonly checkpointed?: boolean;
}

interface Options {
  readonly interval?: number;
  readonly mode?: 'EXACTLY_ONCE' | 'AT_LEAST_ONCE';
  readonly dir?: string;
  readonly retain?: boolean;
  readonly restarts?: number;
  readonly faults?: readonly Fault[];
  readonly throttle?: number;
  readonly source?: 'sequence' | 'function';
  readonly unaligned?: number;
  readonly slowSink?: number;
  readonly slowAsync?: Readonly<Record<string, number>>;
  readonly slowClose?: number;
}

const variant = process.argv[2] ?? 'keyed';
const N = Number(process.argv[3] ?? 20000);
const options = JSON.parse(process.argv[4] ?? '{}') as Options;
const faults = options.faults ?? [];

class InjectedFailure extends Error {
  override readonly name = 'InjectedFailure';
}

/**
 * Passes records through; fails at its configured point, in one attempt, after `after` records of
 * a subtask (and, for a `checkpointed` fault, once a checkpoint completed in this attempt).
 */
class Chaos<T> extends RichMapFunction<T, T> implements CheckpointListener {
  #seen = 0;
  #checkpointed = false;
  #faults: readonly Fault[] = [];
  constructor(readonly point: Fault['at']) {
    super();
  }
  override open(): void {
    const rc = this.getRuntimeContext();
    this.#faults = faults.filter(
      (f) => f.at === this.point && f.attempt === rc.getAttemptNumber() && (f.subtask === undefined || f.subtask === rc.getIndexOfThisSubtask()),
    );
  }
  map(value: T): T {
    if (this.#faults.length > 0) {
      const n = ++this.#seen;
      for (const f of this.#faults) {
        if (n >= f.after && (n === f.after || f.checkpointed) && (!f.checkpointed || this.#checkpointed)) {
          throw new InjectedFailure(`injected ${f.at} failure after ${n} records`);
        }
      }
    }
    return value;
  }
  override async close(): Promise<void> {
    if (this.point === 'sink' && options.slowClose !== undefined) await new Promise((r) => setTimeout(r, options.slowClose));
  }
  notifyCheckpointComplete(): void {
    this.#checkpointed = true;
  }
}

/**
 * Slows a source subtask down to about `throttle` records per millisecond, so checkpoints happen
 * during the run. In an attempt that has a `checkpointed` fault it goes at two records per
 * millisecond until a checkpoint completed in that attempt: however slow checkpoints are (a
 * loaded machine), the input cannot run out before the fault's checkpoint exists.
 */
class Throttle<T> extends RichMapFunction<T, T> implements CheckpointListener {
  #n = 0;
  #start = 0;
  #gated = false;
  override open(): void {
    const attempt = this.getRuntimeContext().getAttemptNumber();
    this.#gated = faults.some((f) => f.attempt === attempt && f.checkpointed === true);
  }
  map(value: T): T {
    const rate = this.#gated ? 2 : options.throttle;
    if (rate !== undefined) {
      if (this.#n++ === 0) this.#start = Date.now();
      while (this.#n / rate > Date.now() - this.#start) {
        // busy-wait: a map cannot await
      }
    }
    return value;
  }
  notifyCheckpointComplete(): void {
    if (!this.#gated) return;
    this.#gated = false;
    this.#n = 0;
  }
}

injectFaults({
  alignmentStarted(p) {
    for (const f of faults) {
      if (f.at === 'alignment' && f.attempt === p.attemptNumber && p.checkpointId >= f.after) {
        throw new InjectedFailure(`injected failure while ${p.taskName} aligns checkpoint ${p.checkpointId}`);
      }
    }
  },
  async asyncSnapshot(p) {
    const wait = options.slowAsync?.[String(p.checkpointId)];
    if (wait !== undefined) await new Promise((r) => setTimeout(r, wait));
    for (const f of faults) {
      if (f.at === 'async' && f.attempt === p.attemptNumber && p.checkpointId === f.after) {
        throw new InjectedFailure(`injected failure in the asynchronous phase of checkpoint ${p.checkpointId} in ${p.taskName}`);
      }
    }
  },
});

class CoStats extends KeyedCoProcessFunction<number, number, Rec, Tagged> {
  private left!: ValueState<[number, number]>;
  private right!: ValueState<[number, number]>;
  override open(): void {
    const rc = this.getRuntimeContext();
    this.left = rc.getState(new ValueStateDescriptor<[number, number]>('left'));
    this.right = rc.getState(new ValueStateDescriptor<[number, number]>('right'));
  }
  processElement1(v: number, ctx: KeyedProcessContext<number>, out: Collector<Tagged>): void {
    const [c, s] = this.left.value() ?? [0, 0];
    this.left.update([c + 1, s + v]);
    ctx.timerService().registerEventTimeTimer(END_TIMER);
    if ((c + 1) % 100 === 0) out.collect(['left', ctx.getCurrentKey(), c + 1]);
  }
  processElement2(r: Rec, ctx: KeyedProcessContext<number>, out: Collector<Tagged>): void {
    const [c, s] = this.right.value() ?? [0, 0];
    this.right.update([c + 1, s + r.v]);
    ctx.timerService().registerEventTimeTimer(END_TIMER);
    if ((c + 1) % 100 === 0) out.collect(['right', ctx.getCurrentKey(), c + 1]);
  }
  override onTimer(_ts: number, ctx: OnTimerContext<number>, out: Collector<Tagged>): void {
    out.collect(['co', ctx.getCurrentKey(), this.left.value() ?? [0, 0], this.right.value() ?? [0, 0]]);
  }
}

const env = StreamExecutionEnvironment.getExecutionEnvironment();
if (options.interval !== undefined) {
  env.enableCheckpointing(options.interval);
  const cc = env.getCheckpointConfig();
  if (options.mode) cc.setCheckpointingMode(options.mode);
  if (options.dir) cc.setCheckpointStorage(options.dir);
  if (options.retain) cc.setExternalizedCheckpointRetention(CheckpointConfig.ExternalizedCheckpointCleanup.RETAIN_ON_CANCELLATION);
  if (options.unaligned !== undefined) cc.enableUnalignedCheckpoints().setAlignedCheckpointTimeout(options.unaligned);
  env.setRestartStrategy(RestartStrategies.fixedDelayRestart(options.restarts ?? 20, 0));
}

/** A numbered source with its throttle and source-side fault point chained to it. */
function numbers(from: number, to: number, name: string): DataStream<number> {
  const source =
    options.source === 'function'
      ? env.addSource(new NumberSource(from, to, options.throttle)).uid(`${name}-source`).name(name)
      : env.fromSequence(from, to).uid(`${name}-source`).name(name).map(new Throttle<number>()).uid(`${name}-throttle`);
  return source
    .map(new Chaos<number>('source'))
    .uid(`${name}-chaos`);
}

let out: DataStream<Tagged>;
if (variant === 'keyed') {
  const nums = numbers(1, N, 'numbers');
  const records = nums.map((x): Rec => ({ k: `k${x % 7}`, v: x * 3 })).uid('to-record');
  const stats = records
    .keyBy((r) => r.k)
    .process(new StatsFunction())
    .uid('stats')
    .map(new Chaos<Tagged>('operator'))
    .uid('stats-chaos');
  // Running counts per key: as a multiset independent of the order records arrive in, so any
  // lost or repeated record shows; running sums are only compared in the final totals.
  const counts = nums
    .map((x): [number, number] => [x % 7, 1])
    .uid('pair')
    .keyBy((t) => t[0])
    .sum(1)
    .uid('count-by-mod7')
    .map(new Chaos<[number, number]>('operator'))
    .uid('count-chaos')
    .filter((t) => t[1] % 10 === 0)
    .map((t): Tagged => ['count', t[0], t[1]])
    .uid('count-tag');
  out = stats.union(counts);
} else if (variant === 'union') {
  const a = numbers(1, N, 'first-half');
  const b = numbers(N + 1, 2 * N, 'second-half');
  out = a
    .union(b)
    .map((x): [string, number, number] => [x % 2 === 0 ? 'even' : 'odd', x, 1])
    .uid('parity')
    .keyBy((t) => t[0])
    .reduce((p, q) => [p[0], p[1] + q[1], p[2] + q[2]])
    .uid('sum-and-count')
    .map(new Chaos<[string, number, number]>('operator'))
    .uid('union-chaos')
    .filter((t) => t[2] % 50 === 0 || t[2] === N)
    .map((t): Tagged => (t[2] === N ? ['union-total', t[0], t[1], t[2]] : ['union', t[0], t[2]]))
    .uid('union-tag');
} else {
  const evens = numbers(1, N, 'evens').filter((x) => x % 2 === 0);
  const records = numbers(1, N, 'records').map((x): Rec => ({ k: `k${x % 3}`, v: x }));
  out = evens
    .connect(records)
    .keyBy(
      (v) => v % 5,
      (r) => r.v % 5,
    )
    .process(new CoStats())
    .uid('co-stats')
    .map(new Chaos<Tagged>('operator'))
    .uid('co-chaos');
}

/** Everything the job collected (for golden-to-file.ts). */
const slow = options.slowSink;
const sinkSide = slow === undefined ? out : out.map((t) => {
  const until = performance.now() + slow;
  while (performance.now() < until);
  return t;
}).uid('slow-sink');
export const collected = await sinkSide.map(new Chaos<Tagged>('sink')).uid('sink-chaos').setParallelism(1).executeAndCollect(`golden ${variant}`);
