/**
 * How a job's ordinary checkpoints handle barriers, from its checkpoint settings. It lives in the
 * checkpoint layer, beside the options it feeds, because the API layer may not name them.
 */
import type { Configuration } from '../api/configuration.ts';
import type { AlignmentType } from './checkpoint-options.ts';

export interface CheckpointAlignment {
  readonly alignment: AlignmentType;
  /** Only with `alignment` 'aligned' under unaligned checkpoints: when a subtask still aligning switches to unaligned, ms after the trigger. */
  readonly alignedTimeoutMs?: number;
}

/**
 * AT_LEAST_ONCE: 'at-least-once'. EXACTLY_ONCE without unaligned checkpoints: 'aligned'. With
 * unaligned checkpoints: 'unaligned' when the aligned-checkpoint timeout is 0, otherwise
 * 'aligned' with that timeout, after which a subtask still aligning goes unaligned. Savepoints
 * ignore this and are always aligned (checkpointOptionsFor).
 */
export function checkpointAlignmentOf(config: Configuration): CheckpointAlignment {
  if (config.get('execution.checkpointing.mode') !== 'EXACTLY_ONCE') return { alignment: 'at-least-once' };
  if (!config.get('execution.checkpointing.unaligned.enabled')) return { alignment: 'aligned' };
  const timeoutMs = config.get('execution.checkpointing.aligned-checkpoint-timeout');
  return timeoutMs === 0 ? { alignment: 'unaligned' } : { alignment: 'aligned', alignedTimeoutMs: timeoutMs };
}
