/**
 * A channel between threads over a MessagePort. Batches are serialised by a RecordEncoder
 * owned by the producer and decoded by the consumer when it takes them, so decoding cost
 * lands on the consumer's thread. The port carries three messages: a batch, an event, and
 * credits flowing back.
 */
import type { MessagePort } from 'node:worker_threads';
import { RecordDecoder, RecordEncoder } from '../../core/record-codec.ts';
import type { ChannelEvent, CheckpointBarrier, RecordBatch } from '../events.ts';
import { CreditedOutput, CreditReturner, type ChannelItem, type Prepared } from './channel.ts';
import { QueuedInput } from './queued-input.ts';

/**
 * A batch's bytes, an event, a priority barrier with the count of items it overtook, or credits
 * returned: each posted as itself, as the cost of a message grows with what it wraps.
 */
type Wire = Uint8Array | { e: ChannelEvent } | { p: CheckpointBarrier; o: number } | number;

/** Records in the first batch, before the channel has seen what its records weigh. */
const FIRST_BATCH_RECORDS = 256;

export class RemoteOutput extends CreditedOutput<Uint8Array> {
  readonly #port: MessagePort;
  readonly #encoder: RecordEncoder;
  /** Serialised bytes per record, averaged over recent batches; 0 until the first batch. */
  #recordBytes = 0;
  /** Bytes of the batches serialised so far (the task's numBytesOut). */
  bytesOut = 0;

  constructor(port: MessagePort, credits: number, where: string) {
    super(credits);
    this.#port = port;
    this.#encoder = new RecordEncoder(where);
    port.on('message', (m: Wire) => {
      if (typeof m === 'number') this.addCredits(m);
    });
  }

  protected prepare(batch: RecordBatch): Uint8Array {
    const bytes = this.#encoder.encode(batch.values, batch.timestamps, batch.count);
    this.bytesOut += bytes.byteLength;
    if (batch.count > 0) {
      const perRecord = bytes.byteLength / batch.count;
      this.#recordBytes = this.#recordBytes === 0 ? perRecord : 0.75 * this.#recordBytes + 0.25 * perRecord;
    }
    return bytes;
  }

  batchCapacity(maxRecords: number, maxBytes: number): number {
    if (this.#recordBytes === 0) return Math.min(maxRecords, FIRST_BATCH_RECORDS);
    return Math.max(1, Math.min(maxRecords, Math.floor(maxBytes / this.#recordBytes)));
  }

  protected transmit(item: Prepared<Uint8Array>): void {
    if (item.kind === 'records') {
      const bytes = item.payload;
      this.#port.postMessage(bytes satisfies Wire, [bytes.buffer as ArrayBuffer]);
    } else {
      this.#port.postMessage({ e: item } satisfies Wire);
    }
  }

  protected transmitPriority(barrier: CheckpointBarrier, overtaken: number): void {
    this.#port.postMessage({ p: barrier, o: overtaken } satisfies Wire);
  }

  close(): void {
    this.#port.close();
  }
}

export class RemoteInput extends QueuedInput {
  readonly #port: MessagePort;
  readonly #decoder = new RecordDecoder();
  readonly #credits: CreditReturner;
  /** Bytes of the batches received so far (the task's numBytesIn). */
  bytesIn = 0;

  constructor(port: MessagePort) {
    super();
    this.#port = port;
    this.#credits = new CreditReturner((n) => port.postMessage(n satisfies Wire));
    port.on('message', (m: Wire) => {
      if (m instanceof Uint8Array) {
        this.bytesIn += m.byteLength;
        this.arrive(m);
      } else if (typeof m !== 'object') return;
      // Messages arrive in order, so everything sent before a priority barrier is already queued.
      else if ('p' in m) this.arrivePriority(m.p, m.o);
      else this.arrive(m.e);
    });
  }

  protected decode(bytes: Uint8Array): ChannelItem {
    const { values, timestamps } = this.#decoder.decode(bytes);
    return { kind: 'records', batch: { values, timestamps, count: values.length } };
  }

  release(): void {
    this.#credits.release();
  }

  close(): void {
    this.#port.close();
  }
}
