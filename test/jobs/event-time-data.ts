/** Shared by the event-time fixture and its test: the events the two sources emit. */
export interface Ev {
  src: 'A' | 'B';
  key: string;
  ts: number;
}

/** Timestamps each source emits; the last one (SENTINEL) is at least every other one. */
export const SENTINEL = 10_000;
export const A_TS = [...Array.from({ length: 30 }, (_, i) => 10 + 10 * i), SENTINEL];
export const B_TS = [...Array.from({ length: 30 }, (_, i) => 15 + 10 * i), SENTINEL];
export const KEYS = ['x', 'y', 'z', 'w'];
/** Every record registers a timer DELAY after its timestamp, and every key one at LATE. */
export const DELAY = 7;
export const LATE = 50_000;
