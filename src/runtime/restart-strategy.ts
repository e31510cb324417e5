/**
 * Restart decisions for a failed job, as Flink's RestartBackoffTimeStrategy: after each failure
 * the job manager reports it, asks whether the job may restart, and if so waits the backoff time
 * before restarting. Strategies read time only from the injected clock, so tests drive them by
 * hand, and take jitter from an injected random source.
 */
import {
  validateRestartStrategyConfiguration,
  type RestartStrategyConfiguration,
} from '../api/restart-strategies.ts';
import type { Clock } from '../core/time.ts';
import { rootCause } from './error-transport.ts';

export interface RestartBackoffTimeStrategy {
  /** Records a failure at the clock's current time. */
  notifyFailure(cause: Error): void;
  /** Whether the job may restart after the failures recorded so far. */
  canRestart(): boolean;
  /** Delay before the next restart, ms (valid after notifyFailure when canRestart()). */
  getBackoffTime(): number;
  /** Names the strategy and its parameters, for the error that fails the job when restarts are exhausted. */
  toString(): string;
}

/** Never restarts: the first failure fails the job. */
export class NoRestartBackoffTimeStrategy implements RestartBackoffTimeStrategy {
  notifyFailure(_cause: Error): void {}
  canRestart(): boolean {
    return false;
  }
  getBackoffTime(): number {
    return 0;
  }
  toString(): string {
    return 'NoRestartBackoffTimeStrategy';
  }
}

/**
 * Restarts after each of the first `attempts` failures, always after the same delay; the failure
 * after those fails the job. Failures are counted over the whole life of the job.
 */
export class FixedDelayRestartBackoffTimeStrategy implements RestartBackoffTimeStrategy {
  readonly #maxAttempts: number;
  readonly #delayMs: number;
  #failures = 0;

  constructor(attempts: number, delayMs: number) {
    this.#maxAttempts = attempts;
    this.#delayMs = delayMs;
  }

  notifyFailure(_cause: Error): void {
    this.#failures++;
  }
  canRestart(): boolean {
    return this.#failures <= this.#maxAttempts;
  }
  getBackoffTime(): number {
    return this.#delayMs;
  }
  toString(): string {
    return `FixedDelayRestartBackoffTimeStrategy(maxNumberRestartAttempts=${this.#maxAttempts}, backoffTimeMS=${this.#delayMs})`;
  }
}

/**
 * Restarts as long as at most `maxFailuresPerInterval` failures lie within the last
 * `failureRateIntervalMs` (a sliding window ending now, a failure exactly one interval ago still
 * inside it). Only the newest max+1 timestamps can decide that, so no more are kept.
 */
export class FailureRateRestartBackoffTimeStrategy implements RestartBackoffTimeStrategy {
  readonly #clock: Clock;
  readonly #maxFailures: number;
  readonly #intervalMs: number;
  readonly #delayMs: number;
  /** Failure times, oldest first; at most maxFailures + 1 of them. */
  #timestamps: number[] = [];

  constructor(clock: Clock, maxFailuresPerInterval: number, failureRateIntervalMs: number, delayMs: number) {
    this.#clock = clock;
    this.#maxFailures = maxFailuresPerInterval;
    this.#intervalMs = failureRateIntervalMs;
    this.#delayMs = delayMs;
  }

