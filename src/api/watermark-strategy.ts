/**
 * Public event-time API: how a source extracts timestamps and generates watermarks
 * (Flink's WatermarkStrategy, TimestampAssigner and WatermarkGenerator).
 *
 * Watermarks and timestamps are milliseconds. A watermark `w` declares that no more records
 * with a timestamp `<= w` are expected. `MIN_WATERMARK` means "no watermark yet" and
 * `MAX_WATERMARK` means "end of input": event time is over and every event-time timer fires.
 */

import type { Clock } from '../core/time.ts';

/** No watermark has been seen yet; also the timestamp of a record that carries none. */
export const MIN_WATERMARK = -Infinity;
/** End of input: no record will follow. */
export const MAX_WATERMARK = Infinity;

/**
 * (element, recordTimestamp) → event time in ms; `recordTimestamp` is undefined when the record
 * has none (for example, it came from a source that does not attach timestamps).
 */
export type TimestampAssigner<T> = (element: T, recordTimestamp: number | undefined) => number;

/** Where a generator sends its watermarks and idleness changes. */
export interface WatermarkOutput {
  emitWatermark(watermark: number): void;
  /** No records are expected for a while: downstream stops waiting for this output's watermark. */
  markIdle(): void;
  /** Records flow again after `markIdle`. */
  markActive(): void;
}

/**
 * Generates watermarks from the events it sees (`onEvent`) and on a fixed interval driven by the
 * runtime (`onPeriodicEmit`). It may emit from either.
 *
 * A generator need not emit strictly increasing or deduplicated watermarks: the operator that
 * drives it forwards only watermarks that advance its output, so a repeated or lower value is
 * dropped there.
 */
export interface WatermarkGenerator<T> {
  onEvent(event: T, eventTimestamp: number, output: WatermarkOutput): void;
  onPeriodicEmit(output: WatermarkOutput): void;
}

/** What a generator factory gets from the runtime. */
export interface WatermarkGeneratorContext {
  /** The task's clock; generators must measure processing time with it, never with Date.now(). */
  readonly clock: Clock;
}

type GeneratorFactory<T> = (ctx: WatermarkGeneratorContext) => WatermarkGenerator<T>;

/**
 * Tracks the highest event timestamp seen and, on each periodic emit, declares
 * `maxTimestamp - maxOutOfOrderness - 1`: records may arrive up to `maxOutOfOrderness` ms
 * behind the newest one and still be on time.
 */
class BoundedOutOfOrdernessGenerator<T> implements WatermarkGenerator<T> {
  readonly #bound: number;
  #maxTimestamp = MIN_WATERMARK;

  constructor(bound: number) {
    this.#bound = bound;
  }

  onEvent(_event: T, eventTimestamp: number): void {
    // Only real timestamps move event time: a record without one (−∞) or a non-finite value
    // must not declare the end of input or poison the maximum with NaN.
    if (Number.isFinite(eventTimestamp) && eventTimestamp > this.#maxTimestamp) {
      this.#maxTimestamp = eventTimestamp;
    }
  }

