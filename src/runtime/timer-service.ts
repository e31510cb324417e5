/**
 * Keyed timers of one operator subtask (Flink's InternalTimerService).
 *
 * There is at most one timer per (domain, key, timestamp), so registering the same timer from
 * every record of a key is cheap and fires once. Event-time timers fire when the watermark
 * reaches them; processing-time timers fire when the scheduler's clock does. Timers fire in
 * timestamp order, ties in registration order, and the callback may register or delete timers.
 *
 * With a TimerPrefetch (keyed state off the heap, e.g. RocksDB), due timers fire in chunks: the
 * keys of the next chunk's timers are read ahead with one batched read, the task waits for it
 * (suspended), then exactly that many timers fire, and so on until none is due. See
 * `advanceWatermark` for the contract.
 */

import type { Cancellable, Scheduler } from '../core/time.ts';
import { MIN_WATERMARK } from '../api/watermark-strategy.ts';

export type { CanonicalKey, RestoredTimer, TimeDomain, TimerSnapshot, TimerSnapshotSet } from '../state/timer-snapshot.ts';
import type { CanonicalKey, RestoredTimer, TimeDomain, TimerSnapshotSet } from '../state/timer-snapshot.ts';
import { ABSENT, TimerKeyIndex } from './timer-key-index.ts';
import { TimerSnapshotBuilder } from '../state/timer-snapshot.ts';

export interface TimerTarget<K> {
  /** `keyGroup` is the one given when the timer was registered (the key's group). */
  onTimer(domain: TimeDomain, key: K, timestamp: number, keyGroup: number): void;
}

/**
 * Reads the state of timers' keys ahead of firing them, for keyed state that is not in memory
 * (KeyedStateBackend.prefetch). Without one, each timer's state is read when its callback uses
 * it, synchronously when it is not cached.
 */
export interface TimerPrefetch<K> {
  /** The most timers one read covers: well below what the state's cache holds, so a chunk's state stays cached until it fires. */
  chunk(): number;
  /** Reads the state of these keys; undefined when all of it is at hand. */
  read(keys: readonly K[]): Promise<void> | undefined;
  /** Keeps the task from processing anything else until the promise settles; a rejection fails the task. */
  suspendUntil(promise: PromiseLike<unknown>): void;
}

/** Marks a deleted timer in its bucket (keys are primitives or arrays, never this object). */
const DELETED: unique symbol = Symbol('deleted timer');

/**
 * The timers of one timestamp, in registration order: keys and key groups side by side, an
 * index from canonical key to position for deduplication and deletion, and how far firing got.
 * Entries below `next` have fired; a deleted entry's key is DELETED.
 */
class Bucket {
  readonly timestamp: number;
  keys: unknown[] = [];
  keyGroups: number[] = [];
  /** Canonical key → position in `keys`. A position below `next` is a timer that has fired. */
  index = new TimerKeyIndex();
  next = 0;
  /** Pending timers: entries at or after `next` that are not DELETED. */
  live = 0;
  /** Position in the queue's heap; -1 once dropped. */
  heapIndex = -1;
  constructor(timestamp: number) {
    this.timestamp = timestamp;
  }
}

/** Deleted entries a bucket tolerates before it is compacted (and at least half of its entries). */
const COMPACT_MIN_DELETED = 64;

/**
 * The timers of one domain, bucketed by timestamp: most timers of a job share few timestamps
 * (the end of a window, a fixed delay), so each distinct timestamp has one bucket of its timers
 * in registration order, and a binary min-heap orders the buckets by timestamp. Adding,
 * deduplicating, deleting and firing a timer are O(1) amortised (plus O(log buckets) when a
 * bucket is created or dropped), and no object is allocated per timer.
 *
 * Fired entries are not removed one by one: the firing position moves on, and a bucket is
 * dropped whole once nothing in it is pending. A timer registered again for a key whose timer
 * at that timestamp has fired is appended, so it fires after the ones pending (the registration
 * order of ties). Deleted entries are compacted away when they make up most of a large bucket.
 */
