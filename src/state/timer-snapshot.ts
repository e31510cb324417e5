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
