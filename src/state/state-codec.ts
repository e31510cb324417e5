/**
 * The binary form of keyed state in snapshots: keys and stored values, written straight into a
 * caller's buffer and read straight out of one.
 *
 * Snapshots are written on the thread that processes records, so encoding must neither allocate
 * per value nor take long per call: the common shapes of state (numbers, strings, booleans,
 * plain objects, arrays, arrays of numbers, Maps, Sets, Dates, bigints) are encoded here
 * without intermediate objects. Anything else (typed arrays, RegExps, Errors, instances of
 * registered classes) is handed to the record codec, whose bytes are embedded, so what can be
 * checkpointed and how it comes back is exactly what the record codec allows; what it refuses
 * (functions, symbols, unregistered classes) is refused with its message.
 *
 * Every value is self-delimiting, so an encoded value can be copied from one buffer into another
 * (a snapshot's saved copy of an old value into a file) without being decoded.
 *
 * Layout: a tag byte, then the tag's body (little-endian). A "size" is one byte below 255, else
 * 255 followed by a u32.
 *   0x80 + n            the integer n, 0 <= n < 128
 *   UNDEFINED NULL FALSE TRUE
 *   INT  i32            other integers in the int32 range (not -0)
 *   FLOAT f64           every other number, -0 and NaN included
 *   STRING size utf8
 *   BIGINT size ascii   decimal digits with an optional '-'
 *   DATE f64            the time value
 *   ARRAY size values   holes read back as undefined
 *   NUMBERS size f64…   an array of numbers only
 *   OBJECT u32 (size utf8, value)…   own enumerable string keys of a plain object
 *   MAP size (key, value)…   SET size values
 *   FOREIGN size bytes  the record codec's encoding of the value
 */

import { decodeValue as decodeForeign, encodeValue as encodeForeign } from '../core/record-codec.ts';
import type { StateKind } from '../api/state.ts';
import { canonicalKey } from '../core/key-group.ts';
import type { PrimitiveKey } from '../core/key-group.ts';

/** A value cannot be encoded (the cause says why), or bytes cannot be decoded. */
export class StateCodecError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'StateCodecError';
  }
}

const UNDEFINED = 0x01;
const NULL = 0x02;
const FALSE = 0x03;
const TRUE = 0x04;
const INT = 0x05;
const FLOAT = 0x06;
const STRING = 0x07;
const BIGINT = 0x08;
const DATE = 0x09;
const ARRAY = 0x0a;
const NUMBERS = 0x0b;
const OBJECT = 0x0c;
const MAP = 0x0d;
const SET = 0x0e;
const FOREIGN = 0x0f;
const SMALL_INT = 0x80;

const LONG_SIZE = 0xff;
/** Nesting deeper than this is refused: it is almost certainly a cycle, and would exhaust the stack. */
const MAX_DEPTH = 512;
/** Strings up to this many characters are tried as ASCII in JavaScript before the native UTF-8 path. */
const SHORT_STRING = 64;
/** Arrays longer than this are built by push, so that they never start out as dictionaries. */
const PREALLOCATED_ARRAY = 16 * 1024;

const objectPrototype = Object.prototype;
const arrayPrototype = Array.prototype;
const mapPrototype = Map.prototype;
const setPrototype = Set.prototype;
const datePrototype = Date.prototype;
const getPrototypeOf = Object.getPrototypeOf;

// ---------------------------------------------------------------------------------------------
// Writing.

/**
 * A growable output buffer. `bytes` may be replaced by a larger copy while writing, so callers
 * that keep offsets into it must read `bytes` again afterwards.
 */
export class ByteWriter {
  bytes: Buffer;
  view: DataView;
  pos = 0;

  constructor(bytes: Buffer) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Makes room for `n` more bytes after `pos`. */
  reserve(n: number): void {
    if (this.pos + n > this.bytes.length) this.#grow(n);
  }

  /** Appends `source[start, end)`. */
  append(source: Uint8Array, start: number, end: number): void {
    const n = end - start;
    this.reserve(n);
    this.bytes.set(n === source.length ? source : source.subarray(start, end), this.pos);
    this.pos += n;
  }

  u8(value: number): void {
    this.reserve(1);
    this.bytes[this.pos++] = value;
  }

  u32(value: number): void {
    this.reserve(4);
    this.view.setUint32(this.pos, value, true);
    this.pos += 4;
  }