class TimerQueue<K> {
  readonly #heap: Bucket[] = [];
  readonly #buckets = new Map<number, Bucket>();
  /** The bucket of the last add: consecutive registrations mostly share a timestamp. */
  #last: Bucket | undefined;
  #size = 0;
  /** The key and key group of the timer pollUpTo() took last. */
  polledKey: K | undefined;
  polledKeyGroup = -1;

  get size(): number {
    return this.#size;
  }

  /** The earliest pending timer's timestamp. */
  peekTimestamp(): number | undefined {
    return this.#top()?.timestamp;
  }

  /** Adds the timer unless one with the same key and timestamp is pending; true if added. */
  add(key: K, canonical: CanonicalKey, keyGroup: number, timestamp: number): boolean {
    let bucket = this.#last;
    if (bucket === undefined || bucket.timestamp !== timestamp) {
      bucket = this.#buckets.get(timestamp);
      if (bucket === undefined) bucket = this.#createBucket(timestamp);
      this.#last = bucket;
    }
    if (!bucket.index.add(canonical, bucket.keys.length, bucket.next)) return false;
    bucket.keys.push(key);
    bucket.keyGroups.push(keyGroup);
    bucket.live++;
    this.#size++;
    return true;
  }

  /** Removes the pending timer if present; true if removed. */
  delete(canonical: CanonicalKey, timestamp: number): boolean {
    const bucket = this.#buckets.get(timestamp);
    if (bucket === undefined) return false;
    const at = bucket.index.get(canonical);
    if (at === ABSENT || at < bucket.next) return false;
    bucket.index.delete(canonical);
    bucket.keys[at] = DELETED;
    bucket.live--;
    this.#size--;
    if (bucket.live === 0) {
      this.#drop(bucket);
    } else {
      const deleted = bucket.keys.length - bucket.next - bucket.live;
      if (deleted >= COMPACT_MIN_DELETED && 2 * deleted >= bucket.keys.length) this.#compact(bucket);
    }
    return true;
  }

  /**
   * Takes the earliest pending timer if its timestamp is at most `limit`: returns its
   * timestamp, with its key in `polledKey`, or undefined when there is none.
   */
  pollUpTo(limit: number): number | undefined {
    const bucket = this.#top();
    if (bucket === undefined || bucket.timestamp > limit) return undefined;
    const keys = bucket.keys;
    let at = bucket.next;
    while (keys[at] === DELETED) at++;
    bucket.next = at + 1;
    this.polledKey = keys[at] as K;
    this.polledKeyGroup = bucket.keyGroups[at]!;
    this.#size--;
    if (--bucket.live === 0) this.#drop(bucket);
    return bucket.timestamp;
  }

  /**
   * Puts into `out` the keys of the earliest pending timers with timestamps at most `limit`, in
   * firing order, at most `max` of them; returns how many. Changes nothing. The buckets are
   * visited in timestamp order through a second, small heap of positions in the queue's heap
   * (the k smallest of a binary heap in O(k log k)), so a chunk costs what it holds however
   * many buckets are due.
   */
  peekUpTo(limit: number, max: number, out: K[]): number {
    const heap = this.#heap;
    if (heap.length === 0 || heap[0]!.timestamp > limit || max <= 0) return 0;
    const frontier = [0];
    while (frontier.length > 0) {
      const bucket = heap[popFrontier(heap, frontier)]!;
      const keys = bucket.keys;
      for (let at = bucket.next; at < keys.length; at++) {
        const key = keys[at];
        if (key === DELETED) continue;
        out.push(key as K);
        if (out.length >= max) return out.length;
      }
      // A bucket's children in the heap are later than it; only due ones are visited.
      const left = 2 * bucket.heapIndex + 1;
      if (left < heap.length && heap[left]!.timestamp <= limit) pushFrontier(heap, frontier, left);
      if (left + 1 < heap.length && heap[left + 1]!.timestamp <= limit) pushFrontier(heap, frontier, left + 1);
    }
    return out.length;
  }

  /** The number of buckets (distinct timestamps with pending timers). */
  get buckets(): number {
    return this.#heap.length;
  }

