/**
 * How keyed timers appear in a snapshot. Timers are keyed state (they are snapshotted and
 * redistributed by key group with the rest of it), so the state layer owns their stored shape;
 * the timer service in the runtime produces and consumes it.
 */

export type TimeDomain = 'event' | 'processing';

/**
 * A value that identifies a key inside a Map: equal keys give equal (SameValueZero) values.
 * The caller computes it once per key; the service never inspects the key itself.
 */
export type CanonicalKey = string | number | bigint | boolean;

/** One registered timer, as it appears in a snapshot. */
export interface TimerSnapshot<K> {
  domain: TimeDomain;
  key: K;
  keyGroup: number;
  timestamp: number;
}

/** A timer to restore: a snapshot entry plus the key's canonical form. */
export interface RestoredTimer<K> extends TimerSnapshot<K> {
  canonical: CanonicalKey;
}

/**
 * A position in a TimerSnapshotSet. After next() returns true, the fields describe the current
 * timer; they are overwritten by the following next(), so a reader copies what it keeps.
 */
export interface TimerCursor<K> {
  /** Moves to the next timer: false (and the fields unchanged) once all have been read. */
  next(): boolean;
  readonly domain: TimeDomain;
  readonly key: K;
  readonly keyGroup: number;
  readonly timestamp: number;
}

/**
 * The keyed timers of one snapshot, taken at the barrier and written later by the asynchronous
 * part. A checkpoint may hold a timer per key (millions), so the set stores them in flat arrays
 * (keys, key groups, and one run per (domain, timestamp)) instead of one object per timer, and a
 * reader walks them with a cursor that allocates nothing per timer. The set is immutable: later
 * changes to the timers it was taken from do not reach it.
 */
export interface TimerSnapshotSet<K = unknown> {
  /** The number of timers. */
  readonly size: number;
  /** A new cursor before the first timer; timers come in the order they were added. */
  cursor(): TimerCursor<K>;
  /** Calls `visit` for every timer, in order. */
  forEach(visit: (domain: TimeDomain, key: K, keyGroup: number, timestamp: number) => void): void;
}

/** The default `skip` of addAll(): a value no key is. */
const NO_SKIP: unique symbol = Symbol('no skip');

const DOMAIN_CODE = { event: 0, processing: 1 } as const;
const DOMAINS: readonly TimeDomain[] = ['event', 'processing'];

/**
 * Builds a TimerSnapshotSet of a known size: open a run per (domain, timestamp), then add its
 * timers' keys and key groups. Adding more timers than the size given is an error.
 */
export class TimerSnapshotBuilder<K = unknown> {
  readonly #keys: K[];
  readonly #keyGroups: Int32Array;
  #count = 0;
  #runTimestamps: Float64Array;
  #runEnds: Uint32Array;
  #runDomains: Uint8Array;
  #runs = 0;

  /** `size`: the number of timers that will be added; `runs`: a hint of how many runs. */
  constructor(size: number, runs = 16) {
    this.#keys = new Array<K>(size);
    this.#keyGroups = new Int32Array(size);
    const capacity = Math.max(1, runs);
    this.#runTimestamps = new Float64Array(capacity);
    this.#runEnds = new Uint32Array(capacity);
    this.#runDomains = new Uint8Array(capacity);
  }