  f64(value: number): void {
    this.reserve(8);
    this.view.setFloat64(this.pos, value, true);
    this.pos += 8;
  }

  #grow(n: number): void {
    const next = Buffer.allocUnsafeSlow(Math.max(this.bytes.length * 2, this.pos + n, 256));
    this.bytes.copy(next, 0, 0, this.pos);
    this.bytes = next;
    this.view = new DataView(next.buffer, next.byteOffset, next.byteLength);
  }
}

/** Encodes one value. On failure `w.pos` is left where the value would have ended; callers reset it. */
export function writeValue(w: ByteWriter, value: unknown): void {
  encode(w, value, 0);
}

/**
 * Encodes a stored value of a state of `kind` in the form files keep: as it is, except that a map
 * state's value (a Map of canonical user key → [user key, user value]) becomes an array of
 * [user key, user value] pairs.
 */
export function writeStored(w: ByteWriter, kind: StateKind, value: unknown): void {
  if (kind !== 'map') {
    encode(w, value, 0);
    return;
  }
  if (value instanceof Map) {
    writeSize(w, ARRAY, value.size);
    for (const pair of (value as Map<unknown, unknown>).values()) encode(w, pair, 1);
  } else if (Array.isArray(value)) {
    encode(w, value, 0);
  } else {
    throw new StateCodecError('a stored map state value is not a Map of [key, value] pairs');
  }
}

function encode(w: ByteWriter, value: unknown, depth: number): void {
  switch (typeof value) {
    case 'number':
      writeNumber(w, value);
      return;
    case 'string':
      writeString(w, STRING, value);
      return;
    case 'boolean':
      w.u8(value ? TRUE : FALSE);
      return;
    case 'undefined':
      w.u8(UNDEFINED);
      return;
    case 'bigint':
      writeString(w, BIGINT, value.toString());
      return;
    case 'object': {
      if (value === null) {
        w.u8(NULL);
        return;
      }
      if (depth >= MAX_DEPTH) throw new StateCodecError(`it is nested more than ${MAX_DEPTH} levels deep (or cyclic)`);
      const proto: unknown = getPrototypeOf(value);
      if (proto === objectPrototype) writeObject(w, value as Record<string, unknown>, depth + 1);
      else if (proto === arrayPrototype) writeArray(w, value as unknown[], depth + 1);
      else if (proto === mapPrototype) {
        writeSize(w, MAP, (value as Map<unknown, unknown>).size);
        for (const [k, v] of value as Map<unknown, unknown>) {
          encode(w, k, depth + 1);
          encode(w, v, depth + 1);
        }
      } else if (proto === setPrototype) {
        writeSize(w, SET, (value as Set<unknown>).size);
        for (const v of value as Set<unknown>) encode(w, v, depth + 1);
      } else if (proto === datePrototype) {
        w.reserve(9);
        w.bytes[w.pos++] = DATE;
        w.view.setFloat64(w.pos, (value as Date).getTime(), true);
        w.pos += 8;
      } else writeForeign(w, value);
      return;
    }
    default:
      writeForeign(w, value);
  }
}

function writeNumber(w: ByteWriter, n: number): void {
  if ((n | 0) === n && (n !== 0 || 1 / n > 0)) {
    if (n >= 0 && n < 128) {
      w.u8(SMALL_INT + n);
      return;
    }
    w.reserve(5);
    w.bytes[w.pos] = INT;
    w.view.setInt32(w.pos + 1, n, true);
    w.pos += 5;
    return;
  }
  w.reserve(9);
  w.bytes[w.pos] = FLOAT;
  w.view.setFloat64(w.pos + 1, n, true);
  w.pos += 9;
}

function writeSize(w: ByteWriter, tag: number, size: number): void {
  w.reserve(6);
  const bytes = w.bytes;
  bytes[w.pos++] = tag;
  if (size < LONG_SIZE) {
    bytes[w.pos++] = size;
  } else {
    bytes[w.pos++] = LONG_SIZE;
    w.view.setUint32(w.pos, size, true);
    w.pos += 4;
  }
}

