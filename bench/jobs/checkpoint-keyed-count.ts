/**
 * The keyed-count job (keyed-count.ts) with exactly-once checkpoints every `interval` ms written
 * under `dir`, or with checkpointing off when `interval` is 0:
 *
 *   fromSequence(1..N) → map(x % 10000) → keyBy(key) → per-key count in ValueState → counting sink
 *
 *   weir run bench/jobs/checkpoint-keyed-count.ts <records> <runId> <interval ms | 0> [checkpoint dir]
 */
import { StreamExecutionEnvironment } from 'weir';
import { addKeyedCount, enableCheckpointingFromArgs, executeTimed, jobArgs } from './common.ts';

const { n, runId } = jobArgs();
const [, , interval = '0', dir] = process.argv.slice(2);
const env = StreamExecutionEnvironment.getExecutionEnvironment();
enableCheckpointingFromArgs(env, interval, dir);
addKeyedCount(env, n, runId);
await executeTimed(env, 'bench checkpoint-keyed-count', runId);
