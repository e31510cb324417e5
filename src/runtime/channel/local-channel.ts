/**
 * A channel within one thread: batches are handed over as objects, never copied or
 * serialised. Producer and consumer must treat records as immutable once emitted.
 */
import type { CheckpointBarrier, RecordBatch } from '../events.ts';
import { CreditedOutput, CreditReturner, hasAlignedTimeout, PriorityInbox, Queue, type ChannelItem, type InputChannel, type Prepared } from './channel.ts';

export class LocalChannel {
  readonly output: LocalOutput;
  readonly input: LocalInput;

  constructor(credits: number) {
    this.input = new LocalInput();
    this.output = new LocalOutput(credits, this.input);
    this.input.credits = new CreditReturner((n) => this.output.grant(n));
  }
}

class LocalOutput extends CreditedOutput<RecordBatch> {
  constructor(
    credits: number,
    readonly input: LocalInput,
  ) {
    super(credits);
  }
  protected prepare(batch: RecordBatch): RecordBatch {
    return batch;
  }
  /** Nothing is serialised: a batch costs references only. */
  batchCapacity(maxRecords: number): number {
    return maxRecords;
  }
  protected transmit(item: Prepared<RecordBatch>): void {
    this.input.deliver(item.kind === 'records' ? { kind: 'records', batch: item.payload } : item);
  }
  protected transmitPriority(barrier: CheckpointBarrier, overtaken: number): void {
    this.input.deliverPriority(barrier, overtaken);
  }
  grant(n: number): void {
    this.addCredits(n);
  }
  close(): void {}
}

class LocalInput implements InputChannel {
  readonly #queue = new Queue<ChannelItem>();
  readonly #priority = new PriorityInbox();
  onItem: (() => void) | undefined = undefined;
  onBarrierQueued: ((barrier: CheckpointBarrier) => void) | undefined = undefined;
  credits!: CreditReturner;

  deliver(item: ChannelItem): void {
    this.#queue.push(item);
    if (hasAlignedTimeout(item)) this.onBarrierQueued?.(item);
    if (this.#queue.length === 1) this.onItem?.();
  }
  deliverPriority(barrier: CheckpointBarrier, overtaken: number): void {
    this.#priority.arrived(barrier, this.#queue.length, overtaken);
    this.onItem?.();
  }
  get hasItem(): boolean {
    return this.#queue.length > 0 || this.#priority.waiting;
  }
  get hasPriority(): boolean {
    return this.#priority.waiting;
  }
  poll(): ChannelItem | undefined {
    if (this.#priority.waiting) return this.#priority.take();
    const item = this.#queue.shift();
    if (item !== undefined) this.#priority.polledOne();
    return item;
  }
  prioritize(checkpointId: number): boolean {
    if (!this.#priority.prioritizeQueued(this.#queue, checkpointId)) return false;
    this.onItem?.();
    return true;
  }
  /** Credits return on the next turn, like a remote channel's, so producers and consumers interleave. */
  release(): void {
    this.credits.release();
  }
  close(): void {}
}

