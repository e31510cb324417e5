/**
 * A replayable Source over a NATS JetStream stream.
 *
 * Splits: one per subject filter the user lists, or one for the whole stream. A split carries the
 * next stream sequence to read; `createSplits` cannot ask the server (it is synchronous and runs
 * in every worker), so splits start at the configured sequence and a bounded split's end (the
 * sequence of the last message on its filter) is resolved by the reader when it first reads the
 * split, then kept in the split. A reader reads each split through its own ephemeral pull consumer created with
 * `deliver_policy: by_start_sequence` at the split's position, so a reader restored from a
 * checkpoint reads again exactly from the first sequence after the last record emitted before it.
 *
 * `pollNext` is synchronous and runs on the task's thread: every split has a fetch loop that
 * fills a bounded buffer from the server, and `isAvailable()` resolves when a loop delivered.
 */
import { AckPolicy, DeliverPolicy, JetStreamApiCodes, JetStreamApiError, type Consumer, type ConsumerMessages, type JsMsg } from '@nats-io/jetstream';
import type { Boundedness, InputStatus, ReaderOutput, Source, SourceReader, SourceReaderContext, SourceSplit } from '../../api/source.ts';
import { acquireConnection, type JetStreamConnection, type NatsConnectionSettings } from './connection.ts';
import { checkStreamName, describeError, isStreamNotFound, missingStreamError } from './errors.ts';
import { toMessage, type JetStreamDeserializer } from './serialization.ts';

/** One part of a stream: a subject filter (or the whole stream) and the position reached in it. */
export interface JetStreamSplit extends SourceSplit {
  readonly stream: string;
  /** The subject filter; null reads the whole stream. */
  readonly subject: string | null;
  /** The next stream sequence to read: every record before it in this split was emitted. */
  readonly next: number;
  /**
   * Bounded sources: the last sequence to read (of a message on the split's subject filter), null
   * until the reader resolved it. Unbounded: null.
   */
  readonly end: number | null;
}

export interface JetStreamSourceOptions<T> extends NatsConnectionSettings {
  /** The stream to read; it must exist when the job starts. */
  readonly stream: string;
  /**
   * Subject filters, one split each (filters must not overlap, or a message is read once per
   * filter it matches). Absent: one split for the whole stream.
   */
  readonly subjects?: readonly string[];
  /** Turns a message into a record; see `stringDeserializer` and `jsonDeserializer`. */
  readonly deserializer: JetStreamDeserializer<T>;
  /**
   * Bounded: read up to the last message present when a split is first read, then end.
   * Unbounded (default): read on, waiting for new messages.
   */
  readonly bounded?: boolean;
  /** The stream sequence to start from (default 1: the first message the stream holds). */
  readonly startSequence?: number;
  /** Messages fetched per request and split (default 256); a split buffers at most twice this. */
  readonly fetchBatch?: number;
  /** How long a split may fail to fetch (server unreachable) before the task fails, ms (default 60 000). */
  readonly maxOutageMs?: number;
}

/** How often isAvailable wakes its caller while messages are on their way, ms. */
const EXPECTING_WAKEUP_MS = 5;

/** Records one pollNext emits at most: enough to amortise the call, few enough for prompt checkpoints. */
const POLL_BATCH = 64;

export class JetStreamSource<T> implements Source<T, JetStreamSplit> {
  readonly options: JetStreamSourceOptions<T>;

  constructor(options: JetStreamSourceOptions<T>) {
    checkStreamName(options.stream, 'JetStreamSource');
    const subjects = options.subjects;
    if (subjects !== undefined) {
      if (subjects.length === 0) throw new Error('JetStreamSource: subjects, when given, must list at least one subject filter');
      for (const s of subjects) {
        if (typeof s !== 'string' || s.trim() === '' || /\s/.test(s)) throw new Error(`JetStreamSource: invalid subject filter ${JSON.stringify(s)}`);
      }
      if (new Set(subjects).size !== subjects.length) throw new Error(`JetStreamSource: subject filters listed twice in ${subjects.join(', ')}`);
    }
    const start = options.startSequence ?? 1;
    if (!Number.isSafeInteger(start) || start < 1) throw new Error(`JetStreamSource: startSequence must be an integer >= 1, got ${start}`);
    if (typeof options.deserializer !== 'function') throw new Error('JetStreamSource: a deserializer is required (e.g. stringDeserializer or jsonDeserializer())');
    this.options = options;
  }

