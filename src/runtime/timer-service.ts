/**
 * Keyed timers of one operator subtask (Flink's InternalTimerService).
 *
 * There is at most one timer per (domain, key, timestamp), so registering the same timer from
 * every record of a key is cheap and fires once. Event-time timers fire when the watermark
 * reaches them; processing-time timers fire when the scheduler's clock does. Timers fire in
 * timestamp order, ties in registration order, and the callback may register or delete timers.
 */

import type { Cancellable, Scheduler } from '../core/time.ts';
import { MIN_WATERMARK } from '../api/watermark-strategy.ts';

export type { CanonicalKey, RestoredTimer, TimeDomain, TimerSnapshot } from '../state/timer-snapshot.ts';
import type { CanonicalKey, RestoredTimer, TimeDomain, TimerSnapshot } from '../state/timer-snapshot.ts';

export interface TimerTarget<K> {
  onTimer(domain: TimeDomain, key: K, timestamp: number): void;
}

interface Timer<K> {
  readonly key: K;
  readonly canonical: CanonicalKey;
  readonly keyGroup: number;
  readonly timestamp: number;
  /** Registration order; breaks ties between equal timestamps. */
  readonly seq: number;
  /** Position in the heap, kept current so a deleted timer leaves the heap at once. */
  index: number;
}

function before(a: Timer<unknown>, b: Timer<unknown>): boolean {
  return a.timestamp < b.timestamp || (a.timestamp === b.timestamp && a.seq < b.seq);
}

/**
 * The timers of one domain: a binary min-heap on (timestamp, seq) for firing order and a
 * two-level map (canonical key → timestamp → timer) for deduplication and deletion.
 */
class TimerQueue<K> {
  readonly #heap: Timer<K>[] = [];
  readonly #byKey = new Map<CanonicalKey, Map<number, Timer<K>>>();

  get size(): number {
    return this.#heap.length;
  }

  peek(): Timer<K> | undefined {
    return this.#heap[0];
  }

  /** Adds the timer unless one with the same key and timestamp exists; true if added. */
  add(key: K, canonical: CanonicalKey, keyGroup: number, timestamp: number, seq: number): boolean {
    let perKey = this.#byKey.get(canonical);
    if (perKey?.has(timestamp)) return false;
    if (perKey === undefined) {
      perKey = new Map();
      this.#byKey.set(canonical, perKey);
    }
    const timer: Timer<K> = { key, canonical, keyGroup, timestamp, seq, index: this.#heap.length };
    perKey.set(timestamp, timer);
    this.#heap.push(timer);
    this.#siftUp(timer.index);
    return true;
  }

  /** Removes the timer if present; true if removed. */
  delete(canonical: CanonicalKey, timestamp: number): boolean {
    const timer = this.#byKey.get(canonical)?.get(timestamp);
    if (timer === undefined) return false;
    this.#unlink(timer);
    this.#removeAt(timer.index);
    return true;
  }

  /** Removes and returns the earliest timer. */
  poll(): Timer<K> | undefined {
    const head = this.#heap[0];
    if (head === undefined) return undefined;
    this.#unlink(head);
    this.#removeAt(0);
    return head;
  }

  /** All timers in firing order, without changing the queue. */
  sorted(): Timer<K>[] {
    return [...this.#heap].sort((a, b) => (before(a, b) ? -1 : 1));
  }

  #unlink(timer: Timer<K>): void {
    const perKey = this.#byKey.get(timer.canonical);
    if (perKey === undefined) return;
    perKey.delete(timer.timestamp);
    if (perKey.size === 0) this.#byKey.delete(timer.canonical);
  }

  #removeAt(index: number): void {
    const heap = this.#heap;
    const last = heap.pop()!;
    if (index === heap.length) return;
    heap[index] = last;
    last.index = index;
    this.#siftDown(index);
    this.#siftUp(last.index);
  }

  #siftUp(index: number): void {
    const heap = this.#heap;
    const timer = heap[index]!;
    while (index > 0) {
      const parentIndex = (index - 1) >> 1;
      const parent = heap[parentIndex]!;
      if (!before(timer, parent)) break;
      heap[index] = parent;
      parent.index = index;
      index = parentIndex;
    }
    heap[index] = timer;
    timer.index = index;
  }

  #siftDown(index: number): void {
    const heap = this.#heap;
    const timer = heap[index]!;
    const n = heap.length;
    for (;;) {
      const left = 2 * index + 1;
      if (left >= n) break;
      const right = left + 1;
      let child = left;
      if (right < n && before(heap[right]!, heap[left]!)) child = right;
      const childTimer = heap[child]!;
      if (!before(childTimer, timer)) break;
      heap[index] = childTimer;
      childTimer.index = index;
      index = child;
    }
    heap[index] = timer;
    timer.index = index;
  }
}

/** Node's timers overflow above this delay (and then fire at once), so longer waits re-arm. */
const MAX_SCHEDULE_DELAY_MS = 2_147_483_647;

function checkTimestamp(timestamp: number): void {
  if (typeof timestamp !== 'number' || Number.isNaN(timestamp)) {
    throw new RangeError(`a timer timestamp must be a number, got ${String(timestamp)}`);
  }
}

