/** What a slot hands a task: where it runs, its channels, its state, and where it reports. */
import type { Configuration } from '../../api/configuration.ts';
import type { ScopeFormats } from '../../api/metric-scope-format.ts';
import type { CheckpointStorage } from '../../checkpoint/checkpoint-storage.ts';
import type { Scheduler } from '../../core/time.ts';
import type { JobVertex } from '../../graph/job-graph.ts';
import type { StateBackend } from '../../state/state-backend.ts';
import type { InputChannel, OutputChannel } from '../channel/channel.ts';
import type { TaskRestore } from '../checkpoint/restore-assignment.ts';
import type { SlotEventSink } from '../slot-event.ts';

/**
 * How a task takes part in checkpoints and savepoints. Absent only for tasks run outside a job
 * (every deployed task can take a savepoint, with or without periodic checkpoints). How barriers
 * are handled is not configured here: every barrier carries its checkpoint's options.
 */
export interface TaskCheckpointing {
  readonly storage: CheckpointStorage;
}

/** Where a task runs, for its metrics' scope. */
export interface TaskMetricsLocation {
  readonly host: string;
  readonly taskManagerId: string;
  readonly jobName: string;
  /** The scope formats (`metrics.scope.*`) of the task's and operators' metric identifiers. */
  readonly scopes: ScopeFormats;
}

export interface TaskInput {
  readonly channel: InputChannel;
  readonly input: 0 | 1;
  readonly edge: number;
  readonly producer: number;
}

export interface TaskDeployment {
  readonly jobId: string;
  readonly vertex: JobVertex;
  readonly subtaskIndex: number;
  readonly attemptNumber: number;
  readonly config: Configuration;
  readonly scheduler: Scheduler;
  /**
   * Channels into the head, with the logical input (0 or 1) each belongs to, and which channel
   * it is: the network edge (index in the job graph) and the producer subtask.
   */
  readonly inputs: readonly TaskInput[];
  /** Channels out of the chain, per network edge index, in the order the partitioner addresses them. */
  readonly outputs: ReadonlyMap<number, readonly OutputChannel[]>;
  /**
   * Where the task reports (print, collect, finished, failed, ack, decline): its own sink, so
   * the slot knows which task an event is from.
   */
  readonly report: SlotEventSink;
  /** Whether user function objects must be copied for this subtask (they are shared with another subtask on this thread). */
  readonly copyFunctions: boolean;
  readonly checkpointing: TaskCheckpointing | undefined;
  /** State to start from; absent for a fresh start. */
  readonly restore: TaskRestore | undefined;
  /** Makes, writes and restores the state of this subtask's operators (resolved once per deployment). */
  readonly stateBackend: StateBackend;
  readonly metrics: TaskMetricsLocation;
}
