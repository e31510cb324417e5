/**
 * What the backpressured-exchange job and the unaligned-checkpoints benchmark share: the
 * checkpointing argument and the sink's report. Kept apart from the job module, whose top level
 * runs the job when imported.
 */

/** Posted by every sink instance when its input ended. */
export interface TimedSinkReport {
  readonly type: 'timed-sink';
  readonly subtask: number;
  readonly subtasks: number;
  readonly count: number;
  readonly max: number;
  /** When the instance took its first and its last record (absNow(); NaN when it took none). */
  readonly firstAt: number;
  readonly lastAt: number;
}

/** How the job checkpoints. */
export type Checkpointing = { readonly kind: 'off' } | { readonly kind: 'aligned' } | { readonly kind: 'unaligned'; readonly alignedTimeoutMs: number };

export function checkpointingArg(c: Checkpointing): string {
  if (c.kind !== 'unaligned') return c.kind;
  return c.alignedTimeoutMs === 0 ? 'unaligned' : `timeout:${c.alignedTimeoutMs}`;
}

export function parseCheckpointing(arg: string): Checkpointing {
  if (arg === 'off' || arg === 'aligned') return { kind: arg };
  if (arg === 'unaligned') return { kind: 'unaligned', alignedTimeoutMs: 0 };
  const m = /^timeout:(\d+)$/.exec(arg);
  if (m) return { kind: 'unaligned', alignedTimeoutMs: Number(m[1]) };
  throw new RangeError(`checkpointing must be off, aligned, unaligned or timeout:<ms>, got ${arg}`);
}
