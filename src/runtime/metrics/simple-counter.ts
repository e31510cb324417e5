/** A counter that is a number field: `inc()` is an add, nothing else (Flink's SimpleCounter). */
import type { Counter } from '../../api/metrics.ts';

export class SimpleCounter implements Counter {
  count = 0;

  inc(n = 1): void {
    this.count += n;
  }

  dec(n = 1): void {
    this.count -= n;
  }

  getCount(): number {
    return this.count;
  }
}
