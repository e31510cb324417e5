/**
 * How keyed state is laid out in RocksDB: one entry per (state, key), in one column family; a map
 * state has one entry per (state, key, user key) instead (below).
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
import { decodeCanonicalKey, type PrimitiveKey } from '../../core/key-group.ts';

const STRING = 1;
const NUMBER = 2;
const BIGINT = 3;
const FALSE = 4;
const TRUE = 5;

/** Writes the first 4 bytes of every key of one state's key group into `out` at `at`. */
function writeGroupPrefix(out: Uint8Array, at: number, stateId: number, keyGroup: number): void {
  out[at] = stateId >>> 8;
  out[at + 1] = stateId & 0xff;
  out[at + 2] = keyGroup >>> 8;
  out[at + 3] = keyGroup & 0xff;
}

/** The first 4 bytes of every key of one state's key group. */
export function groupPrefix(stateId: number, keyGroup: number): Uint8Array {
  const out = new Uint8Array(4);
  writeGroupPrefix(out, 0, stateId, keyGroup);
  return out;
}

/** The range [start, end) holding every key of the state in key groups first..last. */
export function stateRange(stateId: number, first: number, last: number): { start: Uint8Array; end: Uint8Array } {
  return { start: groupPrefix(stateId, first), end: last + 1 > 0xffff ? groupPrefix(stateId + 1, 0) : groupPrefix(stateId, last + 1) };
}

/** The RocksDB key of one (state, key): the bytes writeEntryKey writes, in an array of their own. */
export function entryKey(stateId: number, keyGroup: number, canonical: PrimitiveKey): Uint8Array {
  scratch.pos = 0;
  writeEntryKey(scratch, stateId, keyGroup, canonical);
  const out = new Uint8Array(scratch.pos);
  out.set(scratch.buf.subarray(0, scratch.pos));
  return out;
}

/**
 * Appends the RocksDB key of one (state, key) to `b`, without allocating (a restore writes
 * millions of them straight into a packed write batch): [state id u16 BE][key group u16 BE][tag]
 * then the key's UTF-8 (strings; a lone surrogate as U+FFFD), float64 BE (numbers), decimal digits
 * (bigints), or nothing (booleans, whose tag says which).
 */
export function writeEntryKey(b: KeyBuilder, stateId: number, keyGroup: number, canonical: PrimitiveKey): void {
  switch (typeof canonical) {
    case 'string': {
      // UTF-8 as TextEncoder writes it (a lone surrogate becomes U+FFFD): at most 3 bytes per unit.
      b.reserve(5 + 3 * canonical.length);
      writeGroupPrefix(b.buf, b.pos, stateId, keyGroup);
      b.buf[b.pos + 4] = STRING;
      b.pos += 5 + b.buf.write(canonical, b.pos + 5, 'utf8');
      return;
    }
    case 'number':
      b.reserve(13);
      writeGroupPrefix(b.buf, b.pos, stateId, keyGroup);
      b.buf[b.pos + 4] = NUMBER;
      b.buf.writeDoubleBE(canonical, b.pos + 5);
      b.pos += 13;
      return;
    case 'bigint': {
      const digits = canonical.toString();
      b.reserve(5 + digits.length);
      writeGroupPrefix(b.buf, b.pos, stateId, keyGroup);
      b.buf[b.pos + 4] = BIGINT;
      b.pos += 5 + b.buf.write(digits, b.pos + 5, 'latin1');
      return;
    }
    default:
      b.reserve(5);
      writeGroupPrefix(b.buf, b.pos, stateId, keyGroup);
      b.buf[b.pos + 4] = canonical ? TRUE : FALSE;
      b.pos += 5;
  }
}

/*
 * Map state: one RocksDB entry per user key (Flink's RocksDBMapState layout).
 *
 *   key:   [state id u16 BE][key group u16 BE][stream key, prefix-free][user key]
 *   value: the [user key, user value] pair as state-codec.ts writes it
 *
 * The stream key is encoded prefix-free (strings and bigints carry their length), so the entries
 * of one key are exactly the keys that start with its prefix: one contiguous range, disjoint from
 * every other key's, which a prefix scan reads and a range delete clears. Strings are encoded as
 * their UTF-16 code units, big-endian, so that every string (lone surrogates included) has its own
 * bytes. The user key is last and needs no length. Byte order is not the order of the values
 * (numbers are raw IEEE 754 bits): only consistency matters, for scans and merges.
 *
 * The stream key is decoded back from the RocksDB key (canonical form, then decodeCanonicalKey),
 * so a value holds only the pair; the original user key is in the pair.
 */

