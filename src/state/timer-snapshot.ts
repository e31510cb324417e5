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
 * part. A checkpoint may hold a timer per key (millions), so the set holds no object per timer:
 * keys and key groups sit in arrays, in runs of one (domain, timestamp) each, and a reader walks
 * them with a cursor that allocates nothing per timer. The set is immutable: later changes to
 * the timers it was taken from do not reach it.
 */
export interface TimerSnapshotSet<K = unknown> {
  /** The number of timers. */
  readonly size: number;
  /** A new cursor before the first timer; timers come in the order they were added. */
  cursor(): TimerCursor<K>;
  /** Calls `visit` for every timer, in order. */
  forEach(visit: (domain: TimeDomain, key: K, keyGroup: number, timestamp: number) => void): void;
}

/** The default `skip` of a builder: a value no key is. */
const NO_SKIP: unique symbol = Symbol('no skip');

/**
 * Ranges at least this long are copied whole with slice() (a block copy, about three times as
 * fast as copying entry by entry); shorter ones are appended to arrays shared by many runs, so
 * that many small buckets (e.g. a timer per key at distinct timestamps) cost no array each.
 */
const SLICE_MIN = 64;

/** What a builder expects, so that it allocates its arrays once (both may be off; they are hints). */
export interface TimerSnapshotSizes {
  /** The number of timers. */
  readonly timers: number;
  /** The number of runs (distinct domain and timestamp). */
  readonly runs: number;
}

const DOMAIN_CODES = { event: 0, processing: 1 } as const;
const DOMAINS: readonly TimeDomain[] = ['event', 'processing'];

/**
 * Builds a TimerSnapshotSet from runs of timers, each of one (domain, timestamp). Entries whose
 * key is `skip` (the source's marker of deleted timers) are copied along in sliced ranges and
 * left out when the set is read.
 *
 * Layout: the keys and key groups of a run lie in one of a few source arrays (the builder's own
 * flat arrays, or a slice of a long range); everything per run is in typed arrays (source,
 * start, end, timestamp, domain). So neither a timer nor a run costs an object, and a snapshot
 * of a million timers at a million distinct timestamps is a handful of large arrays.
 */
export class TimerSnapshotBuilder<K = unknown> {
  readonly #skip: unknown;
  /** The flat arrays short ranges and single timers go to (source 0). */
  #flatKeys: unknown[];
  #flatGroups: Int32Array;
  #flatCount = 0;
  /** Sources 1, 2, …: slices of long ranges. */
  readonly #sliceKeys: (readonly unknown[])[] = [];
  readonly #sliceGroups: (readonly number[])[] = [];
  #runSources: Uint32Array;
  #runStarts: Uint32Array;
  #runEnds: Uint32Array;
  #runTimestamps: Float64Array;
  #runDomains: Uint8Array;
  #runs = 0;
  #size = 0;
  #built = false;

  constructor(skip: unknown = NO_SKIP, expect: TimerSnapshotSizes = { timers: 16, runs: 16 }) {
    this.#skip = skip;
    // Short runs hold fewer than SLICE_MIN timers each: the flat arrays need no more than that.
    const flat = Math.max(16, Math.min(expect.timers, expect.runs * SLICE_MIN) || 0);
    this.#flatKeys = new Array(flat);
    this.#flatGroups = new Int32Array(flat);
    const runs = Math.max(16, expect.runs || 0);
    this.#runSources = new Uint32Array(runs);
    this.#runStarts = new Uint32Array(runs);
    this.#runEnds = new Uint32Array(runs);
    this.#runTimestamps = new Float64Array(runs);
    this.#runDomains = new Uint8Array(runs);
  }

