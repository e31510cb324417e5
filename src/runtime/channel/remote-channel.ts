/**
 * A channel between threads over a MessagePort. Batches are serialised by a RecordEncoder
 * owned by the producer and decoded by the consumer when it takes them, so decoding cost
 * lands on the consumer's thread. The port carries three messages: a batch, an event, and
 * credits flowing back.
 */
import type { MessagePort } from 'node:worker_threads';
import { RecordDecoder, RecordEncoder } from '../record-codec.ts';
import type { ChannelEvent, RecordBatch } from '../events.ts';
import { CreditedOutput, CreditReturner, Queue, type ChannelItem, type InputChannel, type Prepared } from './channel.ts';

type Wire = { b: Uint8Array } | { e: ChannelEvent } | { c: number };

export class RemoteOutput extends CreditedOutput<Uint8Array> {
  readonly #port: MessagePort;
  readonly #encoder: RecordEncoder;

  constructor(port: MessagePort, credits: number, where: string) {
    super(credits);
    this.#port = port;
    this.#encoder = new RecordEncoder(where);
    port.on('message', (m: Wire) => {
      if ('c' in m) this.addCredits(m.c);
    });
  }

  protected prepare(batch: RecordBatch): Uint8Array {
    return this.#encoder.encode(batch.values, batch.timestamps, batch.count);
  }

  protected transmit(item: Prepared<Uint8Array>): void {
    if (item.kind === 'records') {
      const bytes = item.payload;
      this.#port.postMessage({ b: bytes } satisfies Wire, [bytes.buffer as ArrayBuffer]);
    } else {
      this.#port.postMessage({ e: item } satisfies Wire);
    }
  }

  close(): void {
    this.#port.close();
  }
}

export class RemoteInput implements InputChannel {
  readonly #port: MessagePort;
  readonly #decoder = new RecordDecoder();
  readonly #queue = new Queue<Uint8Array | ChannelEvent>();
  readonly #credits: CreditReturner;
  onItem: (() => void) | undefined = undefined;

  constructor(port: MessagePort) {
    this.#port = port;
    this.#credits = new CreditReturner((n) => port.postMessage({ c: n } satisfies Wire));
    port.on('message', (m: Wire) => {
      if ('b' in m) this.#queue.push(m.b);
      else if ('e' in m) this.#queue.push(m.e);
      else return;
      if (this.#queue.length === 1) this.onItem?.();
    });
  }

  get hasItem(): boolean {
    return this.#queue.length > 0;
  }

  poll(): ChannelItem | undefined {
    const raw = this.#queue.shift();
    if (raw === undefined) return undefined;
    if (raw instanceof Uint8Array) {
      const { values, timestamps } = this.#decoder.decode(raw);
      return { kind: 'records', batch: { values, timestamps, count: values.length } };
    }
    return raw;
  }

  release(): void {
    this.#credits.release();
  }

  close(): void {
    this.#port.close();
  }
}
