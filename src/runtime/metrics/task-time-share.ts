/**
 * How a task spends its time, as Flink reports it: `busyTimeMsPerSecond` (running records,
 * timers and other mails), `backPressuredTimeMsPerSecond` (unable to produce: an output channel
 * out of credit) and `idleTimeMsPerSecond` (the rest: waiting for input), each in milliseconds
 * per second over the latest window of at least a second.
 *
 * The task keeps two running totals, updated per mailbox run and per credit stall, never per
 * record; this class turns them into per-second shares when the metrics are read.
 */
import { monotonicClock } from '../../core/time.ts';

export interface TaskTimeTotals {
  /** Time spent running so far, ms. */
  busyMs(): number;
  /** Time spent back-pressured so far, including a stall under way, ms. */
  backPressuredMs(now: number): number;
}

export interface TimeShare {
  readonly busy: number;
  readonly backPressured: number;
  readonly idle: number;
}

/** The shortest window a share is computed over, ms (Flink's metrics use one-second views too). */
const WINDOW_MS = 1000;

export class TaskTimeShare {
  readonly #totals: TaskTimeTotals;
  readonly #now: () => number;
  /** When the task's time started to count. */
  readonly #born: number;
  #mark: { t: number; busy: number; backPressured: number };
  #latest: TimeShare | undefined;

  constructor(totals: TaskTimeTotals, now: () => number = () => monotonicClock.now()) {
    this.#totals = totals;
    this.#now = now;
    const t = now();
    this.#born = t;
    this.#mark = { t, busy: totals.busyMs(), backPressured: totals.backPressuredMs(t) };
  }

  /** Time spent busy, back-pressured and idle since the task began, ms (Flink's accumulated times). */
  accumulated(): TimeShare {
    const t = this.#now();
    const busy = Math.round(this.#totals.busyMs());
    const backPressured = Math.round(this.#totals.backPressuredMs(t));
    return { busy, backPressured, idle: Math.max(0, Math.round(t - this.#born) - busy - backPressured) };
  }

  /** The shares over the latest full window; before the first one ends, over the time so far. */
  current(): TimeShare {
    const t = this.#now();
    const elapsed = t - this.#mark.t;
    if (this.#latest !== undefined && elapsed < WINDOW_MS) return this.#latest;
    const busy = this.#totals.busyMs() - this.#mark.busy;
    const backPressured = this.#totals.backPressuredMs(t) - this.#mark.backPressured;
    const perSecond = (ms: number): number => (elapsed <= 0 ? 0 : Math.min(1000, Math.round((ms / elapsed) * 1000)));
    const share = { busy: perSecond(busy), backPressured: perSecond(backPressured) };
    const result: TimeShare = { ...share, idle: Math.max(0, 1000 - share.busy - share.backPressured) };
    if (elapsed >= WINDOW_MS) {
      this.#mark = { t, busy: this.#totals.busyMs(), backPressured: this.#totals.backPressuredMs(t) };
      this.#latest = result;
    }
    return result;
  }
}
