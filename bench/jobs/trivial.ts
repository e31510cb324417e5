/**
 * The smallest job: three elements, one map, print. Its time from command to exit is what a
 * user waits for the engine itself.
 *
 *   weir run bench/jobs/trivial.ts        prints 2, 4 and 6 (with subtask prefixes at p > 1)
 */
import { StreamExecutionEnvironment } from 'weir';

const env = StreamExecutionEnvironment.getExecutionEnvironment();
env
  .fromElements(1, 2, 3)
  .map((x) => x * 2)
  .print();
await env.execute('bench trivial');
