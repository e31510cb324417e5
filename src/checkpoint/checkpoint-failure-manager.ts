/**
 * Decides when failing checkpoints should fail the job (Flink's CheckpointFailureManager).
 *
 * The manager counts *consecutive* checkpoint failures whose reason is in COUNTED_FAILURES.
 * Once the count exceeds the tolerable number, the job is failed over with an error that
 * names the latest failure, and the count starts again from zero (the restarted job gets a
 * fresh allowance). A completed checkpoint resets the count.
 *
 * As in Flink:
 * - each checkpoint id is counted at most once, however many times its failure is reported;
 * - a failure of a checkpoint older than the latest completed one is ignored: the job has
 *   made progress since that checkpoint was triggered, so it says nothing about the present;
 * - savepoint failures are never counted: a savepoint is a manual action, and failing the job
 *   over would not help it succeed.
 */

import { COUNTED_FAILURES, FAILURE_MESSAGES } from './checkpoint-types.ts';
import type { CheckpointException, CheckpointId } from './checkpoint-types.ts';

/** What became of one reported failure. */
export type FailureVerdict =
  /** The failure does not count (its reason, a savepoint, a duplicate or a stale id). */
  | 'IGNORED'
  /** Counted; still within the tolerable number. */
  | 'COUNTED'
  /** Counted, and the count exceeded the tolerable number: the job was told to fail. */
  | 'JOB_FAILED';

export const EXCEEDED_TOLERABLE_FAILURES_MESSAGE = 'Exceeded checkpoint tolerable failure threshold.';

export class CheckpointFailureManager {
  readonly #tolerable: number;
  readonly #failJob: (error: Error) => void;
  #consecutive = 0;
  /** Ids already counted since the last reset, so a checkpoint counts once. */
  readonly #countedIds = new Set<CheckpointId>();
  #lastSucceededId = Number.NEGATIVE_INFINITY;

  /**
   * @param tolerableFailures consecutive counted failures tolerated; a non-negative integer,
   *   or `Infinity` for "never fail the job because of checkpoints".
   * @param failJob called (synchronously) when the tolerable number is exceeded.
   */
  constructor(tolerableFailures: number, failJob: (error: Error) => void) {
    if (!(tolerableFailures === Number.POSITIVE_INFINITY || (Number.isInteger(tolerableFailures) && tolerableFailures >= 0))) {
      throw new RangeError(`tolerableFailures must be a non-negative integer or Infinity, got ${tolerableFailures}`);
    }
    this.#tolerable = tolerableFailures;
    this.#failJob = failJob;
  }

  /** Counted failures since the last completion or job failure. */
  get continuousFailures(): number {
    return this.#consecutive;
  }

  get tolerableFailures(): number {
    return this.#tolerable;
  }

  /**
   * Reports that checkpoint `checkpointId` failed. `checkpointId` is undefined for a failure
   * that happened before an id was assigned; such failures are counted every time.
   */
  handleCheckpointFailure(
    exception: CheckpointException,
    checkpointId: CheckpointId | undefined,
    isSavepoint = false,
  ): FailureVerdict {
    if (isSavepoint || !COUNTED_FAILURES.has(exception.reason)) return 'IGNORED';
    if (this.#tolerable === Number.POSITIVE_INFINITY) return 'IGNORED';
    if (checkpointId !== undefined) {
      if (checkpointId <= this.#lastSucceededId) return 'IGNORED';
      if (this.#countedIds.has(checkpointId)) return 'IGNORED';
      this.#countedIds.add(checkpointId);
    }
    this.#consecutive++;
    if (this.#consecutive <= this.#tolerable) return 'COUNTED';
    this.#reset();
    this.#failJob(
      new Error(
        `${EXCEEDED_TOLERABLE_FAILURES_MESSAGE} The latest checkpoint failed due to ${FAILURE_MESSAGES[exception.reason]}`,
        { cause: exception },
      ),
    );
    return 'JOB_FAILED';
  }

  /** Reports that checkpoint `checkpointId` completed; resets the count unless a newer one already did. */
  handleCheckpointSuccess(checkpointId: CheckpointId): void {
    if (checkpointId <= this.#lastSucceededId) return;
    this.#lastSucceededId = checkpointId;
    this.#reset();
  }

  #reset(): void {
    this.#consecutive = 0;
    this.#countedIds.clear();
  }
}
