/**
 * The keyed count over uniformly spread keys, on a chosen state backend:
 *
 *   fromSequence(1..N) → map(keyOf(x, keys)) → keyBy → per-key count in ValueState → counting sink
 *
 *   weir run bench/jobs/rocksdb-keyed-count.ts <records> <runId> <keys> <heap|rocksdb> [rocksdb local dir]
 */
import { StreamExecutionEnvironment } from 'weir';
import { CountingSink, CountPerKey, executeTimed, jobArgs } from './common.ts';
import { backendConfig, keyOf, parseBackend, reportCacheMisses } from './rocksdb-common.ts';

const { n, runId } = jobArgs();
const [, , keysArg = '100', backendArg = 'rocksdb', localDir] = process.argv.slice(2);
const keys = Number(keysArg);
if (!Number.isSafeInteger(keys) || keys < 1) throw new RangeError(`keys must be a positive integer, got ${keysArg}`);
const backend = parseBackend(backendArg);
if (backend === 'rocksdb') reportCacheMisses(runId);

const env = StreamExecutionEnvironment.getExecutionEnvironment();
env.configure(backendConfig(backend, localDir));
env
  .fromSequence(1, n)
  .uid('sequence')
  .map((x) => keyOf(x, keys))
  .uid('key')
  .keyBy((k) => k)
  .process(new CountPerKey())
  .uid('count-per-key')
  .addSink(new CountingSink(runId))
  .uid('sink');
await executeTimed(env, `bench rocksdb-keyed-count ${backend} ${keys} keys`, runId);
