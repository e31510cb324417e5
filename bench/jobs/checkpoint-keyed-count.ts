/**
 * The keyed-count job (keyed-count.ts) with exactly-once checkpoints every `interval` ms written
 * under `dir`, or with checkpointing off when `interval` is 0:
 *
 *   fromSequence(1..N) → map(x % 10000) → keyBy(key) → per-key count in ValueState → counting sink
 *
 *   weir run bench/jobs/checkpoint-keyed-count.ts <records> <runId> <interval ms | 0> [checkpoint dir]
 */
import { StreamExecutionEnvironment } from 'weir';
import { addKeyedCount, executeTimed, jobArgs } from './common.ts';

const { n, runId } = jobArgs();
const [, , interval = '0', dir] = process.argv.slice(2);
const intervalMs = Number(interval);
if (!Number.isSafeInteger(intervalMs) || intervalMs < 0) throw new RangeError(`interval must be an integer >= 0 (ms), got ${interval}`);
const env = StreamExecutionEnvironment.getExecutionEnvironment();
if (intervalMs > 0) {
  env.enableCheckpointing(intervalMs); // exactly-once by default
  if (dir !== undefined) env.getCheckpointConfig().setCheckpointStorage(dir);
}
addKeyedCount(env, n, runId);
await executeTimed(env, 'bench checkpoint-keyed-count', runId);
