/**
 * The stored representation of heap keyed state values: conversions from snapshot data (copying,
 * or taking ownership of freshly decoded values) and deep copies.
 */
import type { StateKind } from '../../api/state.ts';
import { canonicalKey, type PrimitiveKey } from '../../core/key-group.ts';

/** Map-state values: canonical user key → [user key, user value] (as state-table.ts stores them). */
type StoredMap = Map<PrimitiveKey, [unknown, unknown]>;

/** Converts a value from a snapshot into the stored representation (a private copy); undefined: nothing to store. */
export function toStored(kind: StateKind, value: unknown, name: string): unknown {
  switch (kind) {
    case 'list': {
      if (!isIterable(value)) throw new TypeError(`cannot restore list state '${name}': value is not iterable`);
      const list = Array.from(value, copyValue);
      return list.length > 0 ? list : undefined;
    }
    case 'map': {
      const pairs = value instanceof Map ? value.values() : value;
      if (!isIterable(pairs)) throw new TypeError(`cannot restore map state '${name}': value is not iterable`);
      const where = `map state '${name}'`;
      const map: StoredMap = new Map();
      for (const pair of pairs) {
        if (!Array.isArray(pair) || pair.length !== 2) {
          throw new TypeError(`cannot restore map state '${name}': expected [key, value] pairs`);
        }
        map.set(canonicalKey(pair[0], where), [copyValue(pair[0]), copyValue(pair[1])]);
      }
      return map.size > 0 ? map : undefined;
    }
    default:
      return copyValue(value);
  }
}

/** A value the caller gave away (freshly decoded) as the stored representation, without copying; undefined: nothing to store. */
export function ownedStored(kind: StateKind, value: unknown, name: string): unknown {
  switch (kind) {
    case 'list':
      if (!Array.isArray(value)) return toStored(kind, value, name);
      return value.length > 0 ? value : undefined;
    case 'map':
      if (!(value instanceof Map)) return toStored(kind, value, name);
      return value.size > 0 ? value : undefined;
    default:
      return value;
  }
}

function isIterable(value: unknown): value is Iterable<unknown> {
  return value != null && typeof (value as { [Symbol.iterator]?: unknown })[Symbol.iterator] === 'function';
}

/**
 * A deep copy of a stored value: what a snapshot keeps must not change when the live copy is
 * mutated in place. Primitives and functions are returned as they are.
 */
export function copyValue(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) {
    const out = new Array<unknown>(value.length);
    for (let i = 0; i < value.length; i++) out[i] = copyValue(value[i]);
    return out;
  }
  if (value instanceof Map) {
    const out = new Map<unknown, unknown>();
    for (const [k, v] of value) out.set(k, copyValue(v));
    return out;
  }
  if (value instanceof Set) {
    const out = new Set<unknown>();
    for (const v of value) out.add(copyValue(v));
    return out;
  }
  if (value instanceof Date) return new Date(value.getTime());
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer || value instanceof RegExp || value instanceof Error) {
    return structuredClone(value);
  }
  // Plain objects and class instances: own enumerable properties, same prototype.
  const out = Object.create(Object.getPrototypeOf(value) as object | null) as Record<string, unknown>;
  for (const k of Object.keys(value)) out[k] = copyValue((value as Record<string, unknown>)[k]);
  return out;
}
