/**
 * A channel within one thread: batches are handed over as objects, never copied or
 * serialised. Producer and consumer must treat records as immutable once emitted.
 */
import type { CheckpointBarrier, RecordBatch } from '../events.ts';
import { CreditedOutput, CreditReturner, type ChannelItem, type Prepared } from './channel.ts';
import { QueuedInput } from './queued-input.ts';

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

class LocalInput extends QueuedInput {
  credits!: CreditReturner;

  deliver(item: ChannelItem): void {
    this.arrive(item);
  }
  deliverPriority(barrier: CheckpointBarrier, overtaken: number): void {
    this.arrivePriority(barrier, overtaken);
  }
  /** Nothing is serialised on a local channel. */
  protected decode(): ChannelItem {
    throw new Error('internal: a local channel holds no serialised batches');
  }
  /** Credits return on the next turn, like a remote channel's, so producers and consumers interleave. */
  release(): void {
    this.credits.release();
  }
  close(): void {}
}
