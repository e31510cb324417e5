/**
 * keyed-count: fromSequence → map(x % 10000) → keyBy → count per key in ValueState → counting
 * sink at parallelism 1, inline and threads: the keyBy exchange plus keyed state access.
 */
import { fileURLToPath } from 'node:url';
import { measure, type Benchmark, type Check } from './harness.ts';
import { KEYED_COUNT_KEYS as KEYS } from './jobs/common.ts';

export const keyedCountJob = fileURLToPath(new URL('./jobs/keyed-count.ts', import.meta.url));

export const keyedCountCheck: Check = {
  expected(n) {
    // The sink sees every key's running count; key 1 is the most frequent.
    return { count: n, max: Math.ceil(n / KEYS) };
  },
  plain(n) {
    const counts = new Map<number, number>();
    let count = 0;
    let max = -Infinity;
    for (let x = 1; x <= n; x++) {
      const key = x % KEYS;
      const c = (counts.get(key) ?? 0) + 1;
      counts.set(key, c);
      count++;
      if (c > max) max = c;
    }
    return { count, max };
  },
};

export function keyedCountRecords(quick: boolean): number {
  return quick ? 2_000_000 : 20_000_000;
}

export const keyedCount: Benchmark = {
  name: 'keyed-count',
  summary: 'fromSequence → map → keyBy → ValueState count → sink, p=1, inline and threads',
  run(options) {
    const n = keyedCountRecords(options.quick);
    return measure(
      'keyed-count',
      [
        { job: keyedCountJob, mode: 'inline', parallelism: 1, n },
        { job: keyedCountJob, mode: 'threads', parallelism: 1, n },
      ],
      keyedCountCheck,
      options,
    );
  },
};
