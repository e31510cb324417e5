/**
 * Failures a user injects into a job to prove it exactly-once end to end: a task failing at a
 * chosen record, a checkpoint failing in its synchronous or asynchronous part, a sink failing
 * inside its commit (before or after the committer ran), and, with JobProcess, the whole process
 * killed with SIGKILL and resumed with `weir run -s`. After the job, the test asserts on what the
 * external system holds.
 *
 * Every injection fires in one attempt only (the first, unless told otherwise), so the restart
 * that follows runs clean and the job can finish: the test then sees the recovery, not a loop.
 */
import { RichMapFunction } from '../api/functions.ts';
import type { CheckpointFaultPoint, FaultHooks } from '../runtime/fault-injection.ts';

/** The error every injected failure throws, so a test can tell it from a real one. */
export class InjectedFailure extends Error {
  override readonly name = 'InjectedFailure';
}

/** Where a checkpoint-related failure is injected. */
export type FaultPoint =
  /** A task throws as its snapshot's synchronous part begins: the task fails. */
  | 'sync-snapshot'
  /** A task's snapshot fails in its asynchronous part: the task declines the checkpoint, which fails. */
  | 'async-snapshot'
  /** A sink subtask throws before its committer runs: nothing of that commit happened. */
  | 'commit-before'
  /** A sink subtask throws after its committer committed: the restore commits the same committables again. */
  | 'commit-after';

export interface FaultPlan {
  readonly at: FaultPoint;
  /** The first checkpoint id it may fire at (default 1): it fires at the first one at or after it that gets there. */
  readonly checkpoint?: number;
  /** The attempt it fires in (default 0: the first run). */
  readonly attempt?: number;
  /** Only in tasks whose name contains this (default: any task; for commits, any sink). */
  readonly task?: string;
  /** Only in this subtask (default: any). */
  readonly subtask?: number;
}

function matches(plan: FaultPlan, p: CheckpointFaultPoint): boolean {
  return (
    p.attemptNumber === (plan.attempt ?? 0) &&
    p.checkpointId >= (plan.checkpoint ?? 1) &&
    (plan.task === undefined || p.taskName.includes(plan.task) || p.vertexName.includes(plan.task)) &&
    (plan.subtask === undefined || p.subtaskIndex === plan.subtask)
  );
}

/**
 * Fault hooks for `injectFaults` that carry out the plans. Call `injectFaults(faultsAt(...))` at
 * the top level of the job module: every worker thread imports the module again, so every thread
 * gets the hooks.
 */
export function faultsAt(...plans: readonly FaultPlan[]): FaultHooks {
  const fire = (at: FaultPoint, p: CheckpointFaultPoint, what: string): void => {
    for (const plan of plans) {
      if (plan.at === at && matches(plan, p)) throw new InjectedFailure(`injected failure ${what} of checkpoint ${p.checkpointId} in ${p.taskName} (attempt ${p.attemptNumber})`);
    }
  };
  return {
    syncSnapshot: (p) => fire('sync-snapshot', p, 'in the synchronous part'),
    asyncSnapshot: (p) => fire('async-snapshot', p, 'in the asynchronous part'),
    commit: (p) => fire(p.phase === 'before' ? 'commit-before' : 'commit-after', p, `${p.phase} the commit`),
  };
}

export interface FailAfterRecordsOptions {
  /** The attempt it fails in (default 0). */
  readonly attempt?: number;
  /** Only this subtask fails (default 0; -1: every subtask). */
  readonly subtask?: number;
}

/**
 * A map that passes records through and fails its task at the `after`-th record it sees in the
 * chosen attempt and subtask: put it anywhere in a pipeline (`.map(new FailAfterRecords(500))`).
 * Count it from the restored position: after a restore, records since the checkpoint are seen
 * again.
 */
export class FailAfterRecords<T> extends RichMapFunction<T, T> {
  #seen = 0;
  #armed = false;

  constructor(
    readonly after: number,
    readonly options: FailAfterRecordsOptions = {},
  ) {
    super();
    if (!Number.isSafeInteger(after) || after < 1) throw new RangeError(`FailAfterRecords needs a positive record count, got ${after}`);
  }

  override open(): void {
    const rc = this.getRuntimeContext();
    const subtask = this.options.subtask ?? 0;
    this.#armed = rc.getAttemptNumber() === (this.options.attempt ?? 0) && (subtask === -1 || subtask === rc.getIndexOfThisSubtask());
  }

  map(value: T): T {
    if (this.#armed && ++this.#seen >= this.after) {
      this.#armed = false;
      throw new InjectedFailure(`injected failure at record ${this.#seen} of ${this.getRuntimeContext().getTaskName()} (attempt ${this.getRuntimeContext().getAttemptNumber()})`);
    }
    return value;
  }
}
