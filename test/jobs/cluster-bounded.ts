/** Cluster fixture: a short bounded job that finishes on its own. Imports only 'weir'. */
import { StreamExecutionEnvironment } from 'weir';

const env = StreamExecutionEnvironment.getExecutionEnvironment();
env
  .fromSequence(1, 500)
  .keyBy((n) => n % 4)
  .sum()
  .addSink(() => {})
  .name('discard');
await env.execute('cluster bounded');