  getBoundedness(): Boundedness {
    return this.options.bounded === true ? 'BOUNDED' : 'CONTINUOUS_UNBOUNDED';
  }

  /** One split per subject filter, or one for the stream; the same for every parallelism. */
  createSplits(_parallelism: number): JetStreamSplit[] {
    const { stream, subjects } = this.options;
    const next = this.options.startSequence ?? 1;
    if (subjects === undefined) return [{ splitId: stream, stream, subject: null, next, end: null }];
    return subjects.map((subject) => ({ splitId: `${stream}:${subject}`, stream, subject, next, end: null }));
  }

  createReader(_context: SourceReaderContext): SourceReader<T, JetStreamSplit> {
    return new JetStreamReader(this.options);
  }
}

/** A split being read: its position, its buffer, and its fetch loop's state. */
interface LiveSplit {
  readonly splitId: string;
  readonly stream: string;
  readonly subject: string | null;
  /** The next sequence to emit (the split's position in snapshots). */
  next: number;
  end: number | null;
  /** Fetched, not yet emitted. */
  readonly buffer: JsMsg[];
  /** The fetch loop has everything up to the end in the buffer (bounded only). */
  fetched: boolean;
  /** Messages the server holds for this split beyond those fetched (as of the last delivery); null before the consumer exists. */
  pending: number | null;
  /** The fetch loop's current request, to stop it on close. */
  iterator: ConsumerMessages | undefined;
  consumer: { readonly name: string; readonly handle: Consumer } | undefined;
  /** Resolves the fetch loop's wait for buffer space. */
  drained: (() => void) | undefined;
}

class JetStreamReader<T> implements SourceReader<T, JetStreamSplit> {
  readonly #options: JetStreamSourceOptions<T>;
  readonly #bounded: boolean;
  readonly #batch: number;
  readonly #splits: LiveSplit[] = [];
  #noMore = false;
  #closed = false;
  #failure: Error | undefined;
  #connection: Promise<JetStreamConnection> | undefined;
  #waiter: { promise: Promise<void>; resolve: () => void } | undefined;
  /** Round robin over splits between polls. */
  #turn = 0;

  constructor(options: JetStreamSourceOptions<T>) {
    this.#options = options;
    this.#bounded = options.bounded === true;
    this.#batch = Math.max(1, Math.floor(options.fetchBatch ?? 256));
  }

  addSplits(splits: readonly JetStreamSplit[]): void {
    for (const s of splits) {
      const live: LiveSplit = {
        splitId: s.splitId,
        stream: s.stream,
        subject: s.subject,
        next: s.next,
        end: this.#bounded ? s.end : null,
        buffer: [],
        fetched: false,
        pending: null,
        iterator: undefined,
        consumer: undefined,
        drained: undefined,
      };
      this.#splits.push(live);
      this.#connection ??= acquireConnection(this.#options);
      void this.#fetchLoop(live).catch((e: unknown) => this.#fail(e));
    }
  }

  notifyNoMoreSplits(): void {
    this.#noMore = true;
    this.#signal();
  }