/** A growable scratch buffer that map keys are built in. */
export class KeyBuilder {
  buf = Buffer.allocUnsafeSlow(256);
  pos = 0;

  reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafeSlow(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  /** The bytes written so far as a string of one char per byte (compares like the bytes). */
  id(): string {
    return this.buf.toString('latin1', 0, this.pos);
  }
}

/** Where entryKey builds a key before copying it out. */
const scratch = new KeyBuilder();

/** Writes the prefix of every map entry of one stream key: state id, key group, the key prefix-free. */
export function writeMapPrefix(b: KeyBuilder, stateId: number, keyGroup: number, canonical: PrimitiveKey): void {
  b.reserve(4);
  writeGroupPrefix(b.buf, b.pos, stateId, keyGroup);
  b.pos += 4;
  writeTagged(b, canonical, true);
}

/** Writes a user key's canonical form (last in the key: no length needed). */
export function writeUserKey(b: KeyBuilder, canonical: PrimitiveKey): void {
  writeTagged(b, canonical, false);
}

function writeTagged(b: KeyBuilder, canonical: PrimitiveKey, sized: boolean): void {
  switch (typeof canonical) {
    case 'string':
      writeChars(b, STRING, canonical, sized, true);
      return;
    case 'number':
      b.reserve(9);
      b.buf[b.pos] = NUMBER;
      b.buf.writeDoubleBE(canonical, b.pos + 1);
      b.pos += 9;
      return;
    case 'bigint':
      writeChars(b, BIGINT, canonical.toString(), sized, false);
      return;
    default:
      b.reserve(1);
      b.buf[b.pos++] = canonical ? TRUE : FALSE;
  }
}

/** A tag, the length when `sized` (u32 BE, in units), then each unit: UTF-16 BE when `wide`, else one byte. */
function writeChars(b: KeyBuilder, tag: number, s: string, sized: boolean, wide: boolean): void {
  const n = s.length;
  b.reserve(5 + (wide ? 2 * n : n));
  const buf = b.buf;
  let p = b.pos;
  buf[p++] = tag;
  if (sized) {
    buf.writeUInt32BE(n, p);
    p += 4;
  }
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (wide) buf[p++] = c >>> 8;
    buf[p++] = c & 0xff;
  }
  b.pos = p;
}

/** The length of a map entry's prefix (state id, key group, stream key) in its RocksDB key. */
export function mapPrefixLength(key: Uint8Array): number {
  switch (key[4]) {
    case STRING:
      return 9 + 2 * readU32BE(key, 5);
    case BIGINT:
      return 9 + readU32BE(key, 5);
    case NUMBER:
      return 13;
    default:
      return 5;
  }
}

/** The stream key of a map entry, decoded from its RocksDB key (an array key comes back as a new array). */
export function mapEntryStreamKey(key: Uint8Array): unknown {
  let canonical: PrimitiveKey;
  switch (key[4]) {
    case STRING: {
      const n = readU32BE(key, 5);
      let s = '';
      for (let i = 0; i < n; i++) s += String.fromCharCode((key[9 + 2 * i]! << 8) | key[10 + 2 * i]!);
      canonical = s;
      break;
    }
    case BIGINT: {
      const n = readU32BE(key, 5);
      let s = '';
      for (let i = 0; i < n; i++) s += String.fromCharCode(key[9 + i]!);
      canonical = BigInt(s);
      break;
    }
    case NUMBER:
      canonical = new DataView(key.buffer, key.byteOffset, key.byteLength).getFloat64(5);
      break;
    case TRUE:
      canonical = true;
      break;
    case FALSE:
      canonical = false;
      break;
    default:
      throw new Error(`internal: not a map state entry key (tag ${String(key[4])})`);
  }
  return decodeCanonicalKey(canonical);
}

/** The first key after every key that starts with `prefix` (the end of its range). */
export function prefixEnd(prefix: Uint8Array): Uint8Array {
  const out = Uint8Array.from(prefix);
  for (let i = out.length - 1; i >= 0; i--) {
    if (out[i] !== 0xff) {
      out[i]!++;
      return out.subarray(0, i + 1);
    }
  }
  throw new Error('internal: a key prefix of only 0xff bytes has no end');
}

function readU32BE(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}