  onPeriodicEmit(output: WatermarkOutput): void {
    // Until the first event there is nothing to declare (the watermark would be MIN anyway).
    if (this.#maxTimestamp === MIN_WATERMARK) return;
    output.emitWatermark(this.#maxTimestamp - this.#bound - 1);
  }
}

class NoWatermarksGenerator<T> implements WatermarkGenerator<T> {
  onEvent(): void {}
  onPeriodicEmit(): void {}
}

/**
 * Wraps a generator so that its output is marked idle when no event has arrived for
 * `timeoutMs` (checked on periodic emits, measured with the context's clock), and active again
 * at the next event. While idle the wrapped generator is not asked for periodic watermarks.
 */
class IdlenessGenerator<T> implements WatermarkGenerator<T> {
  readonly #inner: WatermarkGenerator<T>;
  readonly #clock: Clock;
  readonly #timeoutMs: number;
  #lastActivity: number;
  #idle = false;

  constructor(inner: WatermarkGenerator<T>, clock: Clock, timeoutMs: number) {
    this.#inner = inner;
    this.#clock = clock;
    this.#timeoutMs = timeoutMs;
    // A source that never produces anything becomes idle one timeout after it started.
    this.#lastActivity = clock.now();
  }

  onEvent(event: T, eventTimestamp: number, output: WatermarkOutput): void {
    this.#lastActivity = this.#clock.now();
    if (this.#idle) {
      this.#idle = false;
      output.markActive();
    }
    this.#inner.onEvent(event, eventTimestamp, output);
  }

  onPeriodicEmit(output: WatermarkOutput): void {
    if (this.#idle) return;
    if (this.#clock.now() - this.#lastActivity >= this.#timeoutMs) {
      this.#idle = true;
      output.markIdle();
      return;
    }
    this.#inner.onPeriodicEmit(output);
  }
}

interface StrategyParts<T> {
  readonly factory: GeneratorFactory<T>;
  readonly assigner: TimestampAssigner<T> | undefined;
  readonly idleTimeoutMs: number | undefined;
}

/**
 * Says how a stream gets event time: which timestamp each record has and which watermarks
 * follow. Immutable: every `with*` returns a new strategy, so one strategy can be shared by
 * several sources.
 */
export class WatermarkStrategy<T> {
  readonly #factory: GeneratorFactory<T>;
  readonly #assigner: TimestampAssigner<T> | undefined;
  /** Idle timeout set by `withIdleness`, undefined when the source never goes idle by itself. */
  readonly idleTimeoutMs: number | undefined;

  private constructor(parts: StrategyParts<T>) {
    this.#factory = parts.factory;
    this.#assigner = parts.assigner;
    this.idleTimeoutMs = parts.idleTimeoutMs;
    Object.freeze(this);
  }

  /** For timestamps that never decrease: the watermark trails the newest timestamp by 1 ms. */
  static forMonotonousTimestamps<T>(): WatermarkStrategy<T> {
    return WatermarkStrategy.forBoundedOutOfOrderness<T>(0);
  }

  /**
   * For records that arrive at most `maxOutOfOrdernessMs` behind the newest one. The watermark
   * `maxTimestamp - maxOutOfOrdernessMs - 1` is emitted on periodic emits only.
   */
  static forBoundedOutOfOrderness<T>(maxOutOfOrdernessMs: number): WatermarkStrategy<T> {
    if (typeof maxOutOfOrdernessMs !== 'number' || !Number.isFinite(maxOutOfOrdernessMs) || maxOutOfOrdernessMs < 0) {
      throw new RangeError(
        `maxOutOfOrdernessMs must be a finite number >= 0, got ${String(maxOutOfOrdernessMs)}`,
      );
    }
    return new WatermarkStrategy<T>({
      factory: () => new BoundedOutOfOrdernessGenerator<T>(maxOutOfOrdernessMs),
      assigner: undefined,
      idleTimeoutMs: undefined,
    });
  }

  /** No watermarks at all: for processing-time pipelines, where event-time timers never fire. */
  static noWatermarks<T>(): WatermarkStrategy<T> {
    return new WatermarkStrategy<T>({
      factory: () => new NoWatermarksGenerator<T>(),
      assigner: undefined,
      idleTimeoutMs: undefined,
    });
  }

  /** A custom generator; the factory runs once per source subtask. */
  static forGenerator<T>(factory: (ctx: WatermarkGeneratorContext) => WatermarkGenerator<T>): WatermarkStrategy<T> {
    if (typeof factory !== 'function') {
      throw new TypeError('forGenerator needs a function that creates a WatermarkGenerator');
    }
    return new WatermarkStrategy<T>({ factory, assigner: undefined, idleTimeoutMs: undefined });
  }

  /** Takes each record's event time from `assigner` instead of the timestamp it carries. */
  withTimestampAssigner(assigner: TimestampAssigner<T>): WatermarkStrategy<T> {
    if (typeof assigner !== 'function') {
      throw new TypeError('withTimestampAssigner needs a function (element, recordTimestamp) => number');
    }
    return new WatermarkStrategy<T>({ factory: this.#factory, assigner, idleTimeoutMs: this.idleTimeoutMs });
  }

  /**
   * Marks the source idle after `idleTimeoutMs` without records, so that downstream operators
   * combining several inputs are not held back by a partition that has gone quiet.
   */
  withIdleness(idleTimeoutMs: number): WatermarkStrategy<T> {
    if (typeof idleTimeoutMs !== 'number' || !Number.isFinite(idleTimeoutMs) || idleTimeoutMs <= 0) {
      throw new RangeError(`idleTimeoutMs must be a finite number > 0, got ${String(idleTimeoutMs)}`);
    }
    return new WatermarkStrategy<T>({ factory: this.#factory, assigner: this.#assigner, idleTimeoutMs });
  }

  /** The assigner, or undefined to keep the timestamp each record already carries. */
  createTimestampAssigner(): TimestampAssigner<T> | undefined {
    return this.#assigner;
  }

  /** A fresh generator for one source subtask, wrapped for idleness when configured. */
  createWatermarkGenerator(ctx: WatermarkGeneratorContext): WatermarkGenerator<T> {
    const generator = this.#factory(ctx);
    if (this.idleTimeoutMs === undefined) return generator;
    return new IdlenessGenerator(generator, ctx.clock, this.idleTimeoutMs);
  }
}
