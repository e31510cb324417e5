/**
 * The committables a sink subtask holds between a checkpoint's barrier and their commit, keyed by
 * the checkpoint they belong to, and the commit round that hands them to a Committer.
 *
 * They live in operator list state (split on rescale: any subtask may commit any committable),
 * so a checkpoint holds every committable not yet committed when its barrier passed: those of
 * itself and of earlier checkpoints whose commit did not happen or asked to be retried. Restoring
 * that checkpoint hands them back, and they are committed again first.
 */
import type { CommitRequest, Committer, PlainDataCodec } from '../../api/sink.ts';
import { assertNever } from '../../core/errors.ts';

/** One committable as operator state stores it (plain data). */
export interface CommittableStateEntry {
  readonly checkpointId: number;
  /** The committable codec's version (0 without a codec). */
  readonly version: number;
  readonly committable: unknown;
  readonly retries: number;
}

interface Pending<CommT> {
  readonly checkpointId: number;
  committable: CommT;
  retries: number;
}

type Outcome = 'committed' | 'already-committed' | 'failed-known' | 'failed-unknown' | 'retry';

class Request<CommT> implements CommitRequest<CommT> {
  outcome: Outcome = 'committed';
  error: unknown;
  constructor(readonly pending: Pending<CommT>) {}
  getCommittable(): CommT {
    return this.pending.committable;
  }
  getNumberOfRetries(): number {
    return this.pending.retries;
  }
  signalFailedWithKnownReason(error: unknown): void {
    this.outcome = 'failed-known';
    this.error = error;
  }
  signalFailedWithUnknownReason(error: unknown): void {
    this.outcome = 'failed-unknown';
    this.error = error;
  }
  retryLater(): void {
    this.outcome = 'retry';
  }
  updateAndRetryLater(committable: CommT): void {
    this.pending.committable = committable;
    this.outcome = 'retry';
  }
  signalAlreadyCommitted(): void {
    this.outcome = 'already-committed';
  }
}

/** What one commit round did. */
export interface CommitRound {
  /** Committables handed to the committer. */
  readonly attempted: number;
  /** Committables that stay to be retried. */
  readonly retrying: number;
  /** Errors of committables dropped with a known reason. */
  readonly knownFailures: readonly unknown[];
}

export class PendingCommittables<CommT> {
  /** In checkpoint order: committables are added at barriers, whose ids only grow. */
  #pending: Pending<CommT>[] = [];

  get size(): number {
    return this.#pending.length;
  }

  add(checkpointId: number, committables: readonly CommT[]): void {
    for (const committable of committables) this.#pending.push({ checkpointId, committable, retries: 0 });
  }

  /** Whether any committable belongs to a checkpoint <= `checkpointId`. */
  hasUpTo(checkpointId: number): boolean {
    return this.#pending.some((p) => p.checkpointId <= checkpointId);
  }

  /** The highest checkpoint id among the committables (-Infinity when none). */
  highestCheckpointId(): number {
    let max = -Infinity;
    for (const p of this.#pending) if (p.checkpointId > max) max = p.checkpointId;
    return max;
  }

  /**
   * Hands every committable of checkpoints <= `upTo` to the committer in one call, then removes
   * those committed, already committed or failed with a known reason. A failure with an unknown
   * reason, a throwing committer or a committable retried more than `maxRetries` times rejects:
   * the job fails, and its restore commits what is in the checkpoint again.
   */
  async commitUpTo(committer: Committer<CommT>, upTo: number, maxRetries: number): Promise<CommitRound> {
    const requests: Request<CommT>[] = [];
    for (const p of this.#pending) if (p.checkpointId <= upTo) requests.push(new Request(p));
    if (requests.length === 0) return { attempted: 0, retrying: 0, knownFailures: [] };
    await committer.commit(requests);
    const done = new Set<Pending<CommT>>();
    const knownFailures: unknown[] = [];
    let retrying = 0;
    for (const r of requests) {
      switch (r.outcome) {
        case 'committed':
        case 'already-committed':
          done.add(r.pending);
          break;
        case 'failed-known':
          done.add(r.pending);
          knownFailures.push(r.error);
          break;
        case 'failed-unknown':
          throw new Error(`the commit of a committable of checkpoint ${r.pending.checkpointId} failed: ${describe(r.error)}`, { cause: r.error });
        case 'retry':
          r.pending.retries++;
          if (r.pending.retries > maxRetries) {
            throw new Error(`a committable of checkpoint ${r.pending.checkpointId} was still not committed after ${maxRetries} retries`);
          }
          retrying++;
          break;
        default:
          assertNever(r.outcome, 'commit outcome');
      }
    }
    if (done.size > 0) this.#pending = this.#pending.filter((p) => !done.has(p));
    return { attempted: requests.length, retrying, knownFailures };
  }

  /** Plain-data entries for operator state; `what` names the sink in errors. */
  toState(codec: PlainDataCodec<CommT> | undefined, what: string): CommittableStateEntry[] {
    return this.#pending.map((p) => {
      const committable = codec === undefined ? p.committable : codec.toPlain(p.committable);
      assertPlainData(committable, `a committable of ${what}`, codec === undefined ? 'committableCodec' : undefined);
      return { checkpointId: p.checkpointId, version: codec?.version ?? 0, committable, retries: p.retries };
    });
  }

  /** Replaces the content with restored entries. */
  restore(entries: readonly CommittableStateEntry[], codec: PlainDataCodec<CommT> | undefined): void {
    const restored = entries.map((e) => ({
      checkpointId: e.checkpointId,
      committable: codec === undefined ? (e.committable as CommT) : codec.fromPlain(e.committable, e.version),
      retries: e.retries,
    }));
    // Entries from several old subtasks arrive concatenated; keep them in checkpoint order.
    this.#pending = restored.sort((a, b) => a.checkpointId - b.checkpointId);
  }
}

function describe(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Throws unless `value` is plain data a checkpoint keeps as it is: primitives, plain objects,
 * arrays and byte arrays. A class instance would come back without its prototype.
 */
export function assertPlainData(value: unknown, what: string, codecHint: string | undefined): void {
  const problem = plainDataProblem(value, new Set());
  if (problem === undefined) return;
  const hint = codecHint === undefined ? '' : ` (or give the sink a ${codecHint})`;
  throw new TypeError(`${what} is not plain data: ${problem}; checkpoints keep only plain objects, arrays, strings, numbers, booleans, null, bigints and byte arrays${hint}`);
}

function plainDataProblem(value: unknown, seen: Set<object>): string | undefined {
  switch (typeof value) {
    case 'string':
    case 'number':
    case 'boolean':
    case 'bigint':
    case 'undefined':
      return undefined;
    case 'function':
      return 'it holds a function';
    case 'symbol':
      return 'it holds a symbol';
    case 'object':
      break;
  }
  if (value === null) return undefined;
  const obj = value as object;
  if (ArrayBuffer.isView(obj)) return undefined;
  if (seen.has(obj)) return 'it holds a cycle';
  seen.add(obj);
  try {
    if (Array.isArray(obj)) {
      for (const v of obj) {
        const p = plainDataProblem(v, seen);
        if (p !== undefined) return p;
      }
      return undefined;
    }
    const proto = Object.getPrototypeOf(obj) as object | null;
    if (proto !== Object.prototype && proto !== null) return `it holds an instance of ${(obj.constructor as { name?: string } | undefined)?.name ?? 'a class'}`;
    for (const v of Object.values(obj)) {
      const p = plainDataProblem(v, seen);
      if (p !== undefined) return p;
    }
    return undefined;
  } finally {
    seen.delete(obj);
  }
}
