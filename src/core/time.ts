/**
 * Time is injected: runtime code never reads the wall clock or sets timers itself, so that
 * tests can drive coordinators, restart strategies and processing-time timers by hand.
 */

/** Milliseconds since the epoch, as `Date.now()`. */
export interface Clock {
  now(): number;
}

/** A handle that cancels a scheduled callback; cancelling twice or after it ran is harmless. */
export interface Cancellable {
  cancel(): void;
}

/** Runs callbacks after a delay on the owner's event loop. */
export interface Scheduler extends Clock {
  schedule(delayMs: number, callback: () => void): Cancellable;
}

/** The real clock and Node's timers. */
export const systemScheduler: Scheduler = {
  now: () => Date.now(),
  schedule(delayMs, callback) {
    const handle = setTimeout(callback, Math.max(0, delayMs));
    return { cancel: () => clearTimeout(handle) };
  },
};

/**
 * Resolves on the event loop's next check phase, after pending I/O callbacks: how long-running
 * work on a task's thread gives records, messages and timers their turn. Not a delay.
 */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Resolves after `delayMs` on the scheduler's clock (a ManualScheduler resolves it when advanced). */
export function sleep(scheduler: Scheduler, delayMs: number): Promise<void> {
  return new Promise((resolve) => scheduler.schedule(delayMs, resolve));
}

/**
 * A monotonic clock in milliseconds with sub-millisecond resolution, for budgets and durations
 * measured on one thread (how long a burst of records has run, how long a phase took). It never
 * gives a timestamp: event and processing time come from a Clock. Code that slices its work by
 * time takes one of these as a parameter, defaulting to `monotonicClock`, so tests can pass their own.
 */
export interface MonotonicClock {
  now(): number;
}

export const monotonicClock: MonotonicClock = { now: () => performance.now() };

/** Absolute milliseconds comparable across the threads of a process (for start-up phase marks). */
export function processWideNow(): number {
  return performance.timeOrigin + performance.now();
}

interface PendingCallback {
  readonly due: number;
  readonly seq: number;
  readonly callback: () => void;
  cancelled: boolean;
}

/**
 * A clock that only moves when told to. `advance(ms)` runs every callback that falls due,
 * in due-time order (ties in scheduling order), with `now()` set to each one's due time.
 */
export class ManualScheduler implements Scheduler {
  #now: number;
  #seq = 0;
  #pending: PendingCallback[] = [];

  constructor(startMs = 0) {
    this.#now = startMs;
  }

  now(): number {
    return this.#now;
  }

  schedule(delayMs: number, callback: () => void): Cancellable {
    const entry = { due: this.#now + Math.max(0, delayMs), seq: this.#seq++, callback, cancelled: false };
    this.#pending.push(entry);
    return {
      cancel: () => {
        entry.cancelled = true;
      },
    };
  }

  /** Number of callbacks scheduled and not yet run or cancelled. */
  get pendingCount(): number {
    return this.#pending.filter((e) => !e.cancelled).length;
  }

  /** Moves time forward by `ms`, running everything that falls due on the way. */
  advance(ms: number): void {
    this.advanceTo(this.#now + ms);
  }

  advanceTo(target: number): void {
    for (;;) {
      this.#pending = this.#pending.filter((e) => !e.cancelled);
      let next: PendingCallback | undefined;
      for (const e of this.#pending) {
        if (e.due <= target && (!next || e.due < next.due || (e.due === next.due && e.seq < next.seq))) next = e;
      }
      if (!next) break;
      next.cancelled = true;
      this.#now = Math.max(this.#now, next.due);
      next.callback();
    }
    this.#now = Math.max(this.#now, target);
  }
}
