/** Wording shared by the heap keyed state backend's errors. */
import type { StateKind } from '../../api/state.ts';

export function noCurrentKey(name: string): Error {
  return new Error(`state '${name}' was accessed with no current key (keyed state needs a keyed context)`);
}

export function article(kind: StateKind): string {
  return kind === 'aggregating' ? `an ${kind}` : `a ${kind}`;
}

export function describeKey(key: unknown): string {
  try {
    const text = typeof key === 'bigint' ? `${key}n` : JSON.stringify(key);
    return text === undefined ? String(key) : text.length > 80 ? `${text.slice(0, 77)}...` : text;
  } catch {
    return String(key);
  }
}
