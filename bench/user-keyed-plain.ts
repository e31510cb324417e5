/**
 * The user-keyed job's computation as a plain Node loop (no engine): the baseline every
 * user-keyed figure is compared with, on the bench's main thread (user-keyed.ts) and on worker
 * threads (plain-threads.ts).
 */
import {
  Event,
  KEY_SPACE,
  mix,
  OUT_OF_ORDERNESS_MS,
  timestampOf,
  urlOf,
  userOf,
  WINDOW_MS,
  windowEnd,
  type RecordKind,
} from './jobs/user-keyed-common.ts';

/** What the sinks added up, or what the plain loop computed in their place. */
export interface UserKeyedTotals {
  /** Window totals emitted by timers. */
  readonly emitted: number;
  /** Records they account for: must be N. */
  readonly records: number;
  readonly timestampSum: number;
}

/**
 * The job's computation as one plain loop over 1..n (one partition): the same record (packed
 * number or Event) and timestamp, a Map of per-key state objects, and "timers" as lists of keys
 * per window end, fired when a watermark (taken every 4,096 records, the job's bound) passes them.
 */
export function plainUserKeyed(kind: RecordKind, keys: number, n: number): UserKeyedTotals {
  const state = new Map<number | string, { count: number; timestampSum: number }>();
  const timers = new Map<number, (number | string)[]>();
  let maxTimestamp = -Infinity;
  let nextEnd = WINDOW_MS - 1;
  let emitted = 0;
  let records = 0;
  let timestampSum = 0;
  const fire = (end: number): void => {
    const due = timers.get(end);
    if (due === undefined) return;
    timers.delete(end);
    for (const key of due) {
      const s = state.get(key)!;
      emitted++;
      records += s.count;
      timestampSum += s.timestampSum;
      state.delete(key);
    }
  };
  for (let x = 1; x <= n; x++) {
    const h = mix(x);
    let key: number | string;
    let timestamp: number;
    if (kind === 'numbers') {
      const r = timestampOf(x - 1, h) * KEY_SPACE + userOf(h, keys);
      timestamp = Math.floor(r / KEY_SPACE);
      key = r % KEY_SPACE;
    } else {
      const e = new Event(`user-${userOf(h, keys)}`, urlOf(h), timestampOf(x - 1, h));
      timestamp = e.timestamp;
      key = e.user;
    }
    let s = state.get(key);
    if (s === undefined) {
      s = { count: 1, timestampSum: timestamp };
      state.set(key, s);
      const end = windowEnd(timestamp);
      const list = timers.get(end);
      if (list === undefined) timers.set(end, [key]);
      else list.push(key);
    } else {
      s.count++;
      s.timestampSum += timestamp;
    }
    if (timestamp > maxTimestamp) maxTimestamp = timestamp;
    if ((x & 4095) === 0) {
      const watermark = maxTimestamp - OUT_OF_ORDERNESS_MS - 1;
      for (; nextEnd <= watermark; nextEnd += WINDOW_MS) fire(nextEnd);
    }
  }
  for (; timers.size > 0; nextEnd += WINDOW_MS) fire(nextEnd);
  return { emitted, records, timestampSum };
}

