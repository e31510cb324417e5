/**
 * What a source driver needs from its task. The driver reads these objects' fields directly on
 * its per-record path (no getter chain through the task), so a split task emits as fast as the
 * whole one did.
 */
import type { Backpressure } from '../record-writer.ts';
import type { CheckpointParticipant } from './checkpoint-participant.ts';
import type { OperatorChain } from './operator-chain.ts';
import type { TaskLifecycle } from './task-lifecycle.ts';
import type { TaskMailbox } from './task-mailbox.ts';

export interface SourceTaskHost {
  readonly lifecycle: TaskLifecycle;
  readonly mailbox: TaskMailbox;
  readonly backpressure: Backpressure;
  readonly checkpoints: CheckpointParticipant;
  readonly chain: OperatorChain;
  /** Whether the task's input is ending; a driver that reached its end sets it. */
  endingInput: boolean;
  fail(error: unknown): void;
  /** All input consumed: finish the chain, signal the end downstream. */
  endInput(): Promise<void>;
}

/** Whether the task may emit now: running, not suspended, not backpressured, no stop pending. */
export function mayEmit(h: SourceTaskHost): boolean {
  return h.lifecycle.state === 'RUNNING' && h.mailbox.suspended === 0 && h.backpressure.blocked === 0 && h.checkpoints.stopPending === undefined;
}
