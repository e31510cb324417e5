/**
 * A channel between threads: batches and events travel through a ring buffer in shared memory
 * (a SharedArrayBuffer both threads see), and so do returned credits (a counter); the
 * MessagePort between the two threads carries only wake-ups and the rare batch too large for
 * the ring.
 *
 * Batches are serialised by a RecordEncoder owned by the producer and decoded by the consumer
 * when it takes them, so decoding cost lands on the consumer's thread. Events are written with
 * the structured-clone serialiser (node:v8), as postMessage would clone them.
 *
 * The ring. The producer writes entries (u32 length, u32 type, payload padded to 8 bytes) at
 * `head` and publishes `head` with an atomic store; the consumer copies entries out at `tail`
 * and publishes `tail`. Neither side ever waits on the other's memory, so no core spins:
 *
 *   - a busy consumer takes what is in the ring whenever it looks for an item and finds its
 *     queue empty: a stream that keeps it busy costs no message per batch;
 *   - a consumer that is about to go idle (or whose unaligned checkpoint waits for data in
 *     flight) raises `consumerWaiting`, and the producer, having published an entry, clears it
 *     and posts one wake-up message. The consumer raises the flag and then reads `head`, the
 *     producer publishes `head` and then reads the flag (all sequentially consistent atomics),
 *     so one of them always sees the other: no entry is left unnoticed;
 *   - every event entry (and priority barrier) is followed by a wake-up, so that watermarks
 *     and barriers reach the consumer as soon as they are sent, whatever it is doing (an
 *     aligned barrier's timeout starts when it is queued);
 *   - a producer that finds too little room keeps entries in order in a backlog, raises
 *     `producerWaiting`, and is woken (message) by the consumer once it freed room.
 *
 * Credit-based flow control is unchanged (CreditedOutput): credits bound the batches in flight.
 * The consumer returns a batch's credit by counting it in the ring; the producer reads the count
 * when it runs out, and only a producer left waiting for credit raises `producerWaiting` to be
 * woken by message. A priority barrier is an entry of the ring too, written at once
 * (ahead of what waits for credit, whose count it carries) and followed by a wake-up: the
 * consumer meets it after exactly the entries sent before it, queues it ahead of everything it
 * holds, and learns how many items that were sent before it are still to come. (Had it come by
 * message, a busy consumer could already have taken entries sent after it from the ring.)
 */
import type { MessagePort } from 'node:worker_threads';
import { deserialize, serialize } from 'node:v8';
import { RecordDecoder, RecordEncoder } from '../../core/record-codec.ts';
import type { ChannelEvent, CheckpointBarrier, RecordBatch } from '../events.ts';
import { CreditedOutput, Queue, type ChannelItem, type Prepared } from './channel.ts';
import { QueuedInput } from './queued-input.ts';

/**
 * What the port carries: the ring (first message, producer to consumer), a wake-up ('w', to the
 * consumer), room or credit freed for a waiting producer ('r'), or a batch too large for the
 * ring (its bytes; the ring holds a placeholder where it belongs).
 */
type Wire = { ring: SharedArrayBuffer } | 'w' | 'r' | Uint8Array;

/** Records in the first batch, before the channel has seen what its records weigh. */
const FIRST_BATCH_RECORDS = 256;

/** Bytes of the ring's data area: a power of two. */
const RING_BYTES = 1 << 20;
const MASK = RING_BYTES - 1;
/** Entries larger than this go by message (a placeholder keeps their place in the ring). */
const LARGEST_IN_RING = RING_BYTES / 4;
/** Control words (Int32 indices), each on its own cache line. */
const HEAD = 0;
const TAIL = 16;
const CONSUMER_WAITING = 32;
const PRODUCER_WAITING = 48;
/** Batches the consumer finished (credits returned), modulo 2^32. */
const RELEASED = 64;
const CONTROL_BYTES = 512;
const ENTRY_HEADER = 8;

/** Entry types. */
const BATCH = 1;
const EVENT = 2;
/** The entry's batch came by message. */
const SPILLED = 3;
/** Nothing more up to the end of the ring: the next entry is at its start. */
const WRAP = 4;
/** A priority barrier and the number of items it overtook. */
const PRIORITY = 5;

function padded(n: number): number {
  return (n + 7) & ~7;
}

/** Both ends' views of one ring. */
class Ring {
  readonly control: Int32Array;
  readonly words: Int32Array;
  readonly bytes: Uint8Array;
  constructor(readonly buffer: SharedArrayBuffer) {
    this.control = new Int32Array(buffer, 0, CONTROL_BYTES / 4);
    this.words = new Int32Array(buffer, CONTROL_BYTES, RING_BYTES / 4);
    this.bytes = new Uint8Array(buffer, CONTROL_BYTES, RING_BYTES);
  }
}

interface Entry {
  readonly type: typeof BATCH | typeof EVENT | typeof PRIORITY;
  readonly payload: Uint8Array;
}

