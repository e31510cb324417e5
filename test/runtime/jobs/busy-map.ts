/**
 * A fast source into a slow map on another task (rebalance): the map spins about 50 µs per
 * record, so it is busy nearly all the time and the source waits for credit nearly all the time.
 * Checkpoints every 300 ms; runs until cancelled.
 */
import { StreamExecutionEnvironment } from 'weir';

const env = StreamExecutionEnvironment.getExecutionEnvironment();
env.enableCheckpointing(300);
env
  .fromSequence(1, Number.MAX_SAFE_INTEGER)
  .name('numbers')
  .rebalance()
  .map((n) => {
    const until = performance.now() + 0.05;
    while (performance.now() < until);
    return n;
  })
  .name('slow map')
  .filter(() => false)
  .print();
await env.execute('busy map');
