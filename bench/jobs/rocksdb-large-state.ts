/**
 * Keyed state larger than the JavaScript heap: one ~1 KB value (checkpoint-common.ts's Payload)
 * per key for `keys` keys, with exactly-once checkpoints every `interval` ms, on the backend the
 * configuration selects (`-D state.backend.type=...`). Meant to run in a process whose heap is
 * capped (`node --max-old-space-size=256 bin/weir.mjs run --inline ...`): on the heap backend it
 * runs out of memory; on RocksDB, whose cache is bounded, it is meant to complete.
 *
 *   fromSequence(0..keys-1) → keyBy(x) → ValueState<Payload> per key → sink
 *
 * When the job finished it prints one line, `ROCKSDB-LARGE-STATE {...}` with its figures: wall
 * time, records, checkpoints completed and the largest one's state size, and the process's peak
 * RSS and heap limit.
 *
 *   weir run --inline bench/jobs/rocksdb-large-state.ts <keys> <checkpoint dir> <interval ms>
 */
import { getHeapStatistics } from 'node:v8';
import { KeyedProcessFunction, RestartStrategies, StreamExecutionEnvironment, ValueStateDescriptor, type ValueState } from 'weir';
import { makePayload, type Payload } from './checkpoint-common.ts';

const [keysArg = '100000', dir = '/tmp/weir-bench-large-state', intervalArg = '5000'] = process.argv.slice(2);
const keys = Number(keysArg);
const interval = Number(intervalArg);
if (!Number.isSafeInteger(keys) || keys < 1) throw new RangeError(`keys must be a positive integer, got ${keysArg}`);
if (!Number.isSafeInteger(interval) || interval < 1) throw new RangeError(`interval must be a positive integer (ms), got ${intervalArg}`);

/** Stores a fresh payload for every key it sees and checks the key had none. */
class StorePayload extends KeyedProcessFunction<number, number, number> {
  private state!: ValueState<Payload>;

  override open(): void {
    this.state = this.getRuntimeContext().getState(new ValueStateDescriptor<Payload>('payload'));
  }

  processElement(x: number): void {
    if (this.state.value() !== undefined) throw new Error(`key ${x} already has state: every key is seen once`);
    this.state.update(makePayload(x));
  }
}

const env = StreamExecutionEnvironment.getExecutionEnvironment();
env.enableCheckpointing(interval);
env.getCheckpointConfig().setCheckpointStorage(dir);
env.setRestartStrategy(RestartStrategies.noRestart());
env
  .fromSequence(0, keys - 1)
  .uid('sequence')
  .keyBy((x) => x)
  .process(new StorePayload())
  .uid('store-payload')
  .addSink(() => {})
  .uid('sink');

const t0 = performance.now();
const client = await env.executeAsync('bench rocksdb-large-state');
await client.getJobExecutionResult();
const wallMs = performance.now() - t0;
const stats = await client.getCheckpointStats();
const completed = (stats?.history ?? []).filter((h) => h.status === 'COMPLETED');
console.log(
  `ROCKSDB-LARGE-STATE ${JSON.stringify({
    keys,
    wallMs,
    checkpointsCompleted: completed.length,
    checkpointsFailed: (stats?.history ?? []).filter((h) => h.status === 'FAILED').map((h) => h.failure_message ?? ''),
    largestCheckpointBytes: Math.max(0, ...completed.map((h) => h.state_size)),
    checkpointDurationsMs: completed.map((h) => h.end_to_end_duration),
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
    heapLimitBytes: getHeapStatistics().heap_size_limit,
  })}`,
);
