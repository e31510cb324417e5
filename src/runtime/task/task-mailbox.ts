/**
 * The mailbox of one task (Flink's MailboxProcessor on the thread's event loop). The default
 * action (processing input in a bounded burst) runs from `setImmediate`; mails (timers and other
 * callbacks) run before it, between bursts, never in the middle of a record and never while the
 * task is suspended (a sink or a snapshot being awaited). After each run the task yields, so
 * I/O, other tasks on the thread and control messages always get a turn.
 */
import { monotonicClock, type Cancellable, type Scheduler } from '../../core/time.ts';

export interface MailboxOwner {
  /** Whether the task is RUNNING: nothing runs otherwise. */
  readonly running: boolean;
  /** The default action: one burst of input processing. */
  processInput(): void;
  /** The task may go on after a suspension ended (a source function paused in collect() resumes). */
  resumed(): void;
  fail(error: unknown): void;
}

export class TaskMailbox {
  /** Promises the task waits for before it processes anything more; read per record, so a plain field. */
  suspended = 0;
  /** Time spent running mails and the default action, ms (Flink's busy time). */
  busyMs = 0;
  readonly #owner: MailboxOwner;
  readonly #mails: (() => void)[] = [];
  readonly #timers = new Set<Cancellable>();
  #scheduled = false;
  readonly #runBound = (): void => this.#run();

  constructor(owner: MailboxOwner) {
    this.#owner = owner;
  }

  /** Runs the default action (and pending mails) soon, once however often it is asked. */
  schedule(): void {
    if (this.#scheduled || !this.#owner.running) return;
    this.#scheduled = true;
    setImmediate(this.#runBound);
  }

  enqueue(mail: () => void): void {
    this.#mails.push(mail);
    this.schedule();
  }

  /** Runs every pending mail now (the task is ending and the mails must not be lost). */
  drain(): void {
    while (this.#mails.length > 0 && this.#owner.running) this.#mails.shift()!();
  }

  /** Stops the task from processing input until the promise settles; a rejection fails the task. */
  suspendUntil(promise: PromiseLike<unknown>): void {
    this.suspended++;
    promise.then(
      () => {
        this.suspended--;
        this.schedule();
        this.#owner.resumed();
      },
      (e: unknown) => {
        this.suspended--;
        this.#owner.fail(e);
      },
    );
  }

  /** Resolves once nothing suspends the task (or it stopped running). */
  async whenResumed(): Promise<void> {
    while (this.suspended > 0 && this.#owner.running) await new Promise((r) => setImmediate(r));
  }

  /** The deployment's scheduler with callbacks delivered as mails; its timers end with the task. */
  scheduler(base: Scheduler): Scheduler {
    return {
      now: () => base.now(),
      schedule: (delayMs, callback) => {
        const handle = base.schedule(delayMs, () => {
          this.#timers.delete(handle);
          this.enqueue(callback);
        });
        this.#timers.add(handle);
        return handle;
      },
    };
  }

  cancelTimers(): void {
    for (const t of this.#timers) t.cancel();
    this.#timers.clear();
  }

  #run(): void {
    this.#scheduled = false;
    const owner = this.#owner;
    if (!owner.running || this.suspended > 0) return;
    const start = monotonicClock.now();
    try {
      while (this.#mails.length > 0 && this.suspended === 0 && owner.running) this.#mails.shift()!();
      owner.processInput();
    } catch (e) {
      owner.fail(e);
    } finally {
      this.busyMs += monotonicClock.now() - start;
    }
  }
}