  /**
   * Adds all pending timers, in firing order, to `out` as runs of `domain`, without changing the
   * queue: a bucket's pending range of keys and key groups is copied (slice() when long), deleted
   * entries along with it (the builder skips DELETED). No object per timer, so a snapshot of
   * millions of timers leaves the garbage collector little to copy.
   */
  snapshotInto(domain: TimeDomain, out: TimerSnapshotBuilder<K>): void {
    const buckets = this.#heap.slice().sort((a, b) => a.timestamp - b.timestamp);
    for (const bucket of buckets) {
      out.addRun(domain, bucket.timestamp, bucket.keys, bucket.keyGroups, bucket.next, bucket.keys.length, bucket.live);
    }
  }

  /** The earliest bucket (one with pending timers: empty buckets are dropped at once). */
  #top(): Bucket | undefined {
    return this.#heap[0];
  }

  #createBucket(timestamp: number): Bucket {
    const bucket = new Bucket(timestamp);
    this.#buckets.set(timestamp, bucket);
    const heap = this.#heap;
    bucket.heapIndex = heap.length;
    heap.push(bucket);
    this.#siftUp(bucket.heapIndex);
    return bucket;
  }

  /** Drops a bucket with nothing pending (fired or deleted): later timers at its timestamp get a new one. */
  #drop(bucket: Bucket): void {
    this.#buckets.delete(bucket.timestamp);
    if (this.#last === bucket) this.#last = undefined;
    const heap = this.#heap;
    const index = bucket.heapIndex;
    bucket.heapIndex = -1;
    const last = heap.pop()!;
    if (index === heap.length) return;
    heap[index] = last;
    last.heapIndex = index;
    this.#siftDown(index);
    this.#siftUp(last.heapIndex);
  }

  /** Rewrites a bucket with only its pending entries, in order (fired and deleted ones dropped). */
  #compact(bucket: Bucket): void {
    const keys: unknown[] = [];
    const keyGroups: number[] = [];
    const index = new TimerKeyIndex();
    const at = new Map<number, CanonicalKey>();
    bucket.index.forEach((canonical, position) => {
      if (position >= bucket.next) at.set(position, canonical);
    });
    for (let i = bucket.next; i < bucket.keys.length; i++) {
      const key = bucket.keys[i];
      if (key === DELETED) continue;
      index.add(at.get(i)!, keys.length, 0);
      keys.push(key);
      keyGroups.push(bucket.keyGroups[i]!);
    }
    bucket.keys = keys;
    bucket.keyGroups = keyGroups;
    bucket.index = index;
    bucket.next = 0;
  }

  #siftUp(index: number): void {
    const heap = this.#heap;
    const bucket = heap[index]!;
    while (index > 0) {
      const parentIndex = (index - 1) >> 1;
      const parent = heap[parentIndex]!;
      if (!(bucket.timestamp < parent.timestamp)) break;
      heap[index] = parent;
      parent.heapIndex = index;
      index = parentIndex;
    }
    heap[index] = bucket;
    bucket.heapIndex = index;
  }

  #siftDown(index: number): void {
    const heap = this.#heap;
    const bucket = heap[index]!;
    const n = heap.length;
    for (;;) {
      const left = 2 * index + 1;
      if (left >= n) break;
      const right = left + 1;
      let child = left;
      if (right < n && heap[right]!.timestamp < heap[left]!.timestamp) child = right;
      const childBucket = heap[child]!;
      if (!(childBucket.timestamp < bucket.timestamp)) break;
      heap[index] = childBucket;
      childBucket.heapIndex = index;
      index = child;
    }
    heap[index] = bucket;
    bucket.heapIndex = index;
  }
}

/** Adds position `at` of `heap` to `frontier`, a binary min-heap of positions by their buckets' timestamps. */
function pushFrontier(heap: readonly Bucket[], frontier: number[], at: number): void {
  let i = frontier.length;
  frontier.push(at);
  const timestamp = heap[at]!.timestamp;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (!(timestamp < heap[frontier[parent]!]!.timestamp)) break;
    frontier[i] = frontier[parent]!;
    i = parent;
  }
  frontier[i] = at;
}

