/**
 * fromSequence(1..N) → map(x * 2) → filter(x % 3 !== 0) → counting sink: one chain, no channels.
 *
 *   weir run bench/jobs/chained-map-filter.ts <records> [runId]
 */
import { StreamExecutionEnvironment } from 'weir';
import { CountingSink, executeTimed, jobArgs } from './common.ts';

const { n, runId } = jobArgs();
const env = StreamExecutionEnvironment.getExecutionEnvironment();
env
  .fromSequence(1, n)
  .map((x) => x * 2)
  .filter((x) => x % 3 !== 0)
  .addSink(new CountingSink(runId));
await executeTimed(env, 'bench chained-map-filter', runId);
