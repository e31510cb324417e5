/** Handles on a submitted job, with Flink's names. */
import type { CheckpointStatsSnapshot } from '../checkpoint/checkpoint-stats.ts';

export type JobStatus =
  | 'INITIALIZING'
  | 'CREATED'
  | 'RUNNING'
  | 'FAILING'
  | 'FAILED'
  | 'CANCELLING'
  | 'CANCELED'
  | 'FINISHED'
  | 'RESTARTING';

export const TERMINAL_JOB_STATUSES: ReadonlySet<JobStatus> = new Set(['FAILED', 'CANCELED', 'FINISHED']);

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
