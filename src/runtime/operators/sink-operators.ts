/** Operators that end a pipeline: user sink functions, print, and the collect sink. */
import { inspect } from 'node:util';
import type { SinkContext, SinkFunction } from '../../api/functions.ts';
import { StreamOperator, type OperatorContext } from './operator.ts';
import { UdfOperator } from './udf.ts';

export class SinkFunctionOperator extends UdfOperator<SinkFunction<unknown>> implements SinkContext {
  #timestamp = -Infinity;
  #watermark = -Infinity;

  processElement(value: unknown, timestamp: number): void {
    this.#timestamp = timestamp;
    const r = this.fn.invoke(value, this);
    if (r !== undefined && typeof (r as PromiseLike<void>).then === 'function') this.ctx.suspendUntil(r);
  }
  override processWatermark(watermark: number): void {
    this.#watermark = watermark;
  }
  override processWatermarkStatus(): void {}
  override async finish(): Promise<void> {
    await this.fn.finish?.();
  }
  currentProcessingTime(): number {
    return this.ctx.scheduler.now();
  }
  currentWatermark(): number {
    return this.#watermark;
  }
  timestamp(): number | undefined {
    return this.#timestamp === -Infinity ? undefined : this.#timestamp;
  }
}

/** Flink's print format: the value's own toString when it has one, otherwise a compact rendering. */
export function formatValue(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === null || typeof value !== 'object') return String(value);
  const ts = (value as { toString?: unknown }).toString;
  if (typeof ts === 'function' && ts !== Object.prototype.toString && ts !== Array.prototype.toString) return String(value);
  return inspect(value, { breakLength: Infinity, depth: 6 });
}

export class PrintOperator extends StreamOperator {
  readonly #prefix: string;
  constructor(
    ctx: OperatorContext,
    prefix: string | undefined,
    readonly stderr: boolean,
  ) {
    super(ctx);
    let p = prefix ?? '';
    if (ctx.parallelism > 1) p = (p ? p + ':' : '') + String(ctx.subtaskIndex + 1);
    this.#prefix = p ? p + '> ' : '';
  }
  processElement(value: unknown): void {
    this.ctx.print(this.#prefix + formatValue(value), this.stderr);
  }
  override processWatermark(): void {}
  override processWatermarkStatus(): void {}
}

export class CollectOperator extends StreamOperator {
  #buffer: unknown[] = [];
  constructor(
    ctx: OperatorContext,
    readonly collectId: string,
  ) {
    super(ctx);
  }
  processElement(value: unknown): void {
    this.#buffer.push(value);
    if (this.#buffer.length >= 1024) this.#flush();
  }
  #flush(): void {
    if (this.#buffer.length === 0) return;
    this.ctx.collect(this.collectId, this.#buffer);
    this.#buffer = [];
  }
  override processWatermark(): void {}
  override processWatermarkStatus(): void {}
  /** Records before the barrier leave with the epoch they belong to (see LocalJob's collected results). */
  override prepareSnapshotPreBarrier(): void {
    this.#flush();
  }
  override finish(): void {
    this.#flush();
  }
}