  notifyFailure(_cause: Error): void {
    this.#timestamps.push(this.#clock.now());
    if (this.#timestamps.length > this.#maxFailures + 1) this.#timestamps.shift();
  }
  canRestart(): boolean {
    const now = this.#clock.now();
    // Fewer failures than max+1 ever can't exceed the rate; otherwise the rate is exceeded exactly
    // when the oldest of the newest max+1 failures is still inside the window.
    if (this.#timestamps.length <= this.#maxFailures) return true;
    return now - this.#timestamps[0]! > this.#intervalMs;
  }
  getBackoffTime(): number {
    return this.#delayMs;
  }
  toString(): string {
    return (
      `FailureRateRestartBackoffTimeStrategy(maxFailuresPerInterval=${this.#maxFailures}, ` +
      `failuresIntervalMS=${this.#intervalMs}, backoffTimeMS=${this.#delayMs})`
    );
  }
}

/**
 * Restarts with a backoff that starts at `initialBackoffMs` and is multiplied by
 * `backoffMultiplier` per restart attempt up to `maxBackoffMs`, each shifted by a random jitter of
 * up to ±jitterFactor × backoff (so that many jobs failing together do not restart together) and
 * then kept within [initial, max].
 *
 * Once the job has run for `resetBackoffThresholdMs` since its last restart was due, the next
 * failure starts over at the initial backoff and the attempt count starts over too; more than
 * `attemptsBeforeResetBackoff` attempts without such a reset fail the job.
 *
 * A failure reported before the pending restart is due (say, another task of the same job failing
 * while it is being torn down) joins that restart: it counts no attempt, and getBackoffTime() is
 * what is left of the pending wait.
 */
export class ExponentialDelayRestartBackoffTimeStrategy implements RestartBackoffTimeStrategy {
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #conf: Extract<RestartStrategyConfiguration, { kind: 'exponential-delay' }>;
  /** Attempts since the last reset. */
  #attempt = 0;
  /** When the pending (or last) restart is due; undefined before the first failure. */
  #nextRestartAt: number | undefined;

  constructor(
    conf: Extract<RestartStrategyConfiguration, { kind: 'exponential-delay' }>,
    clock: Clock,
    random: () => number,
  ) {
    this.#conf = conf;
    this.#clock = clock;
    this.#random = random;
  }

  notifyFailure(_cause: Error): void {
    const now = this.#clock.now();
    if (this.#nextRestartAt !== undefined) {
      if (now < this.#nextRestartAt) return;
      if (now - this.#nextRestartAt >= this.#conf.resetBackoffThresholdMs) this.#attempt = 0;
    }
    this.#nextRestartAt = now + this.#backoffFor(this.#attempt);
    this.#attempt++;
  }

  canRestart(): boolean {
    return this.#attempt <= this.#conf.attemptsBeforeResetBackoff;
  }

  getBackoffTime(): number {
    if (this.#nextRestartAt === undefined) throw new Error('getBackoffTime() called before any failure was notified');
    return Math.max(0, this.#nextRestartAt - this.#clock.now());
  }

  toString(): string {
    const c = this.#conf;
    return (
      `ExponentialDelayRestartBackoffTimeStrategy(initialBackoffMS=${c.initialBackoffMs}, ` +
      `maxBackoffMS=${c.maxBackoffMs}, backoffMultiplier=${c.backoffMultiplier}, ` +
      `resetBackoffThresholdMS=${c.resetBackoffThresholdMs}, jitterFactor=${c.jitterFactor}, ` +
      `attemptsBeforeResetBackoff=${c.attemptsBeforeResetBackoff}, currentRestartAttempt=${this.#attempt})`
    );
  }

  /** initial × multiplier^attempt, capped before the jitter so that huge exponents stay finite. */
  #backoffFor(attempt: number): number {
    const { initialBackoffMs, maxBackoffMs, backoffMultiplier, jitterFactor } = this.#conf;
    const base = Math.floor(Math.min(initialBackoffMs * backoffMultiplier ** attempt, maxBackoffMs));
    const spread = Math.floor(base * jitterFactor);
    // A whole number in [-spread, spread], uniform for random() in [0, 1); random() = 1 gives +spread.
    const jitter = spread === 0 ? 0 : Math.min(spread, Math.floor(this.#random() * (2 * spread + 1)) - spread);
    return Math.max(initialBackoffMs, Math.min(base + jitter, maxBackoffMs));
  }
}

/**
 * The runtime strategy for a configuration, checked again here since a configuration may be an
 * object literal that never went through the builders. `random` returns numbers in [0, 1) and
 * only feeds jitter.
 */
export function createRestartStrategy(
  conf: RestartStrategyConfiguration,
  clock: Clock,
  random: () => number = Math.random,
): RestartBackoffTimeStrategy {
  const c = validateRestartStrategyConfiguration(conf);
  switch (c.kind) {
    case 'none':
      return new NoRestartBackoffTimeStrategy();
    case 'fixed-delay':
      return new FixedDelayRestartBackoffTimeStrategy(c.attempts, c.delayMs);
    case 'failure-rate':
      return new FailureRateRestartBackoffTimeStrategy(clock, c.maxFailuresPerInterval, c.failureRateIntervalMs, c.delayMs);
    case 'exponential-delay':
      return new ExponentialDelayRestartBackoffTimeStrategy(c, clock, random);
  }
}

// ---------------------------------------------------------------------------------------------

export interface FailureEntry {
  /** Clock time of the failure, ms. */
  readonly timestamp: number;
  /** The failure's message. */
  readonly message: string;
  /** "Name: message" of the innermost cause: the error user code threw. */
  readonly rootCause: string;
  /** Stack of the innermost cause, where user code threw. */
  readonly stack?: string;
}

/** The job failed and its restart strategy allows no further restart. */
export class RecoverySuppressedError extends Error {
  override readonly name = 'RecoverySuppressedError';
  constructor(
    message: string,
    /** Failures over the life of the job, the last one included. */
    readonly numFailures: number,
    readonly numRestarts: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * Tracks the restarts of one job: the history of its failures (timestamp, message, root cause)
 * and how often it was restarted (Flink's numRestarts metric). Only the newest `maxEntries`
 * failures are kept, so a job that restarts forever holds bounded memory; the counts stay exact.
 */
export class FailureHistory {
  readonly #maxEntries: number;
  #entries: FailureEntry[] = [];
  #lastError: Error | undefined;
  #numFailures = 0;
  #numRestarts = 0;

  /** Flink keeps 16 failures in a job's exception history by default. */
  constructor(maxEntries = 16) {
    if (!Number.isInteger(maxEntries) || maxEntries < 1) {
      throw new RangeError(`maxEntries must be an integer >= 1, got ${maxEntries}`);
    }
    this.#maxEntries = maxEntries;
  }

  record(error: Error, timestamp: number): void {
    const root = rootCause(error);
    const entry: FailureEntry = {
      timestamp,
      message: error.message,
      rootCause: `${root.name}: ${root.message}`,
      ...(root.stack !== undefined ? { stack: root.stack } : {}),
    };
    this.#entries.push(entry);
    if (this.#entries.length > this.#maxEntries) this.#entries.shift();
    this.#lastError = error;
    this.#numFailures++;
  }

  /** Restarts so far. */
  get numRestarts(): number {
    return this.#numRestarts;
  }

  /** Failures recorded so far, including those no longer kept in entries(). */
  get numFailures(): number {
    return this.#numFailures;
  }

  markRestarted(): void {
    this.#numRestarts++;
  }

  /** The kept failures, oldest first. */
  entries(): readonly FailureEntry[] {
    return [...this.#entries];
  }

  /**
   * The error to fail the job with when restarts are exhausted: its message names the strategy
   * and the number of failures and lists the earlier failures (the kept ones), and its cause is
   * the last failure, so the user sees their own error with its stack.
   */
  exhausted(strategy: RestartBackoffTimeStrategy): RecoverySuppressedError {
    const n = this.#numFailures;
    let message =
      `Recovery is suppressed by ${strategy.toString()}: the job failed ${n} time${n === 1 ? '' : 's'}` +
      ` and was restarted ${this.#numRestarts} time${this.#numRestarts === 1 ? '' : 's'}`;
    const last = this.#entries.at(-1);
    if (last !== undefined) message += `; last failure at ${formatTime(last.timestamp)}: ${describeEntry(last)}`;
    const earlier = this.#entries.slice(0, -1);
    if (earlier.length > 0) {
      const first = n - this.#entries.length + 1; // number of the oldest kept failure
      const dropped = first - 1;
      message += '\nEarlier failures:';
      if (dropped > 0) message += `\n  (${dropped} older failure${dropped === 1 ? '' : 's'} not kept)`;
      earlier.forEach((e, i) => {
        message += `\n  #${first + i} at ${formatTime(e.timestamp)}: ${describeEntry(e)}`;
      });
    }
    return new RecoverySuppressedError(
      message,
      n,
      this.#numRestarts,
      this.#lastError !== undefined ? { cause: this.#lastError } : undefined,
    );
  }
}

/** The root cause, preceded by the failure's own message where that says something more. */
function describeEntry(e: FailureEntry): string {
  return e.rootCause.endsWith(`: ${e.message}`) ? e.rootCause : `${e.message} (root cause: ${e.rootCause})`;
}

/** ISO 8601 in UTC; a clock reading, not a wall-clock read. */
function formatTime(ms: number): string {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? String(ms) : d.toISOString();
}
