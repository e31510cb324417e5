/**
 * The completed checkpoints a job keeps (Flink's CompletedCheckpointStore with
 * `state.checkpoints.num-retained`): the newest `numRetained` stay, and each one added beyond
 * that subsumes the oldest, which is then discarded.
 *
 * Discarding goes through a callback (normally the storage's discardCheckpoint) and runs one
 * at a time, oldest first, even when adds overlap, so directories disappear in the order the
 * checkpoints were subsumed. A failed discard leaves files behind but does not make the new
 * checkpoint any less complete, so it is reported through `onDiscardError` and never thrown.
 *
 * Savepoints are owned by the user, not by the job: one that was added counts towards the
 * retained number like any checkpoint, but it is never discarded, neither when subsumed nor on
 * shutdown.
 */

import type { CheckpointId } from '../core/ids.ts';
import type { CheckpointMetadata } from './checkpoint-types.ts';

export interface CompletedCheckpoint {
  readonly checkpointId: CheckpointId;
  readonly timestamp: number;
  /** The chk-<n> (or savepoint) directory. */
  readonly dir: string;
  readonly metadata: CheckpointMetadata;
  /** Bytes of state the checkpoint holds. */
  readonly stateSize: number;
}

export interface CompletedCheckpointStoreOptions {
  /** How many completed checkpoints to keep, at least 1 (Flink's default is 1). */
  readonly numRetained: number;
  /** Removes a checkpoint's files; called once per subsumed or shut-down checkpoint. */
  readonly discard: (checkpointId: CheckpointId) => Promise<void>;
  /** Told about discards that failed; when absent they become process warnings. */
  readonly onDiscardError?: (checkpointId: CheckpointId, error: unknown) => void;
}

/** What happens to the retained checkpoints when the job ends. */
export type CheckpointRetention = 'RETAIN' | 'DISCARD';

export class CompletedCheckpointStore {
  readonly numRetained: number;
  readonly #discard: (checkpointId: CheckpointId) => Promise<void>;
  readonly #onDiscardError: (checkpointId: CheckpointId, error: unknown) => void;
  /** Oldest first; ids strictly increase. */
  #checkpoints: CompletedCheckpoint[] = [];
  /** Tail of the serial discard queue. */
  #discarding: Promise<void> = Promise.resolve();
  #shutDown = false;

  constructor(opts: CompletedCheckpointStoreOptions) {
    if (!Number.isSafeInteger(opts.numRetained) || opts.numRetained < 1) {
      throw new Error(`state.checkpoints.num-retained must be an integer ≥ 1, got ${String(opts.numRetained)}`);
    }
    this.numRetained = opts.numRetained;
    this.#discard = opts.discard;
    this.#onDiscardError =
      opts.onDiscardError ??
      ((id, error) =>
        process.emitWarning(`Could not discard checkpoint ${id}: ${error instanceof Error ? error.message : String(error)}`, {
          code: 'WEIR_CHECKPOINT_DISCARD_FAILED',
        }));
  }

  /**
   * Adds a newly completed checkpoint, which must be newer than every one held, and discards
   * those it subsumes. Resolves once they are discarded (or their failures reported).
   */
  async add(c: CompletedCheckpoint): Promise<void> {
    if (this.#shutDown) throw new Error(`Cannot add checkpoint ${c.checkpointId}: the completed checkpoint store is shut down`);
    const latest = this.latest();
    if (latest !== undefined && c.checkpointId <= latest.checkpointId) {
      throw new Error(`Checkpoint ${c.checkpointId} is not newer than the latest completed checkpoint ${latest.checkpointId}`);
    }
    this.#checkpoints.push(c);
    const subsumed = this.#checkpoints.splice(0, Math.max(0, this.#checkpoints.length - this.numRetained));
    await this.#enqueueDiscards(subsumed);
  }

  /** The newest completed checkpoint, the one recovery restores. */
  latest(): CompletedCheckpoint | undefined {
    return this.#checkpoints[this.#checkpoints.length - 1];
  }

  /** The retained checkpoints, oldest first (a copy). */
  all(): readonly CompletedCheckpoint[] {
    return [...this.#checkpoints];
  }

  /**
   * Ends the store. 'RETAIN' keeps every checkpoint on disk, and they stay listed so the caller
   * can report them; 'DISCARD' discards them all, oldest first, and empties the store. Resolves
   * once all pending discards are done. Later calls only wait for those; later adds throw.
   */
  async shutdown(mode: CheckpointRetention): Promise<void> {
    if (mode !== 'RETAIN' && mode !== 'DISCARD') throw new Error(`Unknown checkpoint retention mode '${String(mode)}'`);
    if (this.#shutDown) return this.#discarding;
    this.#shutDown = true;
    if (mode === 'RETAIN') return this.#discarding;
    const all = this.#checkpoints;
    this.#checkpoints = [];
    return this.#enqueueDiscards(all);
  }

  /** Appends discards to the serial queue; the returned promise settles when they have run. */
  #enqueueDiscards(checkpoints: readonly CompletedCheckpoint[]): Promise<void> {
    const owned = checkpoints.filter((c) => c.metadata.kind !== 'savepoint');
    if (owned.length === 0) return this.#discarding;
    const run = this.#discarding.then(async () => {
      for (const c of owned) {
        try {
          await this.#discard(c.checkpointId);
        } catch (error) {
          this.#report(c.checkpointId, error);
        }
      }
    });
    this.#discarding = run;
    return run;
  }

  #report(checkpointId: CheckpointId, error: unknown): void {
    try {
      this.#onDiscardError(checkpointId, error);
    } catch {
      // A failing reporter must not turn a best-effort cleanup into a failed checkpoint.
    }
  }
}
