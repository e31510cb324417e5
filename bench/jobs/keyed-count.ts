/**
 * fromSequence(1..N) → map(x % 10000) → keyBy(key) → per-key count in ValueState → counting sink.
 * The sink sees every updated count, so its largest value must be ceil(N / 10000).
 *
 *   weir run bench/jobs/keyed-count.ts <records> [runId]
 */
import { StreamExecutionEnvironment } from 'weir';
import { addKeyedCount, executeTimed, jobArgs } from './common.ts';

const { n, runId } = jobArgs();
const env = StreamExecutionEnvironment.getExecutionEnvironment();
addKeyedCount(env, n, runId);
await executeTimed(env, 'bench keyed-count', runId);
