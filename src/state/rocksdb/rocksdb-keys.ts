/**
 * How keyed state is laid out in RocksDB: one entry per (state, key), in one column family.
 *
 *   key:   [state id u16 BE][key group u16 BE][canonical key]
 *   value: the original key, then the stored value, each as state-codec.ts writes them
 *
 * The state id comes first and the key group right after it, so every (state, key group) is one
 * contiguous key range: a snapshot writes one state's key group with one range scan, and rescaling
 * keeps or drops whole key-group ranges. The canonical key (the key's identity under stream-key
 * rules: arrays by content) is encoded with a type tag, so keys of different types never collide.
 * The value is exactly what a keyed state file holds per entry (the key, then the stored value), so
 * a full snapshot copies RocksDB's values into the file without decoding them.
 */
import type { PrimitiveKey } from '../../core/key-group.ts';

const STRING = 1;
const NUMBER = 2;
const BIGINT = 3;
const FALSE = 4;
const TRUE = 5;

const encoder = new TextEncoder();

/** The first 4 bytes of every key of one state's key group. */
export function groupPrefix(stateId: number, keyGroup: number): Uint8Array {
  const out = new Uint8Array(4);
  out[0] = stateId >>> 8;
  out[1] = stateId & 0xff;
  out[2] = keyGroup >>> 8;
  out[3] = keyGroup & 0xff;
  return out;
}

/** The range [start, end) holding every key of the state in key groups first..last. */
export function stateRange(stateId: number, first: number, last: number): { start: Uint8Array; end: Uint8Array } {
  return { start: groupPrefix(stateId, first), end: last + 1 > 0xffff ? groupPrefix(stateId + 1, 0) : groupPrefix(stateId, last + 1) };
}

/** The RocksDB key of one (state, key). */
export function entryKey(stateId: number, keyGroup: number, canonical: PrimitiveKey): Uint8Array {
  let body: Uint8Array;
  let tag: number;
  switch (typeof canonical) {
    case 'string':
      tag = STRING;
      body = encoder.encode(canonical);
      break;
    case 'number': {
      tag = NUMBER;
      body = new Uint8Array(8);
      new DataView(body.buffer).setFloat64(0, canonical);
      break;
    }
    case 'bigint':
      tag = BIGINT;
      body = encoder.encode(canonical.toString());
      break;
    default:
      tag = canonical ? TRUE : FALSE;
      body = new Uint8Array(0);
  }
  const out = new Uint8Array(5 + body.byteLength);
  out[0] = stateId >>> 8;
  out[1] = stateId & 0xff;
  out[2] = keyGroup >>> 8;
  out[3] = keyGroup & 0xff;
  out[4] = tag;
  out.set(body, 5);
  return out;
}
