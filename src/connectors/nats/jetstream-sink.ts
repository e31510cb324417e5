/**
 * An exactly-once Sink into a NATS JetStream stream, by de-duplication.
 *
 * Every record is published with a `Nats-Msg-Id` header that names it deterministically: by
 * default SinkWriterElementContext.recordId(), or an id the user derives from the record's
 * content. The stream drops a message whose id it saw within its `duplicate_window`. After a
 * failure the job restores its last checkpoint and the sources replay what followed it; the
 * replayed records carry the ids they had before, so the stream keeps each once.
 *
 * Publishes are pipelined (at most `maxInFlight` unacknowledged) and `flush` waits for every
 * acknowledgement, so a completed checkpoint implies the stream stored every record before its
 * barrier. What makes this exactly-once, and where it stops:
 *  - a replayed record must reach the stream within the duplicate window of its first publish:
 *    the writer reads the window at start and warns when the declared recovery time may exceed it;
 *  - recordId() ids are the same on replay only when the sink subtask gets its records in the
 *    same order (a deterministic source, forwarded or chained) and the job restores at the same
 *    parallelism; a restore at another parallelism numbers records anew, so records published
 *    after the restored checkpoint are published again under new ids. Content-derived ids
 *    (`messageId`) have neither limit.
 */
import { JetStreamApiError, type PubAck } from '@nats-io/jetstream';
import type { Log } from '../../core/log.ts';
import { consoleLog } from '../../core/log.ts';
import type { RestartStrategyConfiguration } from '../../api/restart-strategies.ts';
import type { RecoverySettings, Sink, SinkWriter, SinkWriterContext, SinkWriterElementContext } from '../../api/sink.ts';
import { acquireConnection, type JetStreamConnection, type NatsConnectionSettings } from './connection.ts';
import { checkStreamName, describeError, isStreamNotFound, missingStreamError } from './errors.ts';
import { defaultSerializer, type JetStreamSerializer } from './serialization.ts';

export interface JetStreamSinkOptions<IN> extends NatsConnectionSettings {
  /** The stream the records go to; it must exist and capture `subject`. */
  readonly stream: string;
  /** The subject to publish on, or a function of the record. */
  readonly subject: string | ((record: IN) => string);
  /** The payload of a record (default: a string as UTF-8, anything else as JSON). */
  readonly serializer?: JetStreamSerializer<IN>;
  /**
   * The de-duplication id of a record, from its content (it must differ between records that
   * should both be kept). Default: SinkWriterElementContext.recordId(), which needs the sink fed
   * in a deterministic order (see the module comment).
   */
  readonly messageId?: (record: IN) => string;
  /** Publishes awaiting their acknowledgement at most (default 64); 1 publishes one at a time. */
  readonly maxInFlight?: number;
  /** How long one publish waits for its acknowledgement before it is retried, ms (default 5000). */
  readonly publishTimeoutMs?: number;
  /**
   * How long a record's publish is retried (server unreachable, no acknowledgement) before the
   * task fails, ms (default 60 000). The job then restarts from its last checkpoint and replays:
   * nothing is lost, and nothing is duplicated if the restart is within the duplicate window.
   */
  readonly retryTimeoutMs?: number;
  /**
   * The longest time from a record's first publish to its publish on replay, ms: the time a
   * failure takes to be noticed, plus the restart delay, plus the checkpoint interval (records
   * after the last checkpoint are replayed). Default: the job's checkpoint interval plus the worst
   * restart delay of its restart strategy (SinkWriterContext.getRecoverySettings()). Compared
   * with the stream's duplicate window at start.
   */
  readonly maxRecoveryMs?: number;
  /** Where the duplicate-window warning goes (default: stderr, as weir's other warnings). */
  readonly log?: Pick<Log, 'warn'>;
}

/**
 * The longest delay a restart strategy waits before one restart, ms: the fixed or failure-rate
 * delay, or the exponential strategy's maximum backoff with its jitter. 0 for no restart.
 */
export function worstCaseRestartDelayMs(strategy: RestartStrategyConfiguration): number {
  switch (strategy.kind) {
    case 'none':
      return 0;
    case 'fixed-delay':
    case 'failure-rate':
      return strategy.delayMs;
    case 'exponential-delay':
      return strategy.maxBackoffMs * (1 + strategy.jitterFactor);
  }
}

