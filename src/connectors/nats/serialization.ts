/**
 * What the source hands its deserializer and what the sink asks of its serializer, with the
 * usual ones: UTF-8 strings and JSON.
 */
import type { JsMsg } from '@nats-io/jetstream';

/** A message of a stream, as the source's deserializer sees it. */
export interface JetStreamMessage {
  readonly stream: string;
  readonly subject: string;
  readonly data: Uint8Array;
  /** The message's sequence in the stream. */
  readonly seq: number;
  /** Header values by name (empty when the message has none). */
  readonly headers: Readonly<Record<string, readonly string[]>>;
  /** When the stream stored the message, ms since the epoch; the source emits it as the record's timestamp. */
  readonly timestamp: number;
}

/** Turns a message into a record. A throw fails the task with an error naming the stream and the sequence. */
export type JetStreamDeserializer<T> = (message: JetStreamMessage) => T;

/** Turns a record into a message payload; a string is sent as UTF-8. */
export type JetStreamSerializer<IN> = (record: IN) => Uint8Array | string;

const decoder = new TextDecoder('utf-8', { fatal: true });

/** The payload as a UTF-8 string. */
export const stringDeserializer: JetStreamDeserializer<string> = (m) => decoder.decode(m.data);

/** The payload parsed as JSON; a payload that is not JSON fails with the parser's reason. */
export function jsonDeserializer<T = unknown>(): JetStreamDeserializer<T> {
  return (m) => {
    const text = decoder.decode(m.data);
    try {
      return JSON.parse(text) as T;
    } catch (e) {
      const shown = text.length > 60 ? `${text.slice(0, 60)}…` : text;
      throw new Error(`not valid JSON (${e instanceof Error ? e.message : String(e)}): ${JSON.stringify(shown)}`);
    }
  };
}

/** Strings as they are (UTF-8); anything else as JSON. */
export const defaultSerializer: JetStreamSerializer<unknown> = (record) => (typeof record === 'string' ? record : JSON.stringify(record));

/** Records as JSON text. */
export function jsonSerializer<IN>(): JetStreamSerializer<IN> {
  return (record) => JSON.stringify(record);
}

const EMPTY: Readonly<Record<string, readonly string[]>> = Object.freeze({});

export function toMessage(stream: string, m: JsMsg): JetStreamMessage {
  let headers = EMPTY;
  const h = m.headers;
  if (h !== undefined) {
    const plain: Record<string, string[]> = {};
    for (const k of h.keys()) plain[k] = h.values(k);
    headers = plain;
  }
  return { stream, subject: m.subject, data: m.data, seq: m.seq, headers, timestamp: Number(m.timestampNanos / 1_000_000n) };
}
