/**
 * A meter over a counter (Flink's MeterView): the rate is the counter's increase over the
 * latest `spanSeconds`, computed from samples the registry takes when it snapshots (`update()`),
 * so marking an event costs a counter increment and nothing more. Time comes from the injected
 * clock.
 */
import type { Counter, Meter } from '../../api/metrics.ts';
import type { Clock } from '../../core/time.ts';
import { SimpleCounter } from './simple-counter.ts';

export class MeterView implements Meter {
  readonly #counter: Counter;
  readonly #spanMs: number;
  readonly #clock: Clock;
  /** (time, count) samples, oldest first, none older than the span before the newest. */
  readonly #samples: [number, number][] = [];

  constructor(clock: Clock, spanSeconds = 60, counter: Counter = new SimpleCounter()) {
    this.#clock = clock;
    this.#spanMs = spanSeconds * 1000;
    this.#counter = counter;
    this.update();
  }

  markEvent(n = 1): void {
    this.#counter.inc(n);
  }

  getCount(): number {
    return this.#counter.getCount();
  }

  /** Takes a sample; the rate covers the samples within the span. */
  update(): void {
    const now = this.#clock.now();
    this.#samples.push([now, this.#counter.getCount()]);
    while (this.#samples.length > 2 && now - this.#samples[1]![0] >= this.#spanMs) this.#samples.shift();
  }

  getRate(): number {
    const first = this.#samples[0]!;
    const last = this.#samples[this.#samples.length - 1]!;
    const ms = last[0] - first[0];
    return ms <= 0 ? 0 : ((last[1] - first[1]) * 1000) / ms;
  }
}