const seconds = (ms: number): string => `${Math.round(ms / 100) / 10} s`;

export class JetStreamSink<IN> implements Sink<IN> {
  readonly options: JetStreamSinkOptions<IN>;
  /** The duplicate-window warning is given once per sink object (one per process or worker thread). */
  #warned = false;

  constructor(options: JetStreamSinkOptions<IN>) {
    checkStreamName(options.stream, 'JetStreamSink');
    if (typeof options.subject === 'string' && (options.subject === '' || /[\s*>]/.test(options.subject))) {
      throw new Error(`JetStreamSink: invalid subject ${JSON.stringify(options.subject)} (a publish subject has no wildcards or whitespace)`);
    }
    const positive = (v: number | undefined, name: string, min: number): void => {
      if (v !== undefined && !(Number.isFinite(v) && v >= min)) throw new Error(`JetStreamSink: ${name} must be a number >= ${min}, got ${v}`);
    };
    positive(options.maxInFlight, 'maxInFlight', 1);
    positive(options.publishTimeoutMs, 'publishTimeoutMs', 1);
    positive(options.retryTimeoutMs, 'retryTimeoutMs', 0);
    positive(options.maxRecoveryMs, 'maxRecoveryMs', 0);
    this.options = options;
  }

  /** The recovery time the duplicate window is checked against: `maxRecoveryMs`, or what the job's settings allow. */
  maxRecoveryMs(job: RecoverySettings): number {
    return this.options.maxRecoveryMs ?? (job.checkpointIntervalMs ?? 0) + worstCaseRestartDelayMs(job.restartStrategy);
  }

  async createWriter(context: SinkWriterContext): Promise<SinkWriter<IN>> {
    const { stream } = this.options;
    const c = await acquireConnection(this.options);
    try {
      let info: Awaited<ReturnType<typeof c.jsm.streams.info>>;
      try {
        info = await c.jsm.streams.info(stream);
      } catch (e) {
        if (isStreamNotFound(e)) throw missingStreamError('JetStreamSink', stream, c.where, e);
        throw new Error(`JetStreamSink: cannot read the configuration of stream "${stream}" on ${c.where}: ${describeError(e)}`, { cause: e });
      }
      const subject = this.options.subject;
      const subjects = info.config.subjects ?? [];
      if (typeof subject === 'string' && !subjects.some((f) => subjectMatches(f, subject))) {
        throw new Error(`JetStreamSink: stream "${stream}" does not capture subject ${subject} (its subjects: ${subjects.join(', ') || 'none'})`);
      }
      const windowMs = info.config.duplicate_window / 1e6;
      const recoveryMs = this.maxRecoveryMs(context.getRecoverySettings());
      if (!this.#warned && recoveryMs >= windowMs) {
        this.#warned = true;
        (this.options.log ?? consoleLog).warn(
          `JetStreamSink: the duplicate window of stream "${stream}" is ${seconds(windowMs)}, but recovering from a failure may take up to ${seconds(recoveryMs)} ` +
            "(the job's checkpoint interval plus its worst restart delay, or maxRecoveryMs): records replayed after the window has passed are stored twice. " +
            `Raise the stream's duplicate_window above the recovery time, or shorten the restart delay.`,
        );
      }
      return new JetStreamWriter(this.options, c);
    } catch (e) {
      c.release();
      throw e;
    }
  }
}

/** Whether a stream subject filter (with `*` and `>` wildcards) captures a literal subject. */
export function subjectMatches(filter: string, subject: string): boolean {
  const f = filter.split('.');
  const s = subject.split('.');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '>') return s.length > i;
    if (i >= s.length) return false;
    if (f[i] !== '*' && f[i] !== s[i]) return false;
  }
  return f.length === s.length;
}

class JetStreamWriter<IN> implements SinkWriter<IN> {
  readonly #o: JetStreamSinkOptions<IN>;
  readonly #c: JetStreamConnection;
  readonly #serialize: JetStreamSerializer<IN>;
  readonly #maxInFlight: number;
  readonly #inFlight = new Set<Promise<void>>();
  /** Resolves a write waiting for a free slot in the pipeline. */
  #slotFreed: (() => void) | undefined;
  #failure: Error | undefined;
  #closed = false;

