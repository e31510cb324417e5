/** Errors of the JetStream connector, each naming the stream (and server) it is about. */
import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';

/** A stream name JetStream accepts: no dots, wildcards, whitespace or path separators. */
export function checkStreamName(stream: unknown, who: string): void {
  if (typeof stream !== 'string' || stream === '' || /[.*>\s/\\]/.test(stream)) {
    throw new Error(`${who}: invalid stream name ${JSON.stringify(stream)} (a JetStream stream name has no '.', '*', '>', whitespace or path separators)`);
  }
}

export function isStreamNotFound(e: unknown): boolean {
  return e instanceof JetStreamApiError && e.code === JetStreamApiCodes.StreamNotFound;
}

export function missingStreamError(who: string, stream: string, where: string, cause: unknown): Error {
  return new Error(`${who}: JetStream stream "${stream}" does not exist on ${where}; create it before the job starts`, { cause });
}

export function describeError(e: unknown): string {
  if (e instanceof Error) return e.message === '' ? e.name : e.message;
  return String(e);
}