export class InternalTimerService<K = unknown> {
  readonly #scheduler: Scheduler;
  readonly #target: TimerTarget<K>;
  readonly #event = new TimerQueue<K>();
  readonly #processing = new TimerQueue<K>();
  #seq = 0;
  #watermark = MIN_WATERMARK;
  /** The one scheduled wake-up, for the earliest processing-time timer. */
  #wakeUp: Cancellable | undefined;
  #wakeUpAt = 0;
  /** While processing-time timers fire, re-arming waits until the batch is done. */
  #firingProcessing = false;
  #closed = false;

  constructor(opts: { scheduler: Scheduler; target: TimerTarget<K> }) {
    this.#scheduler = opts.scheduler;
    this.#target = opts.target;
  }

  /**
   * Registers an event-time timer; `canonical` identifies the key (equal for equal keys) and
   * `keyGroup` is kept so snapshots can be split by key group when rescaling.
   */
  registerEventTimeTimer(key: K, canonical: CanonicalKey, keyGroup: number, timestamp: number): void {
    checkTimestamp(timestamp);
    this.#event.add(key, canonical, keyGroup, timestamp, this.#seq++);
  }

  /** Deletes an event-time timer; deleting one that does not exist is harmless. */
  deleteEventTimeTimer(key: K, canonical: CanonicalKey, timestamp: number): void {
    this.#event.delete(canonical, timestamp);
  }

  registerProcessingTimeTimer(key: K, canonical: CanonicalKey, keyGroup: number, timestamp: number): void {
    checkTimestamp(timestamp);
    if (this.#processing.add(key, canonical, keyGroup, timestamp, this.#seq++)) this.#arm();
  }

  deleteProcessingTimeTimer(key: K, canonical: CanonicalKey, timestamp: number): void {
    if (this.#processing.delete(canonical, timestamp)) this.#arm();
  }

  /**
   * Fires, in timestamp order (ties: registration order), every event-time timer with a
   * timestamp <= `watermark`, including ones that `onTimer` registers during this call at or
   * below it. A watermark that does not advance is ignored.
   *
   * The new watermark is recorded before the first timer fires, so `currentWatermark()` inside
   * `onTimer` already reports the watermark that triggered it (as in Flink).
   */
  advanceWatermark(watermark: number): void {
    if (this.#closed || !(watermark > this.#watermark)) return;
    this.#watermark = watermark;
    for (;;) {
      const head = this.#event.peek();
      if (head === undefined || head.timestamp > watermark || this.#closed) break;
      this.#event.poll();
      this.#target.onTimer('event', head.key, head.timestamp);
    }
  }

  /** Sets the watermark a snapshot recorded, without firing anything (timers at or below it had fired before the snapshot). */
  restoreWatermark(watermark: number): void {
    if (watermark > this.#watermark) this.#watermark = watermark;
  }

  /** The highest watermark seen; MIN_WATERMARK before the first. */
  currentWatermark(): number {
    return this.#watermark;
  }

  numEventTimeTimers(): number {
    return this.#event.size;
  }

  numProcessingTimeTimers(): number {
    return this.#processing.size;
  }

  /** All timers, event-time then processing-time, each in firing order. */
  snapshotTimers(): TimerSnapshot<K>[] {
    const out: TimerSnapshot<K>[] = [];
    for (const [domain, queue] of [['event', this.#event], ['processing', this.#processing]] as const) {
      for (const t of queue.sorted()) out.push({ domain, key: t.key, keyGroup: t.keyGroup, timestamp: t.timestamp });
    }
    return out;
  }

  /**
   * Adds timers from a snapshot (duplicates of existing ones are dropped). Processing-time
   * timers whose time has passed fire on the next scheduler turn.
   */
  restoreTimers(timers: Iterable<RestoredTimer<K>>): void {
    for (const t of timers) {
      checkTimestamp(t.timestamp);
      const queue = t.domain === 'event' ? this.#event : this.#processing;
      queue.add(t.key, t.canonical, t.keyGroup, t.timestamp, this.#seq++);
    }
    this.#arm();
  }

  /** Cancels the scheduled wake-up; no timer fires afterwards. */
  close(): void {
    this.#closed = true;
    this.#wakeUp?.cancel();
    this.#wakeUp = undefined;
  }

  /** Keeps exactly one wake-up scheduled, for the earliest processing-time timer. */
  #arm(): void {
    if (this.#closed || this.#firingProcessing) return;
    const head = this.#processing.peek();
    if (head === undefined) {
      this.#wakeUp?.cancel();
      this.#wakeUp = undefined;
      return;
    }
    if (this.#wakeUp !== undefined && this.#wakeUpAt === head.timestamp) return;
    this.#wakeUp?.cancel();
    const delay = Math.min(Math.max(0, head.timestamp - this.#scheduler.now()), MAX_SCHEDULE_DELAY_MS);
    this.#wakeUpAt = head.timestamp;
    this.#wakeUp = this.#scheduler.schedule(delay, () => this.#onWakeUp());
  }

  #onWakeUp(): void {
    this.#wakeUp = undefined;
    if (this.#closed) return;
    const now = this.#scheduler.now();
    this.#firingProcessing = true;
    try {
      for (;;) {
        const head = this.#processing.peek();
        if (head === undefined || head.timestamp > now || this.#closed) break;
        this.#processing.poll();
        this.#target.onTimer('processing', head.key, head.timestamp);
      }
    } finally {
      this.#firingProcessing = false;
      this.#arm();
    }
  }
}
