/**
 * The index of one timer bucket (timer-service.ts): canonical key → position of the key's timer
 * in the bucket, for deduplication and deletion.
 *
 * A bucket of a window's end holds one timer per key of the window, so at a million keys this
 * index takes a million insertions per window, each a lookup and an insertion (a pending timer of
 * the same key is a duplicate; a fired one is replaced). In a JavaScript Map that is two hash
 * operations on a table that is rebuilt as it grows, a quarter of a keyed job's time at a million
 * keys. Number keys, the common case, go instead into an open-addressing table of typed arrays:
 * one probe sequence for lookup and insertion, nothing for the collector to trace. Other keys
 * (strings, bigints, booleans, tuples) go into a Map, created when the first one comes.
 */
import type { PrimitiveKey } from '../core/key-group.ts';

/** No position: an empty slot of the number table, or a key that is not in the index. */
export const ABSENT = -1;

/** Slots of a new number table (a power of two). */
const INITIAL_SLOTS = 16;

// The bits of a number key, for hashing: a key that is an int32 hashes its value alone.
const bits = new Float64Array(1);
const words = new Int32Array(bits.buffer);

/** A slot for a number key (before masking): murmur3's 32-bit finaliser of its bits. */
function hashNumber(key: number): number {
  let h: number;
  if ((key | 0) === key) h = key | 0;
  else {
    bits[0] = key;
    h = words[0]! ^ Math.imul(words[1]!, 0x9e3779b1);
  }
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return h ^ (h >>> 16);
}

export class TimerKeyIndex {
  /** Number keys, by slot; a slot is empty where its position is ABSENT. */
  #keys = new Float64Array(INITIAL_SLOTS);
  #positions = new Int32Array(INITIAL_SLOTS).fill(ABSENT);
  #numbers = 0;
  /** Keys of every other type. */
  #others: Map<PrimitiveKey, number> | undefined;

  /**
   * Records that `key`'s timer is at `position`, unless the index holds a position of it at or
   * after `pending` (a timer not fired yet: the new one is a duplicate). True if recorded.
   */
  add(key: PrimitiveKey, position: number, pending: number): boolean {
    if (typeof key !== 'number') {
      let others = this.#others;
      if (others === undefined) {
        others = new Map();
        this.#others = others;
      }
      const at = others.get(key);
      if (at !== undefined && at >= pending) return false;
      others.set(key, position);
      return true;
    }
    let keys = this.#keys;
    let positions = this.#positions;
    // At most half full, so that probe sequences stay short.
    if (2 * (this.#numbers + 1) > keys.length) {
      this.#grow();
      keys = this.#keys;
      positions = this.#positions;
    }
    const mask = keys.length - 1;
    for (let slot = hashNumber(key) & mask; ; slot = (slot + 1) & mask) {
      const at = positions[slot]!;
      if (at === ABSENT) {
        keys[slot] = key;
        positions[slot] = position;
        this.#numbers++;
        return true;
      }
      if (keys[slot] === key) {
        if (at >= pending) return false;
        positions[slot] = position;
        return true;
      }
    }
  }

  /** The position recorded for `key`, or ABSENT. */
  get(key: PrimitiveKey): number {
    if (typeof key !== 'number') return this.#others?.get(key) ?? ABSENT;
    const slot = this.#slotOf(key);
    return slot === ABSENT ? ABSENT : this.#positions[slot]!;
  }

  /** Forgets `key`. */
  delete(key: PrimitiveKey): void {
    if (typeof key !== 'number') {
      this.#others?.delete(key);
      return;
    }
    let hole = this.#slotOf(key);
    if (hole === ABSENT) return;
    const keys = this.#keys;
    const positions = this.#positions;
    const mask = keys.length - 1;
    this.#numbers--;
    // Backward-shift deletion: move up every later entry of the run whose home slot does not lie
    // between the hole and it, so that no probe sequence meets an empty slot before its key.
    for (let slot = (hole + 1) & mask; positions[slot] !== ABSENT; slot = (slot + 1) & mask) {
      const home = hashNumber(keys[slot]!) & mask;
      const reachable = hole <= slot ? home > hole && home <= slot : home > hole || home <= slot;
      if (reachable) continue;
      keys[hole] = keys[slot]!;
      positions[hole] = positions[slot]!;
      hole = slot;
    }
    positions[hole] = ABSENT;
  }

  /** Calls `f` with each key and its position, in no particular order. */
  forEach(f: (key: PrimitiveKey, position: number) => void): void {
    const keys = this.#keys;
    const positions = this.#positions;
    for (let slot = 0; slot < keys.length; slot++) if (positions[slot] !== ABSENT) f(keys[slot]!, positions[slot]!);
    if (this.#others !== undefined) for (const [key, position] of this.#others) f(key, position);
  }

  #slotOf(key: number): number {
    const keys = this.#keys;
    const positions = this.#positions;
    const mask = keys.length - 1;
    for (let slot = hashNumber(key) & mask; ; slot = (slot + 1) & mask) {
      const at = positions[slot]!;
      if (at === ABSENT) return ABSENT;
      if (keys[slot] === key) return slot;
    }
  }

  #grow(): void {
    const oldKeys = this.#keys;
    const oldPositions = this.#positions;
    const size = oldKeys.length * 2;
    const keys = new Float64Array(size);
    const positions = new Int32Array(size).fill(ABSENT);
    const mask = size - 1;
    for (let i = 0; i < oldKeys.length; i++) {
      const at = oldPositions[i]!;
      if (at === ABSENT) continue;
      const key = oldKeys[i]!;
      let slot = hashNumber(key) & mask;
      while (positions[slot] !== ABSENT) slot = (slot + 1) & mask;
      keys[slot] = key;
      positions[slot] = at;
    }
    this.#keys = keys;
    this.#positions = positions;
  }
}
