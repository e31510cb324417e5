/**
 * A task's I/O metrics with Flink's names, on the task's group and on the operators of its
 * chain that own the figure:
 *
 *   numRecordsIn, numRecordsOut              records read from input channels, sent to output channels
 *   numRecordsInPerSecond, …OutPerSecond     their rates over the latest 60 s (meters over the counters)
 *   numBytesIn, numBytesOut                  bytes of serialised batches received and sent (batches
 *                                            between threads; a channel within a thread moves
 *                                            objects and counts no bytes)
 *   currentInputWatermark                    ms: the latest watermark the task's input produced
 *   currentOutputWatermark                   ms: the latest watermark the task sent on; without
 *                                            outputs (a sink), the input's
 *   checkpointAlignmentTime                  ns: the alignment of the latest checkpoint
 *   checkpointStartDelayNanos                ns: from the latest checkpoint's trigger to its first barrier
 *
 * A watermark not seen yet reads Flink's Long.MIN_VALUE. Records are counted where they already
 * are counted per batch (a field add), bytes per batch on the channel; nothing here is on the
 * path of a record: the rest are gauges read when the metrics are.
 */
import type { Counter, Meter, MetricGroup } from '../../api/metrics.ts';
import type { Clock } from '../../core/time.ts';
import { MeterView } from './meter-view.ts';
import type { SimpleCounter } from './simple-counter.ts';

/** Flink's "no watermark" (Long.MIN_VALUE): what a watermark metric reads before the first one. */
export const NO_WATERMARK = -(2 ** 63);

/** What the task's I/O metrics read. */
export interface TaskIo {
  readonly recordsIn: SimpleCounter;
  readonly recordsOut: SimpleCounter;
  bytesIn(): number;
  bytesOut(): number;
  /** -Infinity before the first watermark. */
  inputWatermark(): number;
  outputWatermark(): number;
  alignmentMs(): number;
  startDelayMs(): number;
}

/** A counter whose count is computed (sums kept elsewhere); incrementing it is not supported. */
function computedCounter(count: () => number): Counter {
  return {
    inc: () => {
      throw new Error('a computed counter cannot be incremented');
    },
    dec: () => {
      throw new Error('a computed counter cannot be decremented');
    },
    getCount: count,
  };
}

const watermark = (w: number): number => (w === -Infinity ? NO_WATERMARK : w);

export interface TaskIoMetrics {
  readonly bytesIn: Counter;
  readonly bytesOut: Counter;
  readonly recordsInRate: Meter;
  readonly recordsOutRate: Meter;
}

/** Registers the task-level figures; the returned metrics are shared with the operators' groups. */
export function registerTaskIoMetrics(task: MetricGroup, clock: Clock, io: TaskIo): TaskIoMetrics {
  const m: TaskIoMetrics = {
    bytesIn: computedCounter(io.bytesIn),
    bytesOut: computedCounter(io.bytesOut),
    recordsInRate: new MeterView(clock, 60, io.recordsIn),
    recordsOutRate: new MeterView(clock, 60, io.recordsOut),
  };
  task.counter('numBytesIn', m.bytesIn);
  task.counter('numBytesOut', m.bytesOut);
  task.meter('numRecordsInPerSecond', m.recordsInRate);
  task.meter('numRecordsOutPerSecond', m.recordsOutRate);
  task.gauge('currentInputWatermark', () => watermark(io.inputWatermark()));
  task.gauge('currentOutputWatermark', () => watermark(io.outputWatermark()));
  task.gauge('checkpointAlignmentTime', () => Math.round(io.alignmentMs() * 1e6));
  task.gauge('checkpointStartDelayNanos', () => Math.round(io.startDelayMs() * 1e6));
  return m;
}

/**
 * The operator-level figures: input figures on the chain's head (what the task reads, it reads),
 * output figures on the operator whose output leaves the task, when a single operator does.
 */
export function registerOperatorIoMetrics(
  io: TaskIo,
  task: TaskIoMetrics,
  head: MetricGroup | undefined,
  writer: MetricGroup | undefined,
): void {
  if (head !== undefined) {
    head.counter('numRecordsIn', io.recordsIn);
    head.meter('numRecordsInPerSecond', task.recordsInRate);
    head.gauge('currentInputWatermark', () => watermark(io.inputWatermark()));
  }
  if (writer !== undefined) {
    writer.counter('numRecordsOut', io.recordsOut);
    writer.meter('numRecordsOutPerSecond', task.recordsOutRate);
    writer.gauge('currentOutputWatermark', () => watermark(io.outputWatermark()));
  }
}
