/**
 * E2E fixture: a job module that is not deterministic: the map's parallelism depends on the
 * thread that builds the pipeline, so the workers' graphs differ from the launcher's.
 */
import { isMainThread } from 'node:worker_threads';
import { StreamExecutionEnvironment } from 'weir';

const env = StreamExecutionEnvironment.getExecutionEnvironment();
env.setParallelism(2);
env
  .fromSequence(1, 10)
  .rebalance()
  .map((x) => x + 1)
  .name('thread-dependent')
  .setParallelism(isMainThread ? 2 : 1)
  .addSink(() => {});
await env.execute('differs');