  /** Starts the run of timers of `domain` at `timestamp`; a run equal to the previous one continues it. */
  beginRun(domain: TimeDomain, timestamp: number): void {
    const code = DOMAIN_CODE[domain];
    const runs = this.#runs;
    if (runs > 0) {
      if (this.#runDomains[runs - 1] === code && Object.is(this.#runTimestamps[runs - 1], timestamp)) return;
      const start = runs > 1 ? this.#runEnds[runs - 2]! : 0;
      if (start === this.#count) {
        // The previous run is empty: reuse its slot.
        this.#runDomains[runs - 1] = code;
        this.#runTimestamps[runs - 1] = timestamp;
        return;
      }
    }
    if (runs === this.#runEnds.length) this.#grow();
    this.#runDomains[runs] = code;
    this.#runTimestamps[runs] = timestamp;
    this.#runEnds[runs] = this.#count;
    this.#runs = runs + 1;
  }

  /** Adds a timer to the current run. */
  add(key: K, keyGroup: number): void {
    const at = this.#count;
    if (this.#runs === 0) throw new Error('TimerSnapshotBuilder: add() before beginRun()');
    if (at >= this.#keys.length) throw new RangeError(`TimerSnapshotBuilder: more than the ${this.#keys.length} timers announced`);
    this.#keys[at] = key;
    this.#keyGroups[at] = keyGroup;
    this.#count = at + 1;
    this.#runEnds[this.#runs - 1] = at + 1;
  }

  /**
   * Adds `keys[from..to)` with their key groups to the current run, leaving out the entries whose
   * key is `skip` (e.g. a marker of deleted timers): one call per run instead of one per timer.
   */
  addAll(keys: readonly unknown[], keyGroups: readonly number[], from: number, to: number, skip: unknown = NO_SKIP): void {
    if (this.#runs === 0) throw new Error('TimerSnapshotBuilder: addAll() before beginRun()');
    const out = this.#keys;
    const outGroups = this.#keyGroups;
    let at = this.#count;
    for (let i = from; i < to; i++) {
      const key = keys[i];
      if (key === skip) continue;
      if (at >= out.length) throw new RangeError(`TimerSnapshotBuilder: more than the ${out.length} timers announced`);
      out[at] = key as K;
      outGroups[at] = keyGroups[i]!;
      at++;
    }
    this.#count = at;
    this.#runEnds[this.#runs - 1] = at;
  }

  /** The set of the timers added (exactly the size announced). */
  build(): TimerSnapshotSet<K> {
    if (this.#count !== this.#keys.length) {
      throw new RangeError(`TimerSnapshotBuilder: ${this.#count} timers added, ${this.#keys.length} announced`);
    }
    const runs = this.#runs;
    return new FlatTimerSnapshotSet(
      this.#keys,
      this.#keyGroups,
      this.#runTimestamps.subarray(0, runs),
      this.#runEnds.subarray(0, runs),
      this.#runDomains.subarray(0, runs),
    );
  }

  #grow(): void {
    const capacity = 2 * this.#runEnds.length;
    const timestamps = new Float64Array(capacity);
    timestamps.set(this.#runTimestamps);
    const ends = new Uint32Array(capacity);
    ends.set(this.#runEnds);
    const domains = new Uint8Array(capacity);
    domains.set(this.#runDomains);
    this.#runTimestamps = timestamps;
    this.#runEnds = ends;
    this.#runDomains = domains;
  }
}

class FlatTimerSnapshotSet<K> implements TimerSnapshotSet<K> {
  readonly keys: readonly K[];
  readonly keyGroups: Int32Array;
  readonly runTimestamps: Float64Array;
  /** Each run's end (exclusive) in `keys`; a run starts where the previous one ends. */
  readonly runEnds: Uint32Array;
  readonly runDomains: Uint8Array;

  constructor(keys: readonly K[], keyGroups: Int32Array, runTimestamps: Float64Array, runEnds: Uint32Array, runDomains: Uint8Array) {
    this.keys = keys;
    this.keyGroups = keyGroups;
    this.runTimestamps = runTimestamps;
    this.runEnds = runEnds;
    this.runDomains = runDomains;
  }

  get size(): number {
    return this.keys.length;
  }

  cursor(): TimerCursor<K> {
    return new FlatCursor(this);
  }

  forEach(visit: (domain: TimeDomain, key: K, keyGroup: number, timestamp: number) => void): void {
    const { keys, keyGroups, runTimestamps, runEnds, runDomains } = this;
    let i = 0;
    for (let run = 0; run < runEnds.length; run++) {
      const end = runEnds[run]!;
      const domain = DOMAINS[runDomains[run]!]!;
      const timestamp = runTimestamps[run]!;
      for (; i < end; i++) visit(domain, keys[i]!, keyGroups[i]!, timestamp);
    }
  }
}

class FlatCursor<K> implements TimerCursor<K> {
  domain: TimeDomain = 'event';
  key: K = undefined as K;
  keyGroup = -1;
  timestamp = Number.NaN;
  readonly #set: FlatTimerSnapshotSet<K>;
  #at = 0;
  #run = -1;
  #runEnd = 0;

  constructor(set: FlatTimerSnapshotSet<K>) {
    this.#set = set;
  }

  next(): boolean {
    const set = this.#set;
    const at = this.#at;
    if (at >= set.keys.length) return false;
    if (at >= this.#runEnd) {
      let run = this.#run;
      do run++;
      while (at >= set.runEnds[run]!);
      this.#run = run;
      this.#runEnd = set.runEnds[run]!;
      this.domain = DOMAINS[set.runDomains[run]!]!;
      this.timestamp = set.runTimestamps[run]!;
    }
    this.key = set.keys[at]!;
    this.keyGroup = set.keyGroups[at]!;
    this.#at = at + 1;
    return true;
  }
}

/** No timers. */
export const EMPTY_TIMER_SNAPSHOTS: TimerSnapshotSet<never> = new TimerSnapshotBuilder<never>(0, 1).build();

/** A set holding `timers` in their order (copied: later changes to the array do not reach it). */
export function timerSnapshotSetOf<K>(timers: readonly TimerSnapshot<K>[]): TimerSnapshotSet<K> {
  const builder = new TimerSnapshotBuilder<K>(timers.length);
  for (const t of timers) {
    builder.beginRun(t.domain, t.timestamp);
    builder.add(t.key, t.keyGroup);
  }
  return builder.build();
}

/** The timers of a set as one object each: for tests and small sets only. */
export function timerSnapshotsToArray<K>(set: TimerSnapshotSet<K>): TimerSnapshot<K>[] {
  const out: TimerSnapshot<K>[] = [];
  set.forEach((domain, key, keyGroup, timestamp) => {
    out.push({ domain, key, keyGroup, timestamp });
  });
  return out;
}
