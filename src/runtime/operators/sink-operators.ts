/** Operators that end a pipeline: user sink functions, print, and the collect sink. */
import { inspect } from 'node:util';
import type { SinkContext, SinkFunction } from '../../api/functions.ts';
import { StreamOperator, tagError, type OperatorContext } from './operator.ts';
import { UdfOperator } from './udf.ts';

/** Whether a SinkFunction.invoke result is a promise to wait for. */
export function isPromise(r: unknown): r is PromiseLike<void> {
  return r !== undefined && r !== null && typeof (r as PromiseLike<void>).then === 'function';
}

/**
 * Hosts a SinkFunction. An `invoke` may return a promise (an asynchronous write): the task then
 * stops taking input, and records already on their way through the chain (a source emits
 * several per poll) wait here, so that invocations never overlap and keep the records' order.
 */
export class SinkFunctionOperator extends UdfOperator<SinkFunction<unknown>> implements SinkContext {
  /** The timestamp of the record being invoked (-Infinity: none); set by whoever calls invoke. */
  currentTimestamp = -Infinity;
  /** While an invocation's promise is pending: the records that arrived since, as value, timestamp pairs. */
  queued: unknown[] | null = null;
  #watermark = -Infinity;

  processElement(value: unknown, timestamp: number): void {
    if (this.queued !== null) {
      this.queued.push(value, timestamp);
      return;
    }
    this.currentTimestamp = timestamp;
    const r = this.fn.invoke(value, this);
    if (isPromise(r)) this.waitFor(r);
  }

  /** An invocation returned `pending`: the task waits until it and every record queued behind it are done. */
  waitFor(pending: PromiseLike<void>): void {
    this.queued = [];
    this.ctx.suspendUntil(this.#drain(pending));
  }

  async #drain(pending: PromiseLike<void>): Promise<void> {
    try {
      await pending;
      const q = this.queued!;
      for (let i = 0; i < q.length; i += 2) {
        this.currentTimestamp = q[i + 1] as number;
        const r = this.fn.invoke(q[i], this);
        if (isPromise(r)) await r;
      }
      this.queued = null;
    } catch (e) {
      throw tagError(e, this.ctx);
    }
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
    return this.currentTimestamp === -Infinity ? undefined : this.currentTimestamp;
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