  pollNext(output: ReaderOutput<T>): InputStatus {
    if (this.#failure !== undefined) throw this.#failure;
    let budget = POLL_BATCH;
    let idle = 0;
    while (budget > 0 && this.#splits.length > 0 && idle < this.#splits.length) {
      const index = this.#turn % this.#splits.length;
      const s = this.#splits[index]!;
      if (s.buffer.length === 0) {
        if (s.fetched) {
          this.#splits.splice(index, 1);
          idle = 0;
        } else {
          this.#turn++;
          idle++;
        }
        continue;
      }
      idle = 0;
      while (budget > 0 && s.buffer.length > 0) {
        const m = s.buffer.shift()!;
        // The position moves before the record leaves: a snapshot between two polls agrees with what was emitted.
        s.next = m.seq + 1;
        budget--;
        const message = toMessage(s.stream, m);
        let value: T;
        try {
          value = this.#options.deserializer(message);
        } catch (e) {
          throw new Error(`JetStreamSource: cannot deserialize message ${m.seq} of stream "${s.stream}" (subject ${m.subject}): ${describeError(e)}`, { cause: e });
        }
        output.collect(value, message.timestamp);
      }
      if (s.buffer.length <= this.#batch) s.drained?.();
      this.#turn++;
    }
    for (let i = this.#splits.length - 1; i >= 0; i--) {
      const s = this.#splits[i]!;
      if (s.fetched && s.buffer.length === 0) this.#splits.splice(i, 1);
    }
    if (this.#splits.some((s) => s.buffer.length > 0)) return 'MORE_AVAILABLE';
    if (this.#splits.length === 0 && this.#noMore && this.#bounded) return 'END_OF_INPUT';
    return 'NOTHING_AVAILABLE';
  }

  /**
   * Resolves when a fetch delivered (or failed, or a split ended). While messages are known to be
   * on their way (a split starting up, or the server reporting messages pending for it) it also
   * resolves after a few milliseconds without delivery: a caller that waits with a short timeout
   * to decide whether the input has gone quiet must not take network latency for quiet.
   */
  isAvailable(): Promise<void> {
    if (this.#failure !== undefined || this.#splits.some((s) => s.buffer.length > 0 || s.fetched)) return Promise.resolve();
    if (this.#splits.length === 0 && this.#noMore && this.#bounded) return Promise.resolve();
    if (this.#waiter === undefined) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => {
        resolve = r;
      });
      this.#waiter = { promise, resolve };
    }
    const expecting = this.#splits.some((s) => s.pending === null || s.pending > 0);
    if (!expecting) return this.#waiter.promise;
    return Promise.race([this.#waiter.promise, new Promise<void>((resolve) => setTimeout(resolve, EXPECTING_WAKEUP_MS))]);
  }

  snapshotState(_checkpointId: number): JetStreamSplit[] {
    return this.#splits
      .filter((s) => !(s.fetched && s.buffer.length === 0))
      .map((s) => ({ splitId: s.splitId, stream: s.stream, subject: s.subject, next: s.next, end: s.end }));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const s of this.#splits) {
      s.iterator?.stop();
      s.drained?.();
    }
    const connection = this.#connection;
    if (connection === undefined) return;
    const c = await connection.catch(() => undefined);
    if (c === undefined) return;
    // Consumers also go away by themselves once inactive; deleting them is a courtesy.
    await Promise.all(this.#splits.map((s) => (s.consumer === undefined ? undefined : c.jsm.consumers.delete(s.stream, s.consumer.name).catch(() => {}))));
    c.release();
  }

  #signal(): void {
    const w = this.#waiter;
    this.#waiter = undefined;
    w?.resolve();
  }

  #fail(e: unknown): void {
    if (this.#closed) return;
    this.#failure ??= e instanceof Error ? e : new Error(String(e));
    this.#signal();
  }

  /**
   * Fills the split's buffer from the server until the split's end (bounded) or the reader's
   * close. Errors other than a missing stream are retried from the last fetched sequence with a
   * new consumer until `maxOutageMs` passes without a successful fetch.
   */
  async #fetchLoop(s: LiveSplit): Promise<void> {
    const c = await this.#connection!;
    if (this.#closed) return;
    const maxOutage = this.#options.maxOutageMs ?? 60_000;
    let from = s.next;
    let failingSince: number | undefined;
    let backoff = 50;
    while (!this.#closed && !s.fetched) {
      try {
        if (s.consumer === undefined) {
          // A bounded split's end and the consumer, in one round trip.
          const [end, info] = await Promise.all([
            this.#bounded && s.end === null ? this.#lastSequence(c, s) : Promise.resolve(s.end),
            c.jsm.consumers.add(s.stream, {
              ack_policy: AckPolicy.None,
              deliver_policy: DeliverPolicy.StartSequence,
              opt_start_seq: from,
              ...(s.subject === null ? {} : { filter_subject: s.subject }),
              inactive_threshold: 120_000_000_000,
              mem_storage: true,
              num_replicas: 1,
            }),
          ]);
          s.end = end;
          s.consumer = { name: info.name, handle: c.js.consumers.getConsumerFromInfo(info) };
          s.pending = info.num_pending;
          if (this.#closed) return;
          if (s.end !== null && from > s.end) {
            this.#finishFetching(s);
            return;
          }
        }
        // Room for a whole batch: the buffer holds at most two, and the next request goes out while one is still unread.
        while (!this.#closed && s.buffer.length > this.#batch) {
          await new Promise<void>((resolve) => {
            s.drained = resolve;
          });
          s.drained = undefined;
        }
        if (this.#closed) return;
        // Heartbeats tell a lost consumer or connection from a quiet stream within a second or two; a
        // false alarm (an event loop stalled past two heartbeats) only makes a new consumer at the same place.
        const iterator = await s.consumer.handle.fetch({ max_messages: this.#batch, expires: this.#bounded ? 2_000 : 5_000, idle_heartbeat: this.#bounded ? 500 : 1_000 });
        s.iterator = iterator;
        let delivered = 0;
        for await (const m of iterator) {
          failingSince = undefined;
          backoff = 50;
          delivered++;
          from = m.seq + 1;
          s.pending = m.info.pending;
          if (s.end !== null && m.seq > s.end) {
            this.#finishFetching(s);
            break;
          }
          s.buffer.push(m);
          this.#signal();
          if (s.end !== null && m.seq >= s.end) {
            this.#finishFetching(s);
            break;
          }
        }
        s.iterator = undefined;
        // The end message is gone (removed by the stream's limits since): a whole request came back
        // empty with nothing pending, so nothing up to the end is left to read.
        if (s.end !== null && delivered === 0 && s.pending === 0 && !this.#closed) this.#finishFetching(s);
      } catch (e) {
        s.iterator = undefined;
        if (this.#closed) return;
        if (isStreamNotFound(e)) throw missingStreamError('JetStreamSource', s.stream, c.where, e);
        if (e instanceof JetStreamApiError && e.code !== JetStreamApiCodes.ConsumerNotFound) {
          throw new Error(`JetStreamSource: reading stream "${s.stream}"${s.subject === null ? '' : ` (subject ${s.subject})`} failed: ${describeError(e)}`, { cause: e });
        }
        const now = Date.now();
        failingSince ??= now;
        if (now - failingSince > maxOutage) {
          throw new Error(
            `JetStreamSource: could not read stream "${s.stream}" from ${c.where} for ${maxOutage} ms (last error: ${describeError(e)}); failing the task so that the job restarts from its last checkpoint`,
            { cause: e },
          );
        }
        // A new consumer from the first sequence not fetched yet: nothing skipped, nothing repeated.
        const old = s.consumer;
        s.consumer = undefined;
        if (old !== undefined) void c.jsm.consumers.delete(s.stream, old.name).catch(() => {});
        await new Promise((resolve) => setTimeout(resolve, backoff));
        backoff = Math.min(backoff * 2, 2_000);
      }
    }
  }

  /**
   * A bounded split's end: the sequence of the last message it would read now (the stream's last,
   * or the last on its subject filter; 0 when there is none).
   */
  async #lastSequence(c: JetStreamConnection, s: LiveSplit): Promise<number> {
    if (s.subject === null) return (await c.jsm.streams.info(s.stream)).state.last_seq;
    const last = await c.jsm.streams.getMessage(s.stream, { last_by_subj: s.subject });
    return last?.seq ?? 0;
  }

  #finishFetching(s: LiveSplit): void {
    s.fetched = true;
    this.#signal();
  }
}