  constructor(options: JetStreamSinkOptions<IN>, connection: JetStreamConnection) {
    this.#o = options;
    this.#c = connection;
    this.#serialize = options.serializer ?? (defaultSerializer as JetStreamSerializer<IN>);
    this.#maxInFlight = Math.floor(options.maxInFlight ?? 64);
  }

  write(element: IN, context: SinkWriterElementContext): void | Promise<void> {
    if (this.#failure !== undefined) throw this.#failure;
    // Before any await: recordId() names the record being written.
    const id = this.#o.messageId === undefined ? context.recordId() : this.#o.messageId(element);
    const subject = typeof this.#o.subject === 'string' ? this.#o.subject : this.#o.subject(element);
    const data = this.#serialize(element);
    const p: Promise<void> = this.#publish(subject, data, id).then(
      () => this.#settle(p),
      (e: unknown) => {
        this.#failure ??= e instanceof Error ? e : new Error(String(e));
        this.#settle(p);
      },
    );
    this.#inFlight.add(p);
    if (this.#inFlight.size >= this.#maxInFlight) return this.#waitForSlot();
  }

  /** Every record written so far is stored by the stream (or the first failure is thrown). */
  async flush(_endOfInput: boolean): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.all([...this.#inFlight]);
    if (this.#failure !== undefined) throw this.#failure;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#c.release();
  }

  #settle(p: Promise<void>): void {
    this.#inFlight.delete(p);
    const freed = this.#slotFreed;
    this.#slotFreed = undefined;
    freed?.();
  }

  async #waitForSlot(): Promise<void> {
    while (this.#inFlight.size >= this.#maxInFlight) {
      await new Promise<void>((resolve) => {
        this.#slotFreed = resolve;
      });
    }
    if (this.#failure !== undefined) throw this.#failure;
  }

  /** Throws a clear error when the stream is missing or does not capture `subject`; returns when it cannot tell. */
  async #checkTarget(subject: string, cause: Error): Promise<void> {
    const { stream } = this.#o;
    let subjects: string[];
    try {
      subjects = (await this.#c.jsm.streams.info(stream)).config.subjects ?? [];
    } catch (e) {
      if (isStreamNotFound(e)) throw missingStreamError('JetStreamSink', stream, this.#c.where, cause);
      return;
    }
    if (!subjects.some((f) => subjectMatches(f, subject))) {
      throw new Error(`JetStreamSink: stream "${stream}" does not capture subject ${subject} (its subjects: ${subjects.join(', ') || 'none'})`, { cause });
    }
  }

  /**
   * Publishes until the stream acknowledges (a duplicate acknowledgement counts: the stream had
   * it). Retries with the same id are safe, which is the point of the id; the stream's own
   * refusals (a wrong stream, a full stream) are not retried.
   */
  async #publish(subject: string, data: Uint8Array | string, id: string): Promise<PubAck> {
    const { stream } = this.#o;
    const timeout = this.#o.publishTimeoutMs ?? 5_000;
    const retryFor = this.#o.retryTimeoutMs ?? 60_000;
    let firstFailure: number | undefined;
    let backoff = 50;
    for (;;) {
      try {
        return await this.#c.js.publish(subject, data, { msgID: id, expect: { streamName: stream }, timeout });
      } catch (e) {
        if (e instanceof JetStreamApiError) {
          throw new Error(`JetStreamSink: stream "${stream}" refused a message on ${subject}: ${describeError(e)}`, { cause: e });
        }
        if (this.#closed) throw new Error(`JetStreamSink: closed while publishing to stream "${stream}"`, { cause: e });
        // Nobody took the message: JetStream is restarting, or the stream or its subject is gone
        // (retrying cannot help then; say so instead of retrying until the deadline).
        if (e instanceof Error && e.name === 'JetStreamNotEnabled') await this.#checkTarget(subject, e);
        const now = Date.now();
        firstFailure ??= now;
        if (now - firstFailure >= retryFor) {
          throw new Error(
            `JetStreamSink: could not publish to stream "${stream}" on ${this.#c.where} for ${retryFor} ms (last error: ${describeError(e)}); ` +
              'failing the task so that the job restarts from its last checkpoint and replays',
            { cause: e },
          );
        }
        await new Promise((resolve) => setTimeout(resolve, Math.min(backoff, Math.max(0, retryFor - (now - firstFailure!)))));
        backoff = Math.min(backoff * 2, 2_000);
      }
    }
  }
}
