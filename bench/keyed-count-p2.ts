/**
 * keyed-count-p2: the keyed-count job in threads mode at parallelism 2 (two sources, a hash
 * exchange between two worker threads, two keyed counters), measured interleaved with a
 * parallelism-1 baseline of the same job so the scaling ratio compares like with like.
 * CPU/wall clearly above 1 shows that both cores were busy.
 */
import { measure, type Benchmark } from './harness.ts';
import { keyedCountCheck, keyedCountJob, keyedCountRecords } from './keyed-count.ts';

export const keyedCountP2: Benchmark = {
  name: 'keyed-count-p2',
  summary: 'keyed-count in threads mode at p=2, with its scaling over a p=1 baseline',
  async run(options) {
    const n = keyedCountRecords(options.quick);
    const [p1, p2] = await measure(
      'keyed-count-p2',
      [
        { job: keyedCountJob, mode: 'threads', parallelism: 1, n, label: 'baseline' },
        { job: keyedCountJob, mode: 'threads', parallelism: 2, n },
      ],
      keyedCountCheck,
      options,
    );
    p2!.scaling = p2!.weirRecordsPerSec / p1!.weirRecordsPerSec;
    p2!.scalingExclOverhead = p2!.weirRecordsPerSecExclOverhead / p1!.weirRecordsPerSecExclOverhead;
    return [p1!, p2!];
  },
};
