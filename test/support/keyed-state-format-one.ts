/** Keyed state files as earlier versions of weir wrote them, for tests that they are still read. */
import { encodeValue } from '../../src/core/record-codec.ts';

/** A keyed state file in format 1 (MessagePack frames), as earlier versions wrote them. */
export function formatOneFile(frames: unknown[][]): Uint8Array {
  const parts: Uint8Array[] = [new Uint8Array([0x57, 0x4b, 0x53, 0x46, 1, 0, 0, 0])];
  const append = (frame: unknown[]): void => {
    const bytes = encodeValue(frame);
    const length = new Uint8Array(4);
    new DataView(length.buffer).setUint32(0, bytes.byteLength, true);
    parts.push(length, bytes);
  };
  for (const frame of frames) append(frame);
  const entries = frames.filter((f) => f[0] === 2).reduce((n, f) => n + (f[3] as unknown[]).length, 0);
  const timers = frames.filter((f) => f[0] === 3).reduce((n, f) => n + (f[1] as unknown[]).length, 0);
  append([4, frames.length, entries, timers]);
  return Buffer.concat(parts);
}

/** The keys of the format-1 fixture (formatOneStateFrames). */
export const FORMAT_ONE_KEYS: readonly unknown[] = ['a', 7, 12n, ['x', 1]];

/**
 * The state frames of a format-1 fixture: a value, a list and a map state, each key with a value
 * or list, and key 'a' with a map; `groupOf` gives a key's key group. Tests add their timer frames.
 */
export function formatOneStateFrames(groupOf: (key: unknown) => number): unknown[][] {
  return [
    [1, 'v', 'value'],
    [1, 'l', 'list'],
    [1, 'm', 'map'],
    ...FORMAT_ONE_KEYS.map((k, i) => [2, 'v', groupOf(k), [[k, { n: i, when: new Date(i) }]]]),
    ...FORMAT_ONE_KEYS.map((k, i) => [2, 'l', groupOf(k), [[k, [i, `e${i}`]]]]),
    [2, 'm', groupOf('a'), [['a', [['u', { v: 1 }], [['p', 2], 3n]]]]],
  ];
}
