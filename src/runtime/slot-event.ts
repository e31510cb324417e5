/**
 * What tasks and slots report, on whatever thread they run: one closed union, consumed with an
 * exhaustive switch by the execution attempt and the job. The worker protocol's `FromWorker`
 * is this union in its wire form (errors as data, collected values encoded) plus the worker's
 * own lifecycle messages, so inline and threads attempts report exactly the same events.
 *
 * The same events at two levels: a task reports to its slot (`finished`: this task finished;
 * `failed`: this task failed), the slot reports to the attempt (`finished`: every task of the
 * slot finished; `failed` at most once per slot, or for the deployment; `metrics`: its tasks'
 * latest metric snapshots).
 */
import type { CheckpointId } from '../core/ids.ts';
import type { CheckpointFailureReason, SubtaskAcknowledgement, SubtaskKey } from '../checkpoint/checkpoint-types.ts';
import type { SubtaskMetrics } from './metrics/metric-snapshot.ts';

export type SlotEvent =
  /** Text for the job's stdout or stderr (a slot batches its tasks' lines per event-loop turn). */
  | { readonly type: 'print'; readonly text: string; readonly stderr: boolean }
  /**
   * Records for an executeAndCollect() client. `epoch` is the id of the last checkpoint the
   * subtask had taken when they were produced (the restored one, or 0): after a restore from
   * checkpoint c, records of epoch >= c are replayed, so the client drops its copies of them.
   */
  | { readonly type: 'collect'; readonly collectId: string; readonly values: unknown[]; readonly epoch: number }
  | { readonly type: 'finished' }
  /**
   * A task reached the end of its input and finished its operators, and waits for the job's
   * final checkpoint (FLIP-147); once every task reported it, the job takes that checkpoint.
   */
  | { readonly type: 'data-ended'; readonly subtask: SubtaskKey }
  /** `task` names where it failed: a task's name, 'deployment', a worker or slot. */
  | { readonly type: 'failed'; readonly error: Error; readonly task: string }
  | { readonly type: 'ack'; readonly ack: SubtaskAcknowledgement }
  | {
      readonly type: 'decline';
      readonly checkpointId: CheckpointId;
      readonly subtask: SubtaskKey;
      readonly reason: CheckpointFailureReason;
      readonly error: Error;
    }
  | { readonly type: 'metrics'; readonly subtasks: readonly SubtaskMetrics[] };

export type SlotEventType = SlotEvent['type'];

/** Where events go: one function for every kind. */
export type SlotEventSink = (event: SlotEvent) => void;
