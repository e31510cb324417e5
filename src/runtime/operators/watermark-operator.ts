/**
 * Assigns timestamps and generates watermarks from a WatermarkStrategy. Upstream watermarks
 * are ignored except the final one (end of input), as in Flink: this operator is the source of
 * event time for everything after it.
 */
import type { TimestampAssigner, WatermarkGenerator, WatermarkOutput, WatermarkStrategy } from '../../api/watermark-strategy.ts';
import type { Cancellable } from '../../core/time.ts';
import { StreamOperator, type OperatorContext, type OperatorExtras, type RestoredExtras } from './operator.ts';

export class TimestampsAndWatermarksOperator extends StreamOperator implements WatermarkOutput {
  #assigner: TimestampAssigner<unknown> | undefined;
  #generator!: WatermarkGenerator<unknown>;
  #current = -Infinity;
  #idle = false;
  #timer: Cancellable | undefined;

  constructor(
    ctx: OperatorContext,
    readonly strategy: WatermarkStrategy<unknown>,
  ) {
    super(ctx);
  }

  override open(): void {
    this.#assigner = this.strategy.createTimestampAssigner();
    this.#generator = this.strategy.createWatermarkGenerator({ clock: this.ctx.scheduler });
    const interval = this.ctx.config.get('pipeline.auto-watermark-interval');
    if (interval > 0) {
      const tick = (): void => {
        this.#generator.onPeriodicEmit(this);
        this.#timer = this.ctx.scheduler.schedule(interval, tick);
      };
      this.#timer = this.ctx.scheduler.schedule(interval, tick);
    }
  }

  processElement(value: unknown, timestamp: number): void {
    const ts = this.#assigner ? this.#assigner(value, timestamp === -Infinity ? undefined : timestamp) : timestamp;
    this.output.collect(value, ts);
    this.#generator.onEvent(value, ts, this);
  }

  override processWatermark(watermark: number): void {
    if (watermark === Infinity) {
      this.#generator.onPeriodicEmit(this);
      this.emitWatermark(Infinity);
    }
  }

  override processWatermarkStatus(): void {}

  emitWatermark(watermark: number): void {
    if (watermark <= this.#current) return;
    this.markActive();
    this.#current = watermark;
    this.output.emitWatermark(watermark);
  }
  markIdle(): void {
    if (!this.#idle) {
      this.#idle = true;
      this.output.emitWatermarkStatus(true);
    }
  }
  markActive(): void {
    if (this.#idle) {
      this.#idle = false;
      this.output.emitWatermarkStatus(false);
    }
  }

  override close(): void {
    this.#timer?.cancel();
  }

  override snapshotExtras(): OperatorExtras {
    return { watermark: this.#current };
  }

  /** After a restore, watermarks at or below the recorded one are not emitted again. */
  override restoreExtras(extras: RestoredExtras): void {
    if (extras.watermark !== undefined && extras.watermark > this.#current) this.#current = extras.watermark;
  }
}