/** A string as `tag size utf8`, or with tag -1 as `size utf8` (object keys). */
function writeString(w: ByteWriter, tag: number, s: string): void {
  const n = s.length;
  const head = tag < 0 ? 0 : 1;
  if (n < SHORT_STRING) {
    w.reserve(head + 1 + n);
    const bytes = w.bytes;
    const start = w.pos + head + 1;
    let i = 0;
    for (; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) break;
      bytes[start + i] = c;
    }
    if (i === n) {
      if (tag >= 0) bytes[w.pos] = tag;
      bytes[w.pos + head] = n;
      w.pos = start + n;
      return;
    }
  }
  // At most 3 bytes per UTF-16 unit; the long size form unless even that fits in one byte.
  const max = 3 * n;
  const long = max >= LONG_SIZE;
  w.reserve(head + (long ? 5 : 1) + max);
  const bytes = w.bytes;
  if (tag >= 0) bytes[w.pos] = tag;
  const sizeAt = w.pos + head;
  const start = sizeAt + (long ? 5 : 1);
  const written = bytes.write(s, start, max, 'utf8');
  if (long) {
    bytes[sizeAt] = LONG_SIZE;
    w.view.setUint32(sizeAt + 1, written, true);
  } else {
    bytes[sizeAt] = written;
  }
  w.pos = start + written;
}

function writeObject(w: ByteWriter, o: Record<string, unknown>, depth: number): void {
  w.reserve(5);
  w.bytes[w.pos] = OBJECT;
  const countAt = w.pos + 1;
  w.pos += 5;
  let count = 0;
  for (const key in o) {
    writeString(w, -1, key);
    encode(w, o[key], depth);
    count++;
  }
  w.view.setUint32(countAt, count, true);
}

function writeArray(w: ByteWriter, a: unknown[], depth: number): void {
  const n = a.length;
  let numbers = n > 0;
  for (let i = 0; i < n; i++) {
    if (typeof a[i] !== 'number') {
      numbers = false;
      break;
    }
  }
  if (numbers) {
    writeSize(w, NUMBERS, n);
    w.reserve(8 * n);
    const view = w.view;
    let p = w.pos;
    for (let i = 0; i < n; i++, p += 8) view.setFloat64(p, a[i] as number, true);
    w.pos = p;
    return;
  }
  writeSize(w, ARRAY, n);
  for (let i = 0; i < n; i++) encode(w, a[i], depth);
}

function writeForeign(w: ByteWriter, value: unknown): void {
  const bytes = encodeForeign(value);
  writeSize(w, FOREIGN, bytes.byteLength);
  w.append(bytes, 0, bytes.byteLength);
}

// ---------------------------------------------------------------------------------------------
// Reading.

/** A cursor over `bytes[pos, end)`. Reads past `end` are errors, never reads of other memory. */
export class ByteReader {
  readonly bytes: Buffer;
  readonly view: DataView;
  pos: number;
  end: number;

  constructor(bytes: Uint8Array, pos = 0, end = bytes.byteLength) {
    this.bytes = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.view = new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength);
    this.pos = pos;
    this.end = end;
  }

  need(n: number): void {
    if (n > this.end - this.pos) throw truncated(n, this);
  }

  u8(): number {
    if (this.pos >= this.end) throw truncated(1, this);
    return this.bytes[this.pos++]!;
  }

  u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }

  f64(): number {
    this.need(8);
    const v = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return v;
  }
}

function truncated(n: number, r: ByteReader): StateCodecError {
  return new StateCodecError(`${n} bytes needed at offset ${r.pos}, but only ${Math.max(0, r.end - r.pos)} remain`);
}

/** Decodes one value. Throws a StateCodecError (or the record codec's error) for malformed bytes. */
export function readValue(r: ByteReader): unknown {
  return decode(r, 0);
}

/** Reads a value written by writeStored back into the stored representation of `kind` (a map state's pairs become its Map). */
export function readStored(r: ByteReader, kind: StateKind): unknown {
  const value = decode(r, 0);
  switch (kind) {
    case 'list':
      if (!Array.isArray(value)) throw new StateCodecError('a list state value is not an array');
      return value;
    case 'map':
      return storedMap(value);
    default:
      return value;
  }
}

/** Map state pairs as the stored Map of canonical user key → [user key, user value]; the pairs are kept, not copied. */
export function storedMap(pairs: unknown): Map<PrimitiveKey, [unknown, unknown]> {
  if (!Array.isArray(pairs)) throw new StateCodecError('a map state value is not an array of [key, value] pairs');
  const map = new Map<PrimitiveKey, [unknown, unknown]>();
  for (const pair of pairs as unknown[]) {
    if (!Array.isArray(pair) || pair.length !== 2) throw new StateCodecError('a map state value is not an array of [key, value] pairs');
    let canonical: PrimitiveKey;
    try {
      canonical = canonicalKey(pair[0]);
    } catch (error) {
      throw new StateCodecError(`a map state holds an invalid user key (${error instanceof Error ? error.message : String(error)})`, { cause: error });
    }
    map.set(canonical, pair as [unknown, unknown]);
  }
  return map;
}