  /** Adds one timer. Consecutive timers of the same domain and timestamp share a run. */
  add(domain: TimeDomain, timestamp: number, key: K, keyGroup: number): void {
    this.#checkOpen();
    if (key === this.#skip) throw new TypeError('TimerSnapshotBuilder: a key equal to the skip marker');
    const at = this.#flatCount;
    const last = this.#runs - 1;
    if (
      last < 0 ||
      this.#runSources[last] !== 0 ||
      this.#runEnds[last] !== at ||
      this.#runDomains[last] !== DOMAIN_CODES[domain] ||
      !Object.is(this.#runTimestamps[last], timestamp)
    ) {
      this.#pushRun(domain, timestamp, 0, at, at);
    }
    this.#appendFlat(key, keyGroup);
    this.#runEnds[this.#runs - 1] = this.#flatCount;
    this.#size++;
  }

  /**
   * Adds the timers `keys[from..to)` (key groups in `keyGroups` at the same positions) of one
   * domain and timestamp, of which `count` are not `skip`: the caller knows it (a bucket counts
   * its pending timers), so a long range is copied with slice() without looking at its entries.
   */
  addRun(domain: TimeDomain, timestamp: number, keys: readonly unknown[], keyGroups: readonly number[], from: number, to: number, count: number): void {
    this.#checkOpen();
    if (!(from >= 0 && to <= keys.length && to <= keyGroups.length && count >= 0 && count <= to - from)) {
      throw new RangeError(`TimerSnapshotBuilder: invalid run ${from}..${to} of ${keys.length} with ${count} timers`);
    }
    if (count === 0) return;
    if (to - from >= SLICE_MIN) {
      this.#sliceKeys.push(keys.slice(from, to));
      this.#sliceGroups.push(keyGroups.slice(from, to));
      this.#pushRun(domain, timestamp, this.#sliceKeys.length, 0, to - from);
      this.#size += count;
      return;
    }
    const skip = this.#skip;
    const start = this.#flatCount;
    for (let i = from; i < to; i++) {
      const key = keys[i];
      if (key !== skip) this.#appendFlat(key, keyGroups[i]!);
    }
    if (this.#flatCount - start !== count) {
      const held = this.#flatCount - start;
      this.#flatCount = start;
      throw new RangeError(`TimerSnapshotBuilder: a run said to hold ${count} timers holds ${held}`);
    }
    this.#pushRun(domain, timestamp, 0, start, this.#flatCount);
    this.#size += count;
  }

  /** The set of the timers added; the builder cannot be used afterwards. */
  build(): TimerSnapshotSet<K> {
    this.#checkOpen();
    this.#built = true;
    const flatKeys = this.#flatKeys;
    flatKeys.length = this.#flatCount;
    const runs = this.#runs;
    return new RunTimerSnapshotSet<K>(
      this.#size,
      this.#skip,
      [flatKeys, ...this.#sliceKeys],
      [this.#flatGroups.subarray(0, this.#flatCount), ...this.#sliceGroups],
      this.#runSources.subarray(0, runs),
      this.#runStarts.subarray(0, runs),
      this.#runEnds.subarray(0, runs),
      this.#runTimestamps.subarray(0, runs),
      this.#runDomains.subarray(0, runs),
    );
  }

  #appendFlat(key: unknown, keyGroup: number): void {
    const at = this.#flatCount;
    if (at === this.#flatGroups.length) {
      const groups = new Int32Array(2 * at);
      groups.set(this.#flatGroups);
      this.#flatGroups = groups;
    }
    this.#flatKeys[at] = key; // beyond the preallocated length this appends
    this.#flatGroups[at] = keyGroup;
    this.#flatCount = at + 1;
  }

  #pushRun(domain: TimeDomain, timestamp: number, source: number, start: number, end: number): void {
    const run = this.#runs;
    if (run === this.#runEnds.length) this.#growRuns();
    this.#runSources[run] = source;
    this.#runStarts[run] = start;
    this.#runEnds[run] = end;
    this.#runTimestamps[run] = timestamp;
    this.#runDomains[run] = DOMAIN_CODES[domain];
    this.#runs = run + 1;
  }

  #growRuns(): void {
    const capacity = 2 * this.#runEnds.length;
    const grow = <T extends Uint32Array | Float64Array | Uint8Array>(old: T, make: (n: number) => T): T => {
      const next = make(capacity);
      next.set(old);
      return next;
    };
    this.#runSources = grow(this.#runSources, (n) => new Uint32Array(n));
    this.#runStarts = grow(this.#runStarts, (n) => new Uint32Array(n));
    this.#runEnds = grow(this.#runEnds, (n) => new Uint32Array(n));
    this.#runTimestamps = grow(this.#runTimestamps, (n) => new Float64Array(n));
    this.#runDomains = grow(this.#runDomains, (n) => new Uint8Array(n));
  }

  #checkOpen(): void {
    if (this.#built) throw new Error('TimerSnapshotBuilder: already built');
  }
}

/**
 * Run i is `keys[runSources[i]][runStarts[i] .. runEnds[i])`, with its key groups at the same
 * positions of `keyGroups[runSources[i]]`, minus the entries whose key is `skip`.
 */
class RunTimerSnapshotSet<K> implements TimerSnapshotSet<K> {
  readonly size: number;
  readonly skip: unknown;
  readonly keys: readonly (readonly unknown[])[];
  readonly keyGroups: readonly ArrayLike<number>[];
  readonly runSources: Uint32Array;
  readonly runStarts: Uint32Array;
  readonly runEnds: Uint32Array;
  readonly runTimestamps: Float64Array;
  readonly runDomains: Uint8Array;

  constructor(
    size: number,
    skip: unknown,
    keys: readonly (readonly unknown[])[],
    keyGroups: readonly ArrayLike<number>[],
    runSources: Uint32Array,
    runStarts: Uint32Array,
    runEnds: Uint32Array,
    runTimestamps: Float64Array,
    runDomains: Uint8Array,
  ) {
    this.size = size;
    this.skip = skip;
    this.keys = keys;
    this.keyGroups = keyGroups;
    this.runSources = runSources;
    this.runStarts = runStarts;
    this.runEnds = runEnds;
    this.runTimestamps = runTimestamps;
    this.runDomains = runDomains;
  }

  cursor(): TimerCursor<K> {
    return new RunCursor<K>(this);
  }

  /** One walk of the runs serves both ways of reading: forEach is the cursor's loop. */
  forEach(visit: (domain: TimeDomain, key: K, keyGroup: number, timestamp: number) => void): void {
    const c = this.cursor();
    while (c.next()) visit(c.domain, c.key, c.keyGroup, c.timestamp);
  }
}

const NO_KEYS: readonly unknown[] = [];
const NO_GROUPS: ArrayLike<number> = [];

class RunCursor<K> implements TimerCursor<K> {
  domain: TimeDomain = 'event';
  key: K = undefined as K;
  keyGroup = -1;
  timestamp = Number.NaN;
  readonly #set: RunTimerSnapshotSet<K>;
  #run = -1;
  #keys: readonly unknown[] = NO_KEYS;
  #groups: ArrayLike<number> = NO_GROUPS;
  #at = 0;
  #end = 0;

  constructor(set: RunTimerSnapshotSet<K>) {
    this.#set = set;
  }

  next(): boolean {
    const set = this.#set;
    const skip = set.skip;
    for (;;) {
      const at = this.#at;
      if (at < this.#end) {
        this.#at = at + 1;
        const key = this.#keys[at];
        if (key === skip) continue;
        this.key = key as K;
        this.keyGroup = this.#groups[at]!;
        return true;
      }
      const runs = set.runEnds.length;
      if (this.#run >= runs - 1) {
        this.#run = runs;
        return false;
      }
      const run = ++this.#run;
      const source = set.runSources[run]!;
      this.#keys = set.keys[source]!;
      this.#groups = set.keyGroups[source]!;
      this.#at = set.runStarts[run]!;
      this.#end = set.runEnds[run]!;
      this.domain = DOMAINS[set.runDomains[run]!]!;
      this.timestamp = set.runTimestamps[run]!;
    }
  }
}

/** No timers. */
export const EMPTY_TIMER_SNAPSHOTS: TimerSnapshotSet<never> = new TimerSnapshotBuilder<never>().build();

/** A set holding `timers` in their order (copied: later changes to the array do not reach it). */
export function timerSnapshotSetOf<K>(timers: readonly TimerSnapshot<K>[]): TimerSnapshotSet<K> {
  const builder = new TimerSnapshotBuilder<K>(NO_SKIP, { timers: timers.length, runs: timers.length });
  for (const t of timers) builder.add(t.domain, t.timestamp, t.key, t.keyGroup);
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
