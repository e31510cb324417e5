/** Handles on a submitted job, with Flink's names. */

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