export class RemoteOutput extends CreditedOutput<Uint8Array> {
  readonly #port: MessagePort;
  readonly #encoder: RecordEncoder;
  readonly #ring = new Ring(new SharedArrayBuffer(CONTROL_BYTES + RING_BYTES));
  /** Published write position (bytes, modulo 2^32). */
  #head = 0;
  /** Entries that found no room in the ring yet, in order. */
  readonly #backlog = new Queue<Entry>();
  /** Serialised bytes per record, averaged over recent batches; 0 until the first batch. */
  #recordBytes = 0;
  /** Bytes of the batches serialised so far (the task's numBytesOut). */
  bytesOut = 0;

  constructor(port: MessagePort, credits: number, where: string) {
    super(credits);
    this.#port = port;
    this.#encoder = new RecordEncoder(where);
    port.postMessage({ ring: this.#ring.buffer } satisfies Wire);
    port.on('message', (m: Wire) => {
      if (m === 'r') this.#onFreed();
    });
  }

  protected prepare(batch: RecordBatch): Uint8Array {
    // Key groups travel (two bytes a record); keys do not: the consumer selects them again.
    const bytes = this.#encoder.encode(batch.values, batch.timestamps, batch.count, batch.keyGroups ?? null);
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
    const entry: Entry = item.kind === 'records' ? { type: BATCH, payload: item.payload } : { type: EVENT, payload: serialize(item) };
    if (this.#backlog.length > 0 || !this.#write(entry)) this.#wait(entry);
  }

  protected transmitPriority(barrier: CheckpointBarrier, overtaken: number): void {
    // Ahead of what waits for credit, but behind what is in the ring or its backlog already.
    const entry: Entry = { type: PRIORITY, payload: serialize({ barrier, overtaken }) };
    if (this.#backlog.length > 0 || !this.#write(entry)) this.#wait(entry);
  }

  /** Writes `entry` into the ring and wakes the consumer if it asked to be; false if it does not fit now. */
  #write(entry: Entry): boolean {
    const ring = this.#ring;
    const large = entry.payload.byteLength > LARGEST_IN_RING;
    const need = ENTRY_HEADER + (large ? 0 : padded(entry.payload.byteLength));
    let head = this.#head;
    let off = head & MASK;
    const toEnd = RING_BYTES - off;
    const used = (head - Atomics.load(ring.control, TAIL)) >>> 0;
    if (used + need + (need > toEnd ? toEnd : 0) > RING_BYTES) return false;
    if (need > toEnd) {
      ring.words[off >> 2] = 0;
      ring.words[(off >> 2) + 1] = WRAP;
      head = (head + toEnd) | 0;
      off = 0;
    }
    if (large) {
      // The bytes go by message, posted before the placeholder is published.
      const bytes = entry.payload;
      this.#port.postMessage(bytes satisfies Wire, [bytes.buffer as ArrayBuffer]);
      ring.words[off >> 2] = 0;
      ring.words[(off >> 2) + 1] = SPILLED;
    } else {
      ring.words[off >> 2] = entry.payload.byteLength;
      ring.words[(off >> 2) + 1] = entry.type;
      ring.bytes.set(entry.payload, off + ENTRY_HEADER);
    }
    head = (head + need) | 0;
    this.#head = head;
    Atomics.store(ring.control, HEAD, head);
    const control = ring.control;
    if (entry.type !== BATCH) {
      Atomics.store(control, CONSUMER_WAITING, 0);
      this.#port.postMessage('w' satisfies Wire);
    } else if (Atomics.load(control, CONSUMER_WAITING) === 1 && Atomics.compareExchange(control, CONSUMER_WAITING, 1, 0) === 1) {
      this.#port.postMessage('w' satisfies Wire);
    }
    return true;
  }

  /** Credits returned since the last look. */
  #collected = 0;

  protected override collectCredits(): number {
    const released = Atomics.load(this.#ring.control, RELEASED);
    const n = (released - this.#collected) | 0;
    this.#collected = released;
    return n;
  }

  protected override creditsWanted(): number {
    Atomics.store(this.#ring.control, PRODUCER_WAITING, 1);
    // Raised before looking again: a credit returned before the consumer could see the flag is found here.
    return this.collectCredits();
  }

  /** The consumer freed room in the ring or returned credit while this end waited for it. */
  #onFreed(): void {
    this.#flushBacklog();
    const n = this.collectCredits();
    if (n > 0) this.addCredits(n);
    if (!this.available) {
      const more = this.creditsWanted();
      if (more > 0) this.addCredits(more);
    }
  }

  /** Keeps `entry` until the consumer frees room. */
  #wait(entry: Entry): void {
    this.#backlog.push(entry);
    if (this.#backlog.length === 1) {
      Atomics.store(this.#ring.control, PRODUCER_WAITING, 1);
      // Room may have been freed between the failed write and raising the flag.
      this.#flushBacklog();
    }
  }

  #flushBacklog(): void {
    while (this.#backlog.length > 0) {
      if (!this.#write(this.#backlog.peek()!)) {
        Atomics.store(this.#ring.control, PRODUCER_WAITING, 1);
        // Raised after the failed write: check once more, so that a consumer that freed room
        // in between (and saw no flag) is not waited for.
        if (!this.#write(this.#backlog.peek()!)) return;
      }
      this.#backlog.shift();
    }
  }

  close(): void {
    this.#port.close();
  }
}

export class RemoteInput extends QueuedInput {
  readonly #port: MessagePort;
  readonly #decoder = new RecordDecoder();
  #ring: Ring | undefined;
  /** Read position (bytes, modulo 2^32). */
  #tail = 0;
  /** Batches that came by message, for the ring's placeholders. */
  readonly #spilled = new Queue<Uint8Array>();
  /** Bytes of the batches received so far (the task's numBytesIn). */
  bytesIn = 0;

  constructor(port: MessagePort) {
    super();
    this.#port = port;
    port.on('message', (m: Wire) => {
      if (m === 'w') this.#take();
      else if (m instanceof Uint8Array) {
        this.#spilled.push(m);
        this.#take();
      } else if (typeof m !== 'object') return;
      else if ('ring' in m) {
        this.#ring = new Ring(m.ring);
        this.#take();
      }
    });
    // A producer that closes right after its last entries may not get to wake this end.
    port.on('close', () => this.#take());
  }

  /** Takes what the ring holds, then asks to be woken if this end wants to hear of the next entry. */
  #take(): void {
    const ring = this.#ring;
    if (ring === undefined) return;
    for (;;) {
      // Stopped at a batch whose message is still on the way: that message calls again.
      if (!this.#drain(ring)) return;
      if (!this.wantsWake) return;
      Atomics.store(ring.control, CONSUMER_WAITING, 1);
      // Raised before reading head: an entry published before the producer could see the flag is seen here.
      if (Atomics.load(ring.control, HEAD) === this.#tail) return;
      Atomics.store(ring.control, CONSUMER_WAITING, 0);
    }
  }

  /** Takes the ring's entries in order; false if it stopped at one whose batch has not come yet. */
  #drain(ring: Ring): boolean {
    let tail = this.#tail;
    const head = Atomics.load(ring.control, HEAD);
    if (tail === head) return true;
    let complete = true;
    const { words, bytes } = ring;
    while (tail !== head) {
      const off = tail & MASK;
      const length = words[off >> 2]!;
      const type = words[(off >> 2) + 1]!;
      if (type === WRAP) {
        tail = (tail + (RING_BYTES - off)) | 0;
        continue;
      }
      let item: Uint8Array | ChannelItem;
      if (type === SPILLED) {
        const spilled = this.#spilled.shift();
        // Its message is still on the way; the rest waits behind it.
        if (spilled === undefined) {
          complete = false;
          break;
        }
        this.bytesIn += spilled.byteLength;
        item = spilled;
      } else if (type === BATCH) {
        item = bytes.slice(off + ENTRY_HEADER, off + ENTRY_HEADER + length);
        this.bytesIn += length;
      } else if (type === PRIORITY) {
        const { barrier, overtaken } = deserialize(bytes.slice(off + ENTRY_HEADER, off + ENTRY_HEADER + length)) as { barrier: CheckpointBarrier; overtaken: number };
        tail = (tail + ENTRY_HEADER + padded(length)) | 0;
        this.arrivePriority(barrier, overtaken);
        continue;
      } else {
        item = deserialize(bytes.slice(off + ENTRY_HEADER, off + ENTRY_HEADER + length)) as ChannelEvent;
      }
      tail = (tail + ENTRY_HEADER + (type === SPILLED ? 0 : padded(length))) | 0;
      this.arrive(item);
    }
    this.#tail = tail;
    Atomics.store(ring.control, TAIL, tail);
    this.#wakeProducer(ring);
    return complete;
  }

  protected override refill(): void {
    this.#take();
  }

  override tap(checkpointId: number, onItem: (item: ChannelItem) => void, onDone: () => void): void {
    super.tap(checkpointId, onItem, onDone);
    // The tap may wait for items still in the ring: take them, and ask to hear of later ones.
    this.#take();
  }

  protected decode(bytes: Uint8Array): ChannelItem {
    const { values, timestamps, keyGroups } = this.#decoder.decode(bytes);
    return { kind: 'records', batch: { values, timestamps, count: values.length, keyGroups, keys: null } };
  }

  /**
   * Returns the batch's credit through the ring: no message, unless the producer waits for
   * credit (or room). The producer raises its flag before it looks at the count again, this end
   * counts before it looks at the flag: one of them always sees the other.
   */
  release(): void {
    const ring = this.#ring!;
    Atomics.add(ring.control, RELEASED, 1);
    this.#wakeProducer(ring);
  }

  #wakeProducer(ring: Ring): void {
    if (Atomics.load(ring.control, PRODUCER_WAITING) === 1 && Atomics.compareExchange(ring.control, PRODUCER_WAITING, 1, 0) === 1) {
      this.#port.postMessage('r' satisfies Wire);
    }
  }

  close(): void {
    this.#port.close();
  }
}
