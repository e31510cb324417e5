/**
 * A task's state and its transitions, in one place. CREATED → INITIALIZING → RUNNING, then one
 * terminal state: FINISHED (all input consumed), FAILED (first error wins) or CANCELED. A
 * terminal state is never left; a task can fail or be cancelled from any non-terminal state.
 */
export type TaskState = 'CREATED' | 'INITIALIZING' | 'RUNNING' | 'FINISHED' | 'FAILED' | 'CANCELED';

const NEXT: Readonly<Record<TaskState, readonly TaskState[]>> = {
  CREATED: ['INITIALIZING', 'FAILED', 'CANCELED'],
  INITIALIZING: ['RUNNING', 'FAILED', 'CANCELED'],
  RUNNING: ['FINISHED', 'FAILED', 'CANCELED'],
  FINISHED: [],
  FAILED: [],
  CANCELED: [],
};

export function isTerminal(state: TaskState): boolean {
  return NEXT[state].length === 0;
}

export class TaskLifecycle {
  /** Read on hot paths (`state === 'RUNNING'`), so a plain field. Change it only through `to`. */
  state: TaskState = 'CREATED';

  /** Moves to `next` when the transition is allowed; false (and no change) otherwise. */
  to(next: TaskState): boolean {
    if (!NEXT[this.state].includes(next)) return false;
    this.state = next;
    return true;
  }

  get running(): boolean {
    return this.state === 'RUNNING';
  }

  get terminal(): boolean {
    return isTerminal(this.state);
  }
}
