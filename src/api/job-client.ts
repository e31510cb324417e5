/** Handles on a submitted job, with Flink's names. */
import type { CheckpointStatsSnapshot } from './checkpoint-statistics.ts';
import type { JobStatus } from './job-status.ts';

// The statuses and their transitions live in job-status.ts; re-exported for existing importers.
export { TERMINAL_JOB_STATUSES, type JobStatus } from './job-status.ts';

export interface JobExecutionResult {
  readonly jobId: string;
  readonly jobName: string;
  /** Milliseconds from start to end. */
  readonly netRuntime: number;
  getJobID(): string;
  getNetRuntime(): number;
}

export interface JobClient {
  /** 32 lowercase hexadecimal characters. */
  getJobID(): string;
  getJobStatus(): Promise<JobStatus>;
  /** Cancels the job; resolves when it has stopped. */
  cancel(): Promise<void>;
  /** Resolves when the job finished; rejects with a JobExecutionError when it failed or was cancelled. */
  getJobExecutionResult(): Promise<JobExecutionResult>;
  /**
   * Takes a checkpoint now and resolves with its directory once it is complete; rejects when
   * checkpointing is not enabled, the job is not running, or the checkpoint fails.
   */
  triggerCheckpoint(): Promise<string>;
  /**
   * Takes a savepoint (always aligned, whatever the checkpointing mode) into a new
   * `savepoint-<6 of job id>-<12 hex>` directory under `targetDirectory`, else under the job's
   * `state.savepoints.dir`, and resolves with that directory once its `_metadata` is written.
   * Works with and without periodic checkpointing. Rejects when no directory is given or
   * configured, the job is not running, or the savepoint fails (the job keeps running).
   */
  triggerSavepoint(targetDirectory?: string): Promise<string>;
  /**
   * Flink's stop: takes a savepoint after which the sources emit nothing more, then ends the job
   * as FINISHED without the end-of-input watermark (event-time timers do not fire). With `drain`,
   * sources first emit the maximal watermark, so timers fire and windows flush into the
   * savepoint. Resolves with the savepoint directory once the job has finished; if the
   * savepoint fails, rejects and the job keeps running.
   */
  stopWithSavepoint(targetDirectory?: string, drain?: boolean): Promise<string>;
  /** Checkpoint counts, summary, latest and history (Flink's fields); undefined without checkpointing. */
  getCheckpointStats(): Promise<CheckpointStatsSnapshot | undefined>;
  /** How often the job restarted after failures (Flink's numRestarts). */
  getNumRestarts(): Promise<number>;
}

/** A job ended without finishing. `cause` is the user's error (with its stack) when user code failed. */
export class JobExecutionError extends Error {
  override readonly name = 'JobExecutionError';
  constructor(
    message: string,
    readonly jobId: string,
    readonly status: 'FAILED' | 'CANCELED',
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
