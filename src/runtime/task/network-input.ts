/**
 * The input side of a task fed by channels: takes items from its input channels round robin
 * (skipping channels the barrier handler blocked), runs record batches through the head
 * operator in bursts, feeds watermarks and watermark status to each input's valve, and hands
 * barriers, cancel markers and ends of partition to checkpointing.
 *
 * Unaligned checkpoints: a priority barrier is taken before anything else (the channels hand
 * the in-flight data to the checkpoint themselves). After a restore, the channel state to replay is processed first, before any item
 * of a live channel (barriers included) is taken.
 *
 * The burst loop is the task's hottest path: per record it reads the batch, calls the head and
 * checks two counters (suspension, backpressure). Records in are counted per burst.
 */
import { assertNever } from '../../core/errors.ts';
import type { ChannelItem, InputChannel } from '../channel/channel.ts';
import type { ReplayItem } from '../checkpoint/channel-state.ts';
import type { RecordBatch } from '../events.ts';
import type { SimpleCounter } from '../metrics/simple-counter.ts';
import { NO_KEY, tagError, type StreamOperator } from '../operators/operator.ts';
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
  /** The latest watermark handed to the head operator (the currentInputWatermark metric). */
  inputWatermark = -Infinity;
  /** Channels that may still send records. */
  #openInputs: number;
  #rr = 0;
  /** The batch being processed; `channel` undefined for replayed channel state. */
  #current: { batch: RecordBatch; pos: number; channel: InputChannel | undefined; idx: number; input: 0 | 1 } | undefined;
  /** Restored channel state still to replay, before any live input. */
  #replay: readonly ReplayItem[] = [];
  #replayPos = 0;

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
        emitWatermark: (w) => {
          this.inputWatermark = w;
          head.processWatermark(w);
        },
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
          emitWatermark: (w) => {
            this.inputWatermark = w;
            head.processWatermark(w);
          },
          emitIdle: (idle) => head.processWatermarkStatus(idle),
        }),
      ];
    }
  }

  /** Restored channel state to process before any live input (set before start). */
  replayFirst(items: readonly ReplayItem[]): void {
    this.#replay = items;
    this.#replayPos = 0;
  }

  /** Starts reading: every channel schedules the task when an item arrives. */
  start(): void {
    const mailbox = this.#host.mailbox;
    const cp = this.#host.checkpoints;
    for (const i of this.#inputs) {
      i.channel.onItem = () => mailbox.schedule();
      i.channel.onBarrierQueued = (barrier) => cp.onBarrierQueued(barrier);
    }
    if (this.#replay.length > 0) mailbox.schedule();
  }

  /**
   * The unprocessed rest of the batch from a live channel being processed, for an unaligned
   * snapshot taken part-way through it.
   */
  currentRemainder(): { readonly channel: number; readonly batch: RecordBatch; readonly from: number } | undefined {
    const cur = this.#current;
    if (cur === undefined || cur.channel === undefined || cur.pos >= cur.batch.count) return undefined;
    return { channel: cur.idx, batch: cur.batch, from: cur.pos };
  }

  /** One burst: runs until the time slice is spent, the task must wait, or no channel has an item. */
  processInput(): void {
    const host = this.#host;
    const life = host.lifecycle;
    const mailbox = host.mailbox;
    const backpressure = host.backpressure;
    const cp = host.checkpoints;
    const head = this.#head;
    // Priority barriers need no output credit: a back-pressured task still snapshots at once.
    if (!this.#replaying()) {
      while (life.state === 'RUNNING' && mailbox.suspended === 0 && this.#takePriority());
    }
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
        // What a keyBy partitioner computed for the records, handed to the head with each one.
        const keyGroups = cur.batch.keyGroups ?? null;
        const keys = keyGroups === null ? null : (cur.batch.keys ?? null);
        if (keyGroups === null) head.elementKeyGroup = -1;
        if (keys === null) head.elementKey = NO_KEY;
        let pos = cur.pos;
        const from = pos;
        const input = cur.input;
        while (pos < count && budget > 0) {
          const v = values[pos];
          const ts = timestamps === null ? -Infinity : timestamps[pos]!;
          if (keyGroups !== null) {
            head.elementKeyGroup = keyGroups[pos]!;
            if (keys !== null) head.elementKey = keys[pos];
          }
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
          cur.channel?.release();
        }
        continue;
      }
      if (!this.#pollChannel()) break;
    }
    this.#recordsIn.count += processed;
    // Stopped by suspension, backpressure or a pending stop, the task is scheduled again when that
    // ends, and then looks at its channels; stopped for want of items, it waits for one.
    if (life.state === 'RUNNING' && mailbox.suspended === 0 && backpressure.blocked === 0 && cp.stopPending === undefined) {
      if (this.#current !== undefined || this.#replayPos < this.#replay.length || this.#inputs.some((i) => i.channel.hasItem) || this.#watch()) {
        mailbox.schedule();
      }
    }
  }

  /**
   * The task goes idle: every channel is to call onItem when its next item arrives. True if one
   * has an item after all (it came while the others were asked).
   */
  #watch(): boolean {
    let any = false;
    for (const i of this.#inputs) if (i.channel.watch()) any = true;
    return any;
  }

  /**
   * Takes the next item: restored channel state first, then a waiting priority barrier, then
   * the input channels round robin; false when none has one.
   */
  #pollChannel(): boolean {
    if (this.#replayPos < this.#replay.length) {
      this.#replayOne(this.#replay[this.#replayPos++]!);
      return true;
    }
    if (this.#takePriority()) return true;
    const inputs = this.#inputs;
    const n = inputs.length;
    const barriers = this.#host.checkpoints.barriers;
    for (let k = 0; k < n; k++) {
      const idx = (this.#rr + k) % n;
      const inp = inputs[idx]!;
      if (!inp.channel.hasItem || barriers?.isBlocked(idx)) continue;
      this.#rr = (idx + 1) % n;
      const item = inp.channel.poll();
      if (item === undefined) continue;
      this.#dispatch(idx, inp, item, n);
      return true;
    }
    return false;
  }

  /**
   * Whether restored channel state is still being processed, the last replayed batch included: no
   * barrier may be taken before (a snapshot then would not hold the rest of that batch).
   */
  #replaying(): boolean {
    return this.#replayPos < this.#replay.length || (this.#current !== undefined && this.#current.channel === undefined);
  }

  /** Takes one waiting priority barrier, if any channel has one. */
  #takePriority(): boolean {
    const inputs = this.#inputs;
    const n = inputs.length;
    for (let idx = 0; idx < n; idx++) {
      const inp = inputs[idx]!;
      if (!inp.channel.hasPriority) continue;
      const item = inp.channel.poll();
      if (item === undefined) continue;
      this.#dispatch(idx, inp, item, n);
      return true;
    }
    return false;
  }

  /** One restored item; watermarks go to the channel they came through. */
  #replayOne(r: ReplayItem): void {
    const item = r.item;
    if (item.kind === 'records') {
      this.#current = { batch: item.batch, pos: 0, channel: undefined, idx: -1, input: r.input };
      this.#prefetch(item.batch, r.input, undefined);
      return;
    }
    const inp = r.channel === undefined ? undefined : this.#inputs[r.channel];
    if (inp === undefined) return;
    if (item.kind === 'watermark') this.#valves[inp.input]!.inputWatermark(inp.valveChannel, item.timestamp);
    else if (item.kind === 'watermark-status') this.#valves[inp.input]!.inputIdle(inp.valveChannel, item.idle);
  }

  /**
   * A keyed head on a backend that keeps state off the heap (KeyedStateBackend.prefetch) reads
   * the state of the batch's keys before the batch runs: the task waits (suspended) until it is
   * read. A key selector that throws is left to processing, which reports it for its record.
   *
   * While a batch runs, the state of the batch queued behind it in the same channel is read
   * ahead (#readAhead), so that the task does not wait for each read in turn. When that batch
   * comes up, the task waits only for what of that read is still under way; keys the read
   * could not install (written or evicted meanwhile) are read when used. Reading ahead is only
   * ever an optimisation: a prefetch never decides a value (KeyedStateBackend.prefetch).
   */
  #prefetch(batch: RecordBatch, input: 0 | 1, channel: InputChannel | undefined): void {
    const ctx = this.#head.ctx as StreamOperator['ctx'] | undefined;
    const backend = ctx?.keyedBackend;
    if (ctx === undefined || backend?.prefetch === undefined) return;
    const selector = ctx.node.keySelectors[input];
    if (selector === undefined) return;
    const prefetch: Prefetch = (keys, keyGroups) => backend.prefetch!(keys, keyGroups);
    const ahead = this.#ahead;
    this.#ahead = undefined;
    let read: Promise<void> | undefined;
    if (ahead !== undefined && ahead.batch === batch) read = ahead.done ? undefined : ahead.read;
    else read = prefetchBatch(prefetch, batch, selector);
    if (channel !== undefined) this.#readAhead(channel, prefetch, selector);
    if (read !== undefined) this.#host.mailbox.suspendUntil(read);
  }

  /** The read of the state of the batch queued next, started while the batch before it runs. */
  #ahead: { readonly batch: RecordBatch; readonly read: Promise<void> | undefined; done: boolean } | undefined;

  #readAhead(channel: InputChannel, prefetch: Prefetch, selector: (value: unknown) => unknown): void {
    const next = channel.peekRecords();
    if (next === undefined) return;
    const read = prefetchBatch(prefetch, next, selector);
    const ahead = { batch: next, read, done: read === undefined };
    // A read that fails is reported when its batch comes up (the task waits for it then), or
    // not at all if the task ends first: it only ever saved reads.
    read?.then(
      () => {
        ahead.done = true;
      },
      () => {},
    );
    this.#ahead = ahead;
  }

  #dispatch(idx: number, inp: Input, item: ChannelItem, n: number): void {
    const cp = this.#host.checkpoints;
    const barriers = cp.barriers;
    switch (item.kind) {
      case 'records':
        this.#current = { batch: item.batch, pos: 0, channel: inp.channel, idx, input: inp.input };
        this.#prefetch(item.batch, inp.input, inp.channel);
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
      case 'priority-barrier':
        if (barriers) cp.onBarrier(idx, item.barrier, n, true);
        break;
      case 'cancel-checkpoint-marker':
        cp.onCancelMarker(item.checkpointId);
        break;
      default:
        assertNever(item, 'channel item');
    }
  }

  /** A channel sends no more records; once none does, the task's input ended. */
  #dataEnded(inp: Input): void {
    if (inp.dataEnded) return;
    inp.dataEnded = true;
    if (--this.#openInputs === 0 && this.#host.lifecycle.running) void this.#host.endInput();
  }
}

type Prefetch = (keys: readonly unknown[], keyGroups?: ArrayLike<number>) => Promise<void> | undefined;

/**
 * Prefetches the state of a batch's keys: the keys the partitioner selected, with their key
 * groups, where they travel with the batch (from the same thread); otherwise the keys selected
 * again, with the key groups where the batch carries them and every selection succeeded. A key
 * selector that throws is skipped here; processing the record reports it.
 */
function prefetchBatch(prefetch: Prefetch, batch: RecordBatch, selector: (value: unknown) => unknown): Promise<void> | undefined {
  const { values, count } = batch;
  const keyGroups = batch.keyGroups ?? undefined;
  const carried = keyGroups !== undefined && batch.keys ? batch.keys : undefined;
  if (carried !== undefined) return prefetch(carried.length === count ? carried : carried.slice(0, count), keyGroups);
  const keys: unknown[] = [];
  let aligned = true;
  for (let i = 0; i < count; i++) {
    try {
      keys.push(selector(values[i]));
    } catch {
      aligned = false; // reported when the record is processed
    }
  }
  return prefetch(keys, aligned ? keyGroups : undefined);
}