function decode(r: ByteReader, depth: number): unknown {
  if (r.pos >= r.end) throw truncated(1, r);
  const tag = r.bytes[r.pos++]!;
  if (tag >= SMALL_INT) return tag - SMALL_INT;
  switch (tag) {
    case UNDEFINED:
      return undefined;
    case NULL:
      return null;
    case FALSE:
      return false;
    case TRUE:
      return true;
    case INT: {
      r.need(4);
      const v = r.view.getInt32(r.pos, true);
      r.pos += 4;
      return v;
    }
    case FLOAT:
      return r.f64();
    case STRING:
      return readString(r, readSize(r));
    case BIGINT: {
      const text = readString(r, readSize(r));
      if (!/^-?\d+$/.test(text)) throw new StateCodecError(`malformed bigint ${JSON.stringify(text.slice(0, 40))}`);
      return BigInt(text);
    }
    case DATE:
      return new Date(r.f64());
    case NUMBERS: {
      const n = readSize(r);
      r.need(8 * n);
      const view = r.view;
      let p = r.pos;
      const out: number[] = n <= PREALLOCATED_ARRAY ? new Array<number>(n) : [];
      if (n <= PREALLOCATED_ARRAY) for (let i = 0; i < n; i++, p += 8) out[i] = view.getFloat64(p, true);
      else for (let i = 0; i < n; i++, p += 8) out.push(view.getFloat64(p, true));
      r.pos = p;
      return out;
    }
    case ARRAY: {
      const n = readSize(r);
      r.need(n); // every element takes at least one byte
      checkDepth(depth);
      if (n <= PREALLOCATED_ARRAY) {
        const out = new Array<unknown>(n);
        for (let i = 0; i < n; i++) out[i] = decode(r, depth + 1);
        return out;
      }
      const out: unknown[] = [];
      for (let i = 0; i < n; i++) out.push(decode(r, depth + 1));
      return out;
    }
    case OBJECT: {
      const n = r.u32();
      r.need(2 * n);
      checkDepth(depth);
      const out: Record<string, unknown> = {};
      for (let i = 0; i < n; i++) {
        const key = readString(r, readSize(r));
        const value = decode(r, depth + 1);
        if (key === '__proto__') Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
        else out[key] = value;
      }
      return out;
    }
    case MAP: {
      const n = readSize(r);
      r.need(2 * n);
      checkDepth(depth);
      const out = new Map<unknown, unknown>();
      for (let i = 0; i < n; i++) {
        const key = decode(r, depth + 1);
        out.set(key, decode(r, depth + 1));
      }
      return out;
    }
    case SET: {
      const n = readSize(r);
      r.need(n);
      checkDepth(depth);
      const out = new Set<unknown>();
      for (let i = 0; i < n; i++) out.add(decode(r, depth + 1));
      return out;
    }
    case FOREIGN: {
      const n = readSize(r);
      r.need(n);
      const start = r.pos;
      r.pos += n;
      return decodeForeign(r.bytes.subarray(start, start + n));
    }
    default:
      throw new StateCodecError(`unknown value tag 0x${tag.toString(16)} at offset ${r.pos - 1}`);
  }
}

function checkDepth(depth: number): void {
  if (depth >= MAX_DEPTH) throw new StateCodecError(`values are nested more than ${MAX_DEPTH} levels deep`);
}

function readSize(r: ByteReader): number {
  if (r.pos >= r.end) throw truncated(1, r);
  const first = r.bytes[r.pos++]!;
  return first < LONG_SIZE ? first : r.u32();
}

function readString(r: ByteReader, n: number): string {
  r.need(n);
  const bytes = r.bytes;
  const start = r.pos;
  const end = start + n;
  r.pos = end;
  if (n <= 16) {
    let s = '';
    for (let i = start; i < end; i++) {
      const c = bytes[i]!;
      if (c >= 0x80) return bytes.toString('utf8', start, end);
      s += String.fromCharCode(c);
    }
    return s;
  }
  return bytes.toString('utf8', start, end);
}