/** Takes the position of the earliest bucket out of `frontier` (not empty). */
function popFrontier(heap: readonly Bucket[], frontier: number[]): number {
  const top = frontier[0]!;
  const last = frontier.pop()!;
  const n = frontier.length;
  if (n === 0) return top;
  const timestamp = heap[last]!.timestamp;
  let i = 0;
  for (;;) {
    const left = 2 * i + 1;
    if (left >= n) break;
    let child = left;
    if (left + 1 < n && heap[frontier[left + 1]!]!.timestamp < heap[frontier[left]!]!.timestamp) child = left + 1;
    if (!(heap[frontier[child]!]!.timestamp < timestamp)) break;
    frontier[i] = frontier[child]!;
    i = child;
  }
  frontier[i] = last;
  return top;
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
  #watermark = MIN_WATERMARK;
  /** The one scheduled wake-up, for the earliest processing-time timer. */
  #wakeUp: Cancellable | undefined;
  #wakeUpAt = 0;
  /** While processing-time timers fire, re-arming waits until the batch is done. */
  #firingProcessing = false;
  #closed = false;
  readonly #prefetch: TimerPrefetch<K> | undefined;

  constructor(opts: { scheduler: Scheduler; target: TimerTarget<K>; prefetch?: TimerPrefetch<K> | undefined }) {
    this.#scheduler = opts.scheduler;
    this.#target = opts.target;
    this.#prefetch = opts.prefetch;
  }

  /**
   * Registers an event-time timer; `canonical` identifies the key (equal for equal keys) and
   * `keyGroup` is kept so snapshots can be split by key group when rescaling.
   */
  registerEventTimeTimer(key: K, canonical: CanonicalKey, keyGroup: number, timestamp: number): void {
    checkTimestamp(timestamp);
    this.#event.add(key, canonical, keyGroup, timestamp);
  }

  /** Deletes an event-time timer; deleting one that does not exist is harmless. */
  deleteEventTimeTimer(key: K, canonical: CanonicalKey, timestamp: number): void {
    this.#event.delete(canonical, timestamp);
  }

  registerProcessingTimeTimer(key: K, canonical: CanonicalKey, keyGroup: number, timestamp: number): void {
    checkTimestamp(timestamp);
    if (this.#processing.add(key, canonical, keyGroup, timestamp)) this.#arm();
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
   *
   * Without a prefetch every due timer fires in this call, and it returns undefined. With one,
   * due timers fire in chunks: the keys of up to `chunk()` of the earliest due timers are read
   * ahead, and once they are at hand exactly that many timers fire, each taken from the queue as
   * it fires, so the order and the effect of registrations and deletions in `onTimer` are
   * exactly those of firing all at once (a timer registered at or below the watermark fires in
   * its place in the order; a deleted one does not fire; a key read ahead in vain only cost the
   * read). Chunks whose state is all cached fire at once; from the first read on, the rest
   * fires asynchronously and the returned promise settles when no due timer is left (or the
   * service closed). The caller must keep its task suspended until then (nothing else runs on
   * it: no record, mail or barrier) and forward the watermark only after it: so no snapshot
   * ever sees a watermark whose timers have fired in part. (Were one taken between chunks, it
   * would hold the new watermark and the timers not yet fired, which fire after a restore at the
   * next advance instead: still each once.)
   */
  advanceWatermark(watermark: number): Promise<void> | undefined {
    if (this.#closed || !(watermark > this.#watermark)) return undefined;
    this.#watermark = watermark;
    const queue = this.#event;
    if (this.#prefetch !== undefined) return this.#fireInChunks(queue, 'event', watermark);
    while (!this.#closed) {
      const timestamp = queue.pollUpTo(watermark);
      if (timestamp === undefined) break;
      this.#target.onTimer('event', queue.polledKey as K, timestamp, queue.polledKeyGroup);
    }
    return undefined;
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

  /**
   * All timers, event-time then processing-time, each in firing order: a copy (later changes to
   * the timers do not reach it) in flat arrays, taken in the synchronous part of a checkpoint;
   * the asynchronous part reads it timer by timer while writing.
   */
  snapshotTimers(): TimerSnapshotSet<K> {
    const event = this.#event;
    const processing = this.#processing;
    const out = new TimerSnapshotBuilder<K>(DELETED, { timers: event.size + processing.size, runs: event.buckets + processing.buckets });
    event.snapshotInto('event', out);
    processing.snapshotInto('processing', out);
    return out.build();
  }

  /**
   * Adds timers from a snapshot (duplicates of existing ones are dropped). Processing-time
   * timers whose time has passed fire on the next scheduler turn.
   */
  restoreTimers(timers: Iterable<RestoredTimer<K>>): void {
    for (const t of timers) {
      checkTimestamp(t.timestamp);
      const queue = t.domain === 'event' ? this.#event : this.#processing;
      queue.add(t.key, t.canonical, t.keyGroup, t.timestamp);
    }
    this.#arm();
  }

  /** Whether close() was called. */
  get closed(): boolean {
    return this.#closed;
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
    const timestamp = this.#processing.peekTimestamp();
    if (timestamp === undefined) {
      this.#wakeUp?.cancel();
      this.#wakeUp = undefined;
      return;
    }
    if (this.#wakeUp !== undefined && this.#wakeUpAt === timestamp) return;
    this.#wakeUp?.cancel();
    const delay = Math.min(Math.max(0, timestamp - this.#scheduler.now()), MAX_SCHEDULE_DELAY_MS);
    this.#wakeUpAt = timestamp;
    this.#wakeUp = this.#scheduler.schedule(delay, () => this.#onWakeUp());
  }

  #onWakeUp(): void {
    this.#wakeUp = undefined;
    if (this.#closed) return;
    const now = this.#scheduler.now();
    this.#firingProcessing = true;
    let firing: Promise<void> | undefined;
    try {
      const queue = this.#processing;
      if (this.#prefetch !== undefined) {
        firing = this.#fireInChunks(queue, 'processing', now);
      } else {
        while (!this.#closed) {
          const timestamp = queue.pollUpTo(now);
          if (timestamp === undefined) break;
          this.#target.onTimer('processing', queue.polledKey as K, timestamp, queue.polledKeyGroup);
        }
      }
    } finally {
      if (firing === undefined) {
        this.#firingProcessing = false;
        this.#arm();
      }
    }
    if (firing === undefined) return;
    // The task waits until every due timer fired (as for event time), then re-arms.
    this.#prefetch!.suspendUntil(
      firing.finally(() => {
        this.#firingProcessing = false;
        this.#arm();
      }),
    );
  }

  /**
   * Fires the timers of `queue` due at `limit` in chunks whose keys are read ahead (see
   * advanceWatermark); undefined when they all fired in this call.
   */
  #fireInChunks(queue: TimerQueue<K>, domain: TimeDomain, limit: number): Promise<void> | undefined {
    const prefetch = this.#prefetch!;
    while (!this.#closed) {
      const keys: K[] = [];
      const count = queue.peekUpTo(limit, prefetch.chunk(), keys);
      if (count === 0) return undefined;
      const read = prefetch.read(keys);
      if (read !== undefined) {
        return read.then(() => {
          this.#fire(queue, domain, limit, count);
          return this.#fireInChunks(queue, domain, limit);
        });
      }
      this.#fire(queue, domain, limit, count);
    }
    return undefined;
  }

  /** Fires up to `count` of the earliest timers of `queue` due at `limit`. */
  #fire(queue: TimerQueue<K>, domain: TimeDomain, limit: number, count: number): void {
    const target = this.#target;
    for (let i = 0; i < count && !this.#closed; i++) {
      const timestamp = queue.pollUpTo(limit);
      if (timestamp === undefined) return;
      target.onTimer(domain, queue.polledKey as K, timestamp, queue.polledKeyGroup);
    }
  }
}
