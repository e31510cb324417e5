/**
 * A histogram over the latest `size` values (a ring buffer; Flink's DescriptiveStatisticsHistogram).
 * An update writes one slot; statistics are computed when read.
 */
import type { Histogram, HistogramStatistics } from '../../api/metrics.ts';

export class SlidingWindowHistogram implements Histogram {
  readonly #values: Float64Array;
  #count = 0;

  constructor(size = 1024) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`histogram window size must be a positive integer, got ${size}`);
    this.#values = new Float64Array(size);
  }

  update(value: number): void {
    this.#values[this.#count % this.#values.length] = value;
    this.#count++;
  }

  getCount(): number {
    return this.#count;
  }

  getStatistics(): HistogramStatistics {
    const n = Math.min(this.#count, this.#values.length);
    return new WindowStatistics(Array.from(this.#values.subarray(0, n)).sort((a, b) => a - b));
  }
}

class WindowStatistics implements HistogramStatistics {
  readonly #sorted: number[];

  constructor(sorted: number[]) {
    this.#sorted = sorted;
  }

  getQuantile(q: number): number {
    const s = this.#sorted;
    if (s.length === 0) return 0;
    const pos = Math.min(s.length - 1, Math.max(0, q * (s.length - 1)));
    const lo = Math.floor(pos);
    const hi = Math.ceil(pos);
    return s[lo]! + (s[hi]! - s[lo]!) * (pos - lo);
  }

  getValues(): number[] {
    return [...this.#sorted];
  }

  size(): number {
    return this.#sorted.length;
  }

  getMean(): number {
    const s = this.#sorted;
    return s.length === 0 ? 0 : s.reduce((a, b) => a + b, 0) / s.length;
  }

  getStdDev(): number {
    const s = this.#sorted;
    if (s.length < 2) return 0;
    const mean = this.getMean();
    return Math.sqrt(s.reduce((a, v) => a + (v - mean) ** 2, 0) / (s.length - 1));
  }

  getMax(): number {
    return this.#sorted.length === 0 ? 0 : this.#sorted[this.#sorted.length - 1]!;
  }

  getMin(): number {
    return this.#sorted.length === 0 ? 0 : this.#sorted[0]!;
  }
}
