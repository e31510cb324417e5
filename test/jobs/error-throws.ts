/** E2E fixture: a user function named 'my-op' throws on one record, on a worker thread. */
import { StreamExecutionEnvironment } from 'weir';

export function explode(x: number): never {
  throw new RangeError(`user code rejected record ${x}`);
}

const env = StreamExecutionEnvironment.getExecutionEnvironment();
env
  .fromSequence(1, 1000)
  .map((x) => (x === 777 ? explode(x) : x))
  .name('my-op')
  .addSink(() => {})
  .name('discard');
await env.execute('throws');
