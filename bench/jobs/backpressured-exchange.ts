/**
 * A job under steady backpressure across a network exchange, for the unaligned-checkpoints
 * benchmark:
 *
 *   fromSequence(1..N) → rebalance → slow sink (spins `costUs` µs per record, counts, times)
 *
 * The sink is far slower than the source, so every channel of the exchange stays full (all its
 * credits in use, more batches waiting at the producer) and a barrier sent in band queues behind
 * that data. Each sink instance reports, when its input ends, how many records it took, the
 * largest, and when (absolute time, comparable across threads) it took its first and last one.
 *
 *   weir run bench/jobs/backpressured-exchange.ts <records> <runId> <costUs> <checkpointing> [interval ms] [dir]
 *
 * `checkpointing`: `off`; `aligned`; `unaligned` (aligned-checkpoint timeout 0: unaligned from the
 * start); `timeout:<ms>` (unaligned checkpoints that start aligned and switch after <ms>).
 */
import { BroadcastChannel } from 'node:worker_threads';
import { RichSinkFunction, StreamExecutionEnvironment } from 'weir';
import { parseCheckpointing, type TimedSinkReport } from './backpressured-common.ts';
import { absNow } from './checkpoint-common.ts';
import { channelName, executeTimed, jobArgs } from './common.ts';

/** Spins `costUs` µs per record (a stand-in for expensive per-record work), then counts it. */
export class SlowTimedSink extends RichSinkFunction<number> {
  count = 0;
  max = -Infinity;
  firstAt = NaN;
  lastAt = NaN;

  constructor(
    readonly runId: string,
    readonly costUs: number,
  ) {
    super();
  }

  invoke(value: number): void {
    const now = performance.now();
    const until = now + this.costUs / 1000;
    while (performance.now() < until) {
      // busy: the work a real sink would do per record
    }
    if (this.count++ === 0) this.firstAt = performance.timeOrigin + now;
    if (value > this.max) this.max = value;
  }

  finish(): void {
    this.lastAt = absNow();
    const ctx = this.getRuntimeContext();
    const report: TimedSinkReport = {
      type: 'timed-sink',
      subtask: ctx.getIndexOfThisSubtask(),
      subtasks: ctx.getNumberOfParallelSubtasks(),
      count: this.count,
      max: this.max,
      firstAt: this.firstAt,
      lastAt: this.count > 0 ? this.lastAt : NaN,
    };
    const channel = new BroadcastChannel(channelName(this.runId));
    channel.postMessage(report);
    channel.close();
  }
}

const { n, runId } = jobArgs();
const [, , cost = '20', mode = 'off', interval = '2000', dir] = process.argv.slice(2);
const costUs = Number(cost);
if (!(Number.isFinite(costUs) && costUs >= 0)) throw new RangeError(`costUs must be a number >= 0, got ${cost}`);
const checkpointing = parseCheckpointing(mode);
const env = StreamExecutionEnvironment.getExecutionEnvironment();
if (checkpointing.kind !== 'off') {
  const intervalMs = Number(interval);
  if (!Number.isSafeInteger(intervalMs) || intervalMs < 1) throw new RangeError(`interval must be a positive integer (ms), got ${interval}`);
  env.enableCheckpointing(intervalMs); // exactly-once by default
  const cc = env.getCheckpointConfig();
  if (dir !== undefined) cc.setCheckpointStorage(dir);
  if (checkpointing.kind === 'unaligned') cc.enableUnalignedCheckpoints().setAlignedCheckpointTimeout(checkpointing.alignedTimeoutMs);
}
env.fromSequence(1, n).uid('sequence').rebalance().addSink(new SlowTimedSink(runId, costUs)).uid('slow-sink');
await executeTimed(env, 'bench backpressured-exchange', runId);
