/**
 * Hosts a `SourceFunction`: its own `run` loop emits through a SourceContext. `collect()` returns
 * a promise only when the task must pause (backpressure, a suspension, its time slice spent, a
 * checkpoint in progress); awaiting it is what makes a push source backpressured and
 * cooperative. No closure or promise is created per record unless the source must pause.
 *
 * Checkpoints: a trigger accepted while the function runs is taken before its next record (or
 * when it resumes from a pause), so its state describes exactly the records emitted before.
 * After a stopping barrier, records wait: dropped if the savepoint completes, emitted if it fails.
 */
import type { CheckpointId } from '../../core/ids.ts';
import type { SourceContext, SourceFunction } from '../../api/functions.ts';
import { closeFunction, notifyFunction, openFunction, snapshotFunction } from '../operators/udf.ts';
import type { SourceDriver } from './source-driver.ts';
import { mayEmit, type SourceTaskHost } from './source-task-host.ts';
import { SLICE_MS } from './split-reader-driver.ts';
import { monotonicClock } from '../../core/time.ts';

/** What a stopped source awaits: it never settles, so a cancelled or failed source's loop goes no further. */
const NEVER: Promise<void> = new Promise<void>(() => {});

/** Records between two reads of the clock within a slice. */
const CLOCK_EVERY = 256;

export class SourceFunctionDriver implements SourceDriver {
  readonly kind = 'function';
  readonly reader = undefined;
  /** The function is paused inside collect(): its state may not yet reflect the record it emitted. */
  pausedInEmit = false;
  readonly fn: SourceFunction<unknown>;
  readonly #host: SourceTaskHost;
  #resume: (() => void) | undefined;

  constructor(fn: SourceFunction<unknown>, host: SourceTaskHost) {
    this.fn = fn;
    this.#host = host;
  }

  open(): Promise<void> {
    return openFunction(this.fn, this.#host.chain.contexts[0]!);
  }

  processInput(): void {
    // The function's own loop emits; the mailbox runs only mails for this task.
  }

  resume(): void {
    this.#resume?.();
  }

  snapshotState(checkpointId: CheckpointId, timestamp: number): void | Promise<void> {
    return snapshotFunction(this.fn, checkpointId, timestamp);
  }

  notifyCheckpoint(checkpointId: CheckpointId, completed: boolean): void | Promise<void> {
    return notifyFunction(this.fn, checkpointId, completed);
  }

  cancel(): void {
    try {
      this.fn.cancel();
    } catch {
      // cancellation is best effort: the task is going away either way
    }
  }

  close(): Promise<void> {
    return closeFunction(this.fn);
  }

  start(): void {
    const host = this.#host;
    const life = host.lifecycle;
    const mailbox = host.mailbox;
    const cp = host.checkpoints;
    const out = host.chain.headOutput;
    let sinceClock = 0;
    let sliceStart = monotonicClock.now();
    const pause = (): Promise<void> | undefined => {
      if (life.state !== 'RUNNING') return NEVER;
      if (mayEmit(host) && (++sinceClock < CLOCK_EVERY || monotonicClock.now() - sliceStart < SLICE_MS)) {
        if (sinceClock >= CLOCK_EVERY) sinceClock = 0;
        return undefined;
      }
      sinceClock = 0;
      this.pausedInEmit = true;
      return new Promise<void>((resolve) => {
        const check = (): void => {
          if (life.state !== 'RUNNING') return;
          if (mayEmit(host)) {
            this.#resume = undefined;
            this.pausedInEmit = false;
            sliceStart = monotonicClock.now();
            resolve();
            // The function's code after collect() runs in microtasks before this, so its state
            // has caught up with the records it emitted: a deferred checkpoint may run now.
            if (cp.pendingTriggers.size > 0) setImmediate(runDeferred);
          } else this.#resume = () => setImmediate(check);
        };
        setImmediate(check);
      });
    };
    const runDeferred = (): void => {
      try {
        cp.runPendingTriggers();
      } catch (e) {
        host.fail(e);
      }
    };
    // Records take this path once each: no closure or promise is created unless the source must pause.
    const emitRecord = (value: unknown, timestamp: number): void | Promise<void> => {
      if (life.state !== 'RUNNING') return NEVER;
      if (cp.pendingTriggers.size > 0) {
        // A checkpoint is due: it is taken before this record, so the function's state must
        // describe exactly the records emitted before this call (update it after collect()).
        runDeferred();
        if (life.state !== 'RUNNING') return NEVER;
        if (mailbox.suspended > 0) return mailbox.whenResumed().then(() => emitRecord(value, timestamp));
      }
      // After its stopping barrier, the record waits: dropped if the savepoint completes, emitted if it fails.
      if (cp.stopPending !== undefined) return cp.stopCalledOff().then(() => emitRecord(value, timestamp));
      try {
        out.collect(value, timestamp);
      } catch (e) {
        host.fail(e);
        return NEVER;
      }
      return pause();
    };
    const control = (emit: () => void): void => {
      if (life.state !== 'RUNNING' || cp.stopPending !== undefined) return;
      try {
        emit();
      } catch (e) {
        host.fail(e);
      }
    };
    const ctx: SourceContext<unknown> = {
      collect: (value) => emitRecord(value, -Infinity),
      collectWithTimestamp: (value, timestamp) => emitRecord(value, timestamp),
      emitWatermark: (watermark) => control(() => out.emitWatermark(watermark)),
      markAsTemporarilyIdle: () => control(() => out.emitWatermarkStatus(true)),
    };
    let result: void | Promise<void>;
    try {
      result = this.fn.run(ctx);
    } catch (e) {
      host.fail(e);
      return;
    }
    const end = (): void => {
      if (life.state !== 'RUNNING' || host.endingInput) return;
      try {
        out.emitWatermark(Infinity);
      } catch (e) {
        host.fail(e);
        return;
      }
      void host.endInput();
    };
    Promise.resolve(result).then(
      () => {
        // A function that returns while a stop is pending ends normally only if the stop fails.
        if (cp.stopPending !== undefined) void cp.stopCalledOff().then(end);
        else end();
      },
      (e: unknown) => host.fail(e),
    );
  }
}
