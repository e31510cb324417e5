/**
 * What the benchmark job modules (and the harness) share: arguments, a counting sink, a timed
 * execute(), and the messages those send.
 *
 * Job modules run in the launching thread and, in threads mode, again in one worker thread per
 * slot; their figures reach the harness over a BroadcastChannel named after the run, which
 * works the same between threads of this process and within one thread (inline mode).
 * Run on their own (`weir run bench/jobs/keyed-count.ts 1000000`) the messages simply go nowhere.
 */
import { BroadcastChannel } from 'node:worker_threads';
import {
  KeyedProcessFunction,
  RichSinkFunction,
  ValueStateDescriptor,
  type Collector,
  type KeyedProcessContext,
  type StreamExecutionEnvironment,
  type ValueState,
} from 'weir';

/** Posted by every parallel instance of CountingSink when its input ended. */
export interface SinkReport {
  readonly type: 'sink';
  readonly subtask: number;
  readonly subtasks: number;
  /** Records the instance received. */
  readonly count: number;
  /** Largest value it received (-Infinity when none). */
  readonly max: number;
}

/** Posted once by the launching thread when execute() returned. */
export interface ExecReport {
  readonly type: 'exec';
  /** Wall time of the whole execute() call, worker start-up included. */
  readonly wallMs: number;
  /** CPU time of the whole process (every thread) during execute(). */
  readonly cpuMs: number;
  /** The job result's own netRuntime. */
  readonly netRuntimeMs: number;
}

export type Report = SinkReport | ExecReport;

/** Distinct keys of the keyed-count job (records are keyed by x % KEYED_COUNT_KEYS). */
export const KEYED_COUNT_KEYS = 10_000;

export function channelName(runId: string): string {
  return `weir-bench:${runId}`;
}

function post(runId: string, report: Report): void {
  const channel = new BroadcastChannel(channelName(runId));
  channel.postMessage(report);
  channel.close();
}

/** `<records> [runId]` from the job's arguments (process.argv.slice(2), the same in every worker). */
export function jobArgs(): { n: number; runId: string } {
  const [records = '1000000', runId = 'standalone'] = process.argv.slice(2);
  const n = Number(records);
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`records must be a positive integer, got ${records}`);
  return { n, runId };
}

/**
 * Exactly-once checkpoints every `interval` ms (a job argument; '0': checkpointing off), written
 * under `dir` when given.
 */
export function enableCheckpointingFromArgs(env: StreamExecutionEnvironment, interval: string, dir: string | undefined): void {
  const intervalMs = Number(interval);
  if (!Number.isSafeInteger(intervalMs) || intervalMs < 0) throw new RangeError(`interval must be an integer >= 0 (ms), got ${interval}`);
  if (intervalMs === 0) return;
  env.enableCheckpointing(intervalMs); // exactly-once by default
  if (dir !== undefined) env.getCheckpointConfig().setCheckpointStorage(dir);
}

/** Counts its input records (and keeps the largest value); reports both when the input ends. */
export class CountingSink extends RichSinkFunction<number> {
  count = 0;
  max = -Infinity;

  constructor(readonly runId: string) {
    super();
  }

  invoke(value: number): void {
    this.count++;
    if (value > this.max) this.max = value;
  }

  finish(): void {
    const ctx = this.getRuntimeContext();
    post(this.runId, {
      type: 'sink',
      subtask: ctx.getIndexOfThisSubtask(),
      subtasks: ctx.getNumberOfParallelSubtasks(),
      count: this.count,
      max: this.max,
    });
  }
}

/** Awaits env.execute() and reports its wall time and the process's CPU time over it. */
export async function executeTimed(env: StreamExecutionEnvironment, jobName: string, runId: string): Promise<void> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const result = await env.execute(jobName);
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  post(runId, { type: 'exec', wallMs, cpuMs: (cpu.user + cpu.system) / 1000, netRuntimeMs: result.netRuntime });
}

/** The keyed count of the keyed-count benchmarks: a per-key count in ValueState, each update emitted. */
export class CountPerKey extends KeyedProcessFunction<number, number, number> {
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

/** The keyed-count pipeline: fromSequence(1..n) → map(x % KEYS) → keyBy → CountPerKey → counting sink. */
export function addKeyedCount(env: StreamExecutionEnvironment, n: number, runId: string): void {
  env
    .fromSequence(1, n)
    .uid('sequence')
    .map((x) => x % KEYED_COUNT_KEYS)
    .uid('key')
    .keyBy((k) => k)
    .process(new CountPerKey())
    .uid('count-per-key')
    .addSink(new CountingSink(runId))
    .uid('sink');
}
