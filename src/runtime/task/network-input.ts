/**
 * The input side of a task fed by channels: takes items from its input channels round robin
 * (skipping channels the barrier handler blocked), runs record batches through the head
 * operator in bursts, feeds watermarks and watermark status to each input's valve, and hands
 * barriers, cancel markers and ends of partition to checkpointing.
 *
 * The burst loop is the task's hottest path: per record it reads the batch, calls the head and
 * checks two counters (suspension, backpressure). Records in are counted per burst.
 */
import { assertNever } from '../../core/errors.ts';
import type { InputChannel } from '../channel/channel.ts';
import type { RecordBatch } from '../events.ts';
import type { SimpleCounter } from '../metrics/simple-counter.ts';
import { tagError, type StreamOperator } from '../operators/operator.ts';
import type { Backpressure } from '../record-writer.ts';
import { StatusWatermarkValve } from '../watermark-valve.ts';
import type { CheckpointParticipant } from './checkpoint-participant.ts';
import { SLICE_MS } from './split-reader-driver.ts';
import type { TaskLifecycle } from './task-lifecycle.ts';
import type { TaskMailbox } from './task-mailbox.ts';
import { monotonicClock } from '../../core/time.ts';

/** Records between two reads of the clock within a burst. */
const CLOCK_EVERY = 256;

export interface NetworkInputHost {
  readonly lifecycle: TaskLifecycle;
  readonly mailbox: TaskMailbox;
  readonly backpressure: Backpressure;
  readonly checkpoints: CheckpointParticipant;
  /**
   * Every input channel delivered end-of-data or end-of-partition: the task's input ended.
   * Called once.
   */
  endInput(): Promise<void>;
}

interface Input {
  readonly channel: InputChannel;
  readonly input: 0 | 1;
  /** This channel's index in its input's valve. */
  readonly valveChannel: number;
  /** End-of-partition arrived: the channel is closed. */
  ended: boolean;
  /** End-of-data or end-of-partition arrived: no more records come (barriers may, until end-of-partition). */
  dataEnded: boolean;
}

export class NetworkInput {
  readonly #inputs: Input[];
  readonly #host: NetworkInputHost;
  readonly #head: StreamOperator;
  readonly #valves: StatusWatermarkValve[];
  readonly #recordsIn: SimpleCounter;
  /** Channels that may still send records. */
  #openInputs: number;
  #rr = 0;
  #current: { batch: RecordBatch; pos: number; channel: InputChannel; input: 0 | 1 } | undefined;

  constructor(
    channels: readonly { readonly channel: InputChannel; readonly input: 0 | 1 }[],
    head: StreamOperator,
    twoInput: boolean,
    host: NetworkInputHost,
    recordsIn: SimpleCounter,
  ) {
    const perInput = [0, 0];
    this.#inputs = channels.map(({ channel, input }) => ({ channel, input, valveChannel: perInput[input]!++, ended: false, dataEnded: false }));
    this.#openInputs = this.#inputs.length;
    this.#host = host;
    this.#head = head;
    this.#recordsIn = recordsIn;
    if (twoInput) {
      const combined = new StatusWatermarkValve(2, {
        emitWatermark: (w) => head.processWatermark(w),
        emitIdle: (idle) => head.processWatermarkStatus(idle),
      });
      this.#valves = [0, 1].map(
        (i) =>
          new StatusWatermarkValve(Math.max(1, perInput[i]!), {
            emitWatermark: (w) => combined.inputWatermark(i, w),
            emitIdle: (idle) => combined.inputIdle(i, idle),
          }),
      );
    } else {
      this.#valves = [
        new StatusWatermarkValve(Math.max(1, perInput[0]!), {
          emitWatermark: (w) => head.processWatermark(w),
          emitIdle: (idle) => head.processWatermarkStatus(idle),
        }),
      ];
    }
  }

  /** Starts reading: every channel schedules the task when an item arrives. */
  start(): void {
    const mailbox = this.#host.mailbox;
    for (const i of this.#inputs) i.channel.onItem = () => mailbox.schedule();
  }

  /** One burst: runs until the time slice is spent, the task must wait, or no channel has an item. */
  processInput(): void {
    const host = this.#host;
    const life = host.lifecycle;
    const mailbox = host.mailbox;
    const backpressure = host.backpressure;
    const cp = host.checkpoints;
    const head = this.#head;
    const start = monotonicClock.now();
    let budget = CLOCK_EVERY;
    let processed = 0;
    while (life.state === 'RUNNING' && mailbox.suspended === 0 && backpressure.blocked === 0 && cp.stopPending === undefined) {
      if (budget <= 0) {
        if (monotonicClock.now() - start >= SLICE_MS) break;
        budget = CLOCK_EVERY;
      }
      const cur = this.#current;
      if (cur) {
        const { values, timestamps, count } = cur.batch;
        let pos = cur.pos;
        const from = pos;
        const input = cur.input;
        while (pos < count && budget > 0) {
          const v = values[pos];
          const ts = timestamps === null ? -Infinity : timestamps[pos]!;
          pos++;
          budget--;
          try {
            head.processElement(v, ts, input);
          } catch (e) {
            throw tagError(e, head.ctx);
          }
          if (mailbox.suspended > 0 || backpressure.blocked > 0) break;
        }
        processed += pos - from;
        cur.pos = pos;
        if (pos >= count) {
          this.#current = undefined;
          cur.channel.release();
        }
        continue;
      }
      if (!this.#pollChannel()) break;
    }
    this.#recordsIn.count += processed;
    if (
      life.state === 'RUNNING' &&
      mailbox.suspended === 0 &&
      backpressure.blocked === 0 &&
      cp.stopPending === undefined &&
      (this.#current !== undefined || this.#inputs.some((i) => i.channel.hasItem))
    ) {
      mailbox.schedule();
    }
  }

  /** Takes the next item from the input channels, round robin; false when none has one. */
  #pollChannel(): boolean {
    const inputs = this.#inputs;
    const n = inputs.length;
    const cp = this.#host.checkpoints;
    const barriers = cp.barriers;
    for (let k = 0; k < n; k++) {
      const idx = (this.#rr + k) % n;
      const inp = inputs[idx]!;
      if (!inp.channel.hasItem || barriers?.isBlocked(idx)) continue;
      this.#rr = (idx + 1) % n;
      const item = inp.channel.poll()!;
      switch (item.kind) {
        case 'records':
          this.#current = { batch: item.batch, pos: 0, channel: inp.channel, input: inp.input };
          break;
        case 'watermark':
          this.#valves[inp.input]!.inputWatermark(inp.valveChannel, item.timestamp);
          break;
        case 'watermark-status':
          this.#valves[inp.input]!.inputIdle(inp.valveChannel, item.idle);
          break;
        case 'end-of-partition':
          inp.ended = true;
          cp.onEndOfPartition(idx);
          this.#dataEnded(inp);
          break;
        case 'end-of-data':
          this.#dataEnded(inp);
          break;
        case 'checkpoint-barrier':
          if (barriers) cp.onBarrier(idx, item, n);
          break;
        case 'cancel-checkpoint-marker':
          cp.onCancelMarker(item.checkpointId);
          break;
        default:
          assertNever(item, 'channel item');
      }
      return true;
    }
    return false;
  }

  /** A channel sends no more records; once none does, the task's input ended. */
  #dataEnded(inp: Input): void {
    if (inp.dataEnded) return;
    inp.dataEnded = true;
    if (--this.#openInputs === 0 && this.#host.lifecycle.running) void this.#host.endInput();
  }
}
