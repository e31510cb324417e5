/**
 * chained-map-filter: fromSequence → map(x * 2) → filter(x % 3 !== 0) → counting sink at
 * parallelism 1, all chained into one task: the per-record cost of the operator chain itself.
 */
import { fileURLToPath } from 'node:url';
import { measure, type Benchmark, type Check } from './harness.ts';

const job = fileURLToPath(new URL('./jobs/chained-map-filter.ts', import.meta.url));

const check: Check = {
  expected(n) {
    // i * 2 is divisible by 3 exactly when i is; the largest kept value is 2 * (largest i not divisible by 3).
    return { count: n - Math.floor(n / 3), max: 2 * (n % 3 === 0 ? n - 1 : n) };
  },
  plain(n) {
    let count = 0;
    let max = -Infinity;
    for (let i = 1; i <= n; i++) {
      const y = i * 2;
      if (y % 3 !== 0) {
        count++;
        if (y > max) max = y;
      }
    }
    return { count, max };
  },
};

export const chainedMapFilter: Benchmark = {
  name: 'chained-map-filter',
  summary: 'fromSequence → map → filter → sink, one chained task (p=1), inline and threads',
  run(options) {
    // The chain runs at tens of millions of records a second, so it needs more records than the
    // keyed benchmarks for a run of 1–3 s.
    const n = options.quick ? 20_000_000 : 200_000_000;
    return measure(
      'chained-map-filter',
      [
        { job, mode: 'inline', parallelism: 1, n },
        { job, mode: 'threads', parallelism: 1, n },
      ],
      check,
      options,
    );
  },
};
