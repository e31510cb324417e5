import type { CheckpointId } from '../core/ids.ts';
/**
 * Points where tests inject failures into the checkpointing path, which user code cannot reach
 * deterministically: the start of a barrier alignment and the asynchronous phase of a snapshot.
 *
 * Hooks live in a per-thread global, so a job module that installs them (through
 * `injectFaults` of weir/testing) installs them in every worker that re-imports it. Each call
 * site costs one property read per checkpoint, never per record.
 */

export interface CheckpointFaultPoint {
  readonly taskName: string;
  readonly vertexName: string;
  readonly subtaskIndex: number;
  readonly attemptNumber: number;
  readonly checkpointId: CheckpointId;
}

export interface FaultHooks {
  /** A task received the first barrier of a checkpoint on one of several inputs; throwing fails the task while it aligns. */
  alignmentStarted?(point: CheckpointFaultPoint): void;
  /** The synchronous part of a subtask's snapshot begins (before any operator snapshots); throwing fails the task. */
  syncSnapshot?(point: CheckpointFaultPoint): void;
  /** The asynchronous phase of a subtask's snapshot begins; throwing or rejecting makes the subtask decline the checkpoint. */
  asyncSnapshot?(point: CheckpointFaultPoint): void | Promise<void>;
  /**
   * A sink subtask commits the committables of checkpoints up to `point.checkpointId`:
   * `before` its committer runs, or `after` it committed them. Throwing fails the task, which then
   * restores its latest checkpoint and commits what that holds again.
   */
  commit?(point: CheckpointFaultPoint & { readonly phase: 'before' | 'after' }): void;
}

const KEY = Symbol.for('weir.fault-hooks');

export function faultHooks(): FaultHooks | undefined {
  return (globalThis as { [KEY]?: FaultHooks })[KEY];
}

export function setFaultHooks(hooks: FaultHooks | undefined): void {
  (globalThis as { [KEY]?: FaultHooks | undefined })[KEY] = hooks;
}
