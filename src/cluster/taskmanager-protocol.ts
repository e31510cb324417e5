/**
 * Messages between a JobManager and its TaskManager process. Plain data only (the channel
 * serialises with structured clone), so that the same messages can later travel over a socket
 * to a TaskManager on another host. A deployment is one worker group of one execution attempt.
 */
import type { SerializedError } from '../runtime/error-transport.ts';
import type { FromWorker, ToWorker } from '../runtime/worker/protocol.ts';
import type { WorkerGroupSpec } from '../runtime/worker-group.ts';
import type { JobModule } from './job-bundle.ts';

export type ToTaskManager =
  /** Start one worker per slot of `spec`; the job module comes along, since the TaskManager has no access to the client's files. */
  | { readonly type: 'deploy'; readonly deployment: string; readonly jobId: string; readonly module: JobModule; readonly spec: WorkerGroupSpec }
  | { readonly type: 'post'; readonly deployment: string; readonly message: ToWorker }
  | { readonly type: 'kill'; readonly deployment: string; readonly slot: number }
  | { readonly type: 'terminate'; readonly deployment: string }
  /** The job is terminal and none of its workers runs any more: its stored modules can go. */
  | { readonly type: 'release-job'; readonly jobId: string }
  | { readonly type: 'shutdown' };

export type FromTaskManager =
  | { readonly type: 'registered'; readonly slots: number; readonly pid: number }
  /** Start-up failed (e.g. a metric reporter's configuration); the process exits after sending it. */
  | { readonly type: 'start-failed'; readonly message: string }
  | { readonly type: 'message'; readonly deployment: string; readonly slot: number; readonly message: FromWorker }
  | { readonly type: 'error'; readonly deployment: string; readonly slot: number; readonly error: SerializedError }
  | { readonly type: 'exit'; readonly deployment: string; readonly slot: number; readonly code: number }
  | { readonly type: 'terminated'; readonly deployment: string }
  /** Deploying failed before any worker started (e.g. the module could not be stored). */
  | { readonly type: 'deploy-failed'; readonly deployment: string; readonly error: SerializedError };
