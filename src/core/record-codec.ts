/**
 * Serialisation of stream records for channels between threads and processes.
 *
 * A batch's records travel in one of three encodings, chosen per batch by the encoder:
 *
 *   - numbers: a batch of numbers only is written as float64 values, 8 bytes per record, copied
 *     in and out as one block (every number survives bit for bit, -0 and NaN included);
 *   - rows: a compact tagged encoding for records made of numbers, strings, booleans, null,
 *     undefined, plain objects, arrays and instances of registered classes. An object shape
 *     (its class and its keys) is described once per stream and later objects of that shape are
 *     written as values only; short strings that repeat (keys, enumerations) are kept in a
 *     dictionary shared by both ends and sent as a two-byte reference. Each object field (and
 *     strings outside objects) decides by its recent hit rate whether the dictionary pays;
 *   - general: MessagePack (msgpackr) with its record extension, for everything else; a batch
 *     with one value the rows encoding does not cover goes this way as a whole.
 *
 * A channel is an ordered stream, so a RecordEncoder and the RecordDecoder at the other end
 * keep the shapes and strings they have seen between batches; a stream of small batches then
 * costs little more than the values themselves.
 *
 * What survives the trip: strings (as UTF-8, so a lone surrogate arrives as U+FFFD
 * characters), numbers (-0 arrives as 0 in a batch of the general encoding, and as -0
 * otherwise), bigints of any size, booleans, null, undefined, plain objects and arrays, Date,
 * Map, Set, RegExp, built-in Errors (name, message and cause), ArrayBuffer, typed arrays (a
 * Buffer arrives as a plain Uint8Array), and instances of classes given to `registerType`.
 * Objects arrive with their own enumerable string-keyed properties only; shared references
 * arrive as separate copies, and a cycle is an error. Functions, symbols and instances of
 * unregistered classes are refused at any depth, since sending them would silently lose data.
 *
 * Batch layout (little-endian):
 *   0  u8   format version
 *   1  u8   flags: 1 = the decoder must forget the shapes and strings it knows; 2 = timestamps
 *           follow; 4 = the records are numbers; 8 = the records are rows (neither: general);
 *           16 = key groups follow
 *   2  u16  zero
 *   4  u32  number of records
 *   8  u32  batch sequence number since the last reset
 *  12  u32  zero
 *  16  f64 × count timestamps, when flagged
 *  ..  u16 × count key groups (the keyed consumer's, computed by the partitioner), when
 *      flagged, padded with zeros to a multiple of 8 bytes
 *  ..  the records: f64 × count (numbers), rows, or a MessagePack array (general)
 *
 * The sequence number lets a decoder notice a lost, repeated or reordered batch instead of
 * misreading shapes; the reset flag lets an encoder start afresh (first batch, or after a
 * failed encode) without a separate control message.
 */

import { createRequire } from 'node:module';
import type * as Msgpackr from 'msgpackr';
import type { Options, Packr, Unpackr } from 'msgpackr';

/** A value cannot be encoded or a batch cannot be decoded. */
export class SerializationError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SerializationError';
  }
}

// ---------------------------------------------------------------------------------------------
// Registered classes.

interface RegisteredType {
  readonly name: string;
  readonly ctor: abstract new (...args: any[]) => object;
  readonly prototype: object;
}

const typesByName = new Map<string, RegisteredType>();
const typesByPrototype = new Map<object, RegisteredType>();

// Instances of these carry internal slots that Object.create cannot recreate.
const BUILTINS_WITH_INTERNAL_STATE: readonly Function[] = [
  Function,
  Array,
  Map,
  Set,
  WeakMap,
  WeakSet,
  Date,
  RegExp,
  Error,
  Promise,
  ArrayBuffer,
  SharedArrayBuffer,
  DataView,
  Object.getPrototypeOf(Uint8Array) as Function,
];

/**
 * Registers a class so that its instances keep their prototype when they cross a thread or
 * process. Register at the top level of the module that defines the class: the job's modules
 * are imported in every worker, so every worker then knows the class by the same name.
 *
 * Instances are rebuilt with Object.create(prototype) plus their own enumerable fields; the
 * constructor is not called and #private fields are not carried. `name` (default: the class
 * name) identifies the class on the wire, so it must be unique among registered classes.
 * Registering the same class again under the same name does nothing.
 */
export function registerType(ctor: abstract new (...args: any[]) => object, name?: string): void {
  if (typeof ctor !== 'function' || typeof ctor.prototype !== 'object' || ctor.prototype === null) {
    throw new TypeError('registerType expects a class');
  }
  if ((ctor as Function) === Object) throw new TypeError('registerType(Object): plain objects need no registration');
  const typeName = name ?? ctor.name;
  if (typeof typeName !== 'string' || typeName === '') {
    throw new TypeError('registerType: an anonymous class needs a name: registerType(MyClass, "my-class")');
  }
  for (const builtin of BUILTINS_WITH_INTERNAL_STATE) {
    if (ctor === builtin || Object.prototype.isPrototypeOf.call(builtin.prototype, ctor.prototype)) {
      throw new TypeError(
        `registerType(${typeName}): ${ctor === builtin ? `${builtin.name} is built in` : `it extends ${builtin.name}`}; ` +
          'instances are rebuilt from their own fields, which cannot restore the internal state of built-in objects',
      );
    }
  }
  const byName = typesByName.get(typeName);
  if (byName !== undefined) {
    if (byName.ctor === ctor) return;
    throw new Error(
      `registerType: the name "${typeName}" is already taken by another class; ` +
        `give one of them a distinct name, e.g. registerType(${ctor.name || 'MyClass'}, "${typeName}2")`,
    );
  }
  const byPrototype = typesByPrototype.get(ctor.prototype as object);
  if (byPrototype !== undefined) {
    throw new Error(`registerType: ${ctor.name || 'this class'} is already registered as "${byPrototype.name}"`);
  }
  const type: RegisteredType = { name: typeName, ctor, prototype: ctor.prototype as object };
  typesByName.set(typeName, type);
  typesByPrototype.set(type.prototype, type);
}

// ---------------------------------------------------------------------------------------------
// msgpackr hook. msgpackr offers objects that are not plain objects, arrays or Maps to its
// extensions in order, by `instanceof`; the extension added here comes first. Its class answers
// `instanceof` itself: yes for instances of registered classes (encoded with their type name),
// and, while one of this module's encoders is running, yes for anything that would otherwise be
// sent without its prototype, so that it fails instead. Other users of msgpackr in the process
// are left alone, apart from being able to send registered classes too.

const REGISTERED_TYPE_EXTENSION = 0x57;

const ERROR_PROTOTYPES: ReadonlySet<object> = new Set(
  [Error, EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError, AggregateError].map((e) => e.prototype),
);

const ENCODABLE_PROTOTYPES: ReadonlySet<object> = new Set<object>([
  Object.prototype,
  Array.prototype,
  Map.prototype,
  Set.prototype,
  Date.prototype,
  RegExp.prototype,
  ArrayBuffer.prototype,
  ...ERROR_PROTOTYPES,
]);

let strictEncoders = 0;

class CodecHook {
  static [Symbol.hasInstance](value: unknown): boolean {
    const proto: unknown = Object.getPrototypeOf(value);
    if (typesByPrototype.has(proto as object)) return true;
    if (strictEncoders === 0 || proto === null) return false;
    return !ENCODABLE_PROTOTYPES.has(proto as object) && !ArrayBuffer.isView(value);
  }
}

/**
 * msgpackr, loaded when a value first needs it (the general encoding, one-shot values): most
 * channels never do (numbers and rows have their own encodings), and loading it (with its native
 * helper) cost every thread about 25 ms of start-up. Loaded through require, since the encoders
 * are synchronous; this instance is this module's own, so the extension below (registered classes,
 * strictness) is registered on it only and other users of msgpackr in the process are left alone.
 */
let msgpackr: typeof Msgpackr | undefined;

function loadMsgpackr(): typeof Msgpackr {
  if (msgpackr !== undefined) return msgpackr;
  const lib = createRequire(import.meta.url)('msgpackr') as typeof Msgpackr;
  lib.addExtension({
  Class: CodecHook,
  type: REGISTERED_TYPE_EXTENSION,
  write(value: object): unknown {
    const type = typesByPrototype.get(Object.getPrototypeOf(value) as object);
    if (type === undefined) throw new SerializationError(describeUnsupported(value));
    return [type.name, { ...value }];
  },
  read(data: unknown): unknown {
    if (!Array.isArray(data) || typeof data[0] !== 'string') {
      throw new SerializationError('malformed instance of a registered class');
    }
    const name: string = data[0];
    const type = typesByName.get(name);
    if (type === undefined) {
      throw new SerializationError(unregisteredMessage(name));
    }
    return Object.assign(Object.create(type.prototype) as object, data[1]);
  },
});
  msgpackr = lib;
  return lib;
}

function unregisteredMessage(name: string): string {
  return (
    `received an instance of the class the sender registered as "${name}", but no class is registered ` +
    'under that name here; call registerType at the top level of the module that defines the class, ' +
    'so that every worker registers it'
  );
}

function describeUnsupported(value: unknown): string {
  if (typeof value === 'function') {
    return `found a function${value.name ? ` (${value.name})` : ''}; functions cannot be sent to another thread or process`;
  }
  const proto: unknown = Object.getPrototypeOf(value);
  const ctor = (proto as { constructor?: unknown } | null)?.constructor;
  const name = typeof ctor === 'function' ? ctor.name : '';
  if (name === '') {
    return 'found an instance of an anonymous class, which would arrive without its prototype; ' +
      'give the class a name and call registerType(TheClass, "name") at the top level of its module';
  }
  return `found an instance of class ${name}, which would arrive without its prototype; ` +
    `call registerType(${name}) at the top level of the module that defines ${name}, so that every worker registers it`;
}

function encodingFailure(error: unknown, where: string | undefined): SerializationError {
  const context = where === undefined ? 'cannot serialize a value' : `cannot serialize a record of "${where}"`;
  if (error instanceof SerializationError) return new SerializationError(`${context}: ${error.message}`, { cause: error });
  if (error instanceof RangeError && /call stack/i.test(error.message)) {
    return new SerializationError(`${context}: it is cyclic or nested too deeply`, { cause: error });
  }
  const message = error instanceof Error ? error.message : String(error);
  const unknownType = /^Unknown type: (\w+)/.exec(message);
  if (unknownType !== null) {
    return new SerializationError(`${context}: found a ${unknownType[1]}, which cannot be sent to another thread or process`, {
      cause: error,
    });
  }
  return new SerializationError(`${context}: ${message}`, { cause: error });
}

function decodingFailure(error: unknown, where: string | undefined): SerializationError {
  const context = where === undefined ? 'cannot decode a batch' : `cannot decode a batch of "${where}"`;
  const message = error instanceof Error ? error.message : String(error);
  return new SerializationError(`${context}: ${message}`, { cause: error });
}

// ---------------------------------------------------------------------------------------------
// Options. msgpackr writes into the options object it is given, so every instance gets its own.

function streamOptions(): Options {
  // One-byte ids for up to 64 shapes; beyond that the oldest ids are reused, redefined inline.
  return { sequential: true, moreTypes: true, useToJSON: false, maxOwnStructures: 64, copyBuffers: true };
}

function oneShotOptions(): Options {
  return { moreTypes: true, useToJSON: false, copyBuffers: true };
}

const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

const FORMAT_VERSION = 2;
const HEADER_BYTES = 16;
const FLAG_RESET = 1;
const FLAG_TIMESTAMPS = 2;
const FLAG_NUMBERS = 4;
const FLAG_ROWS = 8;
const FLAG_KEY_GROUPS = 16;

// ---------------------------------------------------------------------------------------------
// The rows encoding. Tags, one byte before every value:

const T_UNDEFINED = 0;
const T_NULL = 1;
const T_FALSE = 2;
const T_TRUE = 3;
/** i32 */
const T_INT = 4;
/** f64 */
const T_FLOAT = 5;
/** length, UTF-8 bytes */
const T_STRING = 6;
/** u16 slot, length, UTF-8 bytes: a string, also stored in the dictionary at `slot` */
const T_STRING_DEF = 7;
/** u16 slot: the dictionary's string at `slot` */
const T_STRING_REF = 8;
/** u16 id, class name (length, bytes; empty: plain object), key count, keys (length, bytes), values */
const T_SHAPE_DEF = 9;
/** u16 id, values in the order of the shape's keys */
const T_OBJECT = 10;
/** length, values */
const T_ARRAY = 11;
// Lengths: one byte below 255, else 255 and a u32.

/** Dictionary slots, reused in turn (a clock). */
const DICT_SLOTS = 1024;
/** Longer strings are not worth a dictionary look-up. */
const DICT_MAX_LENGTH = 48;
/**
 * A field's dictionary score moves up by 2 on a hit and down by 1 on a miss, so it drifts down
 * when fewer than a third of its strings are found (a miss costs about what a hit saves). At or
 * below -SCORE_OFF the field writes its strings plainly and looks one in PROBE_EVERY up, to
 * notice when its strings start repeating; the score stays within [-SCORE_FLOOR, SCORE_CAP].
 * A field warming up (its first few hundred strings all new) keeps using the dictionary.
 */
const SCORE_CAP = 256;
const SCORE_OFF = 256;
const SCORE_FLOOR = 288;
const PROBE_EVERY = 64;
/** Shapes one stream may define; a stream with more goes the general way. */
const MAX_SHAPES = 4096;
/** Nesting deeper than this goes the general way (which reports cycles). */
const MAX_DEPTH = 64;
/** Batches that go the general way without trying rows, after one that could not use them. */
const ROWS_BACKOFF = 64;

interface WriteShape {
  readonly id: number;
  readonly keys: readonly string[];
  /** Per key: the dictionary score of its strings. */
  readonly scores: Int32Array;
  /** Writes the values of an object of this shape, in the order of its keys; false as `write`. */
  readonly fields: WriteFields;
}

type WriteFields = (w: RowWriter, o: object, depth: number) => boolean;

/**
 * The writer of one shape's values, compiled so that each field is read by its own name (one
 * property access per field, which stays fast for objects of one class where reading `o[key]`
 * with changing keys does not) and strings and numbers are written directly; a plain loop where
 * code generation is disallowed.
 */
function compileFields(keys: readonly string[], scores: Int32Array): WriteFields {
  try {
    const body = keys
      .map(
        (k, i) =>
          `v = o[${JSON.stringify(k)}]; if (typeof v === 'string') w.string(v, s, ${i}); else if (typeof v === 'number') w.number(v); else if (!w.write(v, d + 1)) return false;`,
      )
      .join('\n');
    return new Function('s', `return function fields(w, o, d) {\nlet v;\n${body}\nreturn true;\n};`)(scores) as WriteFields;
  } catch {
    return (w, o, depth) => {
      const record = o as Record<string, unknown>;
      for (let i = 0; i < keys.length; i++) {
        const v = record[keys[i]!];
        if (typeof v === 'string') w.string(v, scores, i);
        else if (typeof v === 'number') w.number(v);
        else if (!w.write(v, depth + 1)) return false;
      }
      return true;
    };
  }
}

/** The shapes of one prototype (Object.prototype or a registered class), the latest used first. */
interface ShapesOf {
  readonly typeName: string;
  last: WriteShape | undefined;
  readonly all: WriteShape[];
}

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder('utf-8', { ignoreBOM: true });
/**
 * Node's latin1 decoding of a byte range, called on any Uint8Array: for ASCII bytes (a subset of
 * latin1) the string they spell, made natively (about half the time of String.fromCharCode over a
 * subarray for short strings).
 */
const latin1Slice = (Buffer.prototype as unknown as { latin1Slice(this: Uint8Array, start: number, end: number): string }).latin1Slice;

/**
 * Writes records in the rows encoding. `write` answers false when a value needs the general
 * encoding; what it wrote is then to be discarded, and when it changed the stream's tables
 * (`changed`), the stream must start afresh.
 */
class RowWriter {
  #buf = new Uint8Array(1 << 16);
  #view = new DataView(this.#buf.buffer);
  pos = 0;
  /** The tables (shapes, dictionary) changed since the last `commit`. */
  changed = false;
  readonly #shapes = new Map<object, ShapesOf>();
  #shapeCount = 0;
  readonly #dict = new Map<string, number>();
  readonly #slots: (string | undefined)[] = new Array(DICT_SLOTS).fill(undefined);
  #nextSlot = 0;
  /** The dictionary score of strings outside objects. */
  readonly #looseScore = new Int32Array(1);
  #probe = 0;

  get bytes(): Uint8Array {
    return this.#buf;
  }

  /** Starts a batch at `at` (room before it is left for the header). */
  begin(at: number): void {
    this.#ensureAt(at, 0);
    this.pos = at;
  }

  commit(): void {
    this.changed = false;
  }

  #ensureAt(at: number, n: number): void {
    if (at + n <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < at + n) size *= 2;
    const bigger = new Uint8Array(size);
    bigger.set(this.#buf.subarray(0, this.pos));
    this.#buf = bigger;
    this.#view = new DataView(bigger.buffer);
  }

  #ensure(n: number): void {
    if (this.pos + n > this.#buf.length) this.#ensureAt(this.pos, n);
  }

  write(v: unknown, depth: number): boolean {
    switch (typeof v) {
      case 'number':
        this.number(v);
        return true;
      case 'string':
        this.string(v, this.#looseScore, 0);
        return true;
      case 'boolean':
        this.#ensure(1);
        this.#buf[this.pos++] = v ? T_TRUE : T_FALSE;
        return true;
      case 'undefined':
        this.#ensure(1);
        this.#buf[this.pos++] = T_UNDEFINED;
        return true;
      case 'object':
        if (v === null) {
          this.#ensure(1);
          this.#buf[this.pos++] = T_NULL;
          return true;
        }
        if (depth >= MAX_DEPTH) return false;
        return Array.isArray(v) ? this.#array(v, depth) : this.#object(v, depth);
      default:
        return false;
    }
  }

  /** A number: an int32 or a float64. */
  number(v: number): void {
    this.#ensure(9);
    // -0 is not an int32 here: it keeps its sign as a float.
    if ((v | 0) === v && (v !== 0 || 1 / v > 0)) {
      this.#buf[this.pos] = T_INT;
      this.#view.setInt32(this.pos + 1, v, true);
      this.pos += 5;
    } else {
      this.#buf[this.pos] = T_FLOAT;
      this.#view.setFloat64(this.pos + 1, v, true);
      this.pos += 9;
    }
  }

  #length(n: number): void {
    if (n < 255) this.#buf[this.pos++] = n;
    else {
      this.#buf[this.pos] = 255;
      this.#view.setUint32(this.pos + 1, n, true);
      this.pos += 5;
    }
  }

  /** Writes `s` as length and UTF-8 bytes. */
  #utf8(s: string): void {
    const len = s.length;
    this.#ensure(5 + len * 3);
    const buf = this.#buf;
    if (len < 255) {
      const start = this.pos + 1;
      let i = 0;
      for (; i < len; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        buf[start + i] = c;
      }
      if (i === len) {
        buf[this.pos] = len;
        this.pos = start + len;
        return;
      }
    }
    const { written } = textEncoder.encodeInto(s, buf.subarray(this.pos + 5));
    if (written < 255) {
      buf.copyWithin(this.pos + 1, this.pos + 5, this.pos + 5 + written);
      buf[this.pos] = written;
      this.pos += 1 + written;
    } else {
      buf[this.pos] = 255;
      this.#view.setUint32(this.pos + 1, written, true);
      this.pos += 5 + written;
    }
  }

  /** A tag followed by a 16-bit number (a dictionary slot or a shape id), little-endian. */
  #tagged(tag: number, n: number): void {
    this.#ensure(3);
    this.#buf[this.pos] = tag;
    this.#buf[this.pos + 1] = n & 0xff;
    this.#buf[this.pos + 2] = n >>> 8;
    this.pos += 3;
  }

  /** A string; `scores[i]` decides whether it goes through the dictionary, and learns from it. */
  string(s: string, scores: Int32Array, i: number): void {
    if (s.length <= DICT_MAX_LENGTH) {
      const score = scores[i]!;
      if (score > -SCORE_OFF || ++this.#probe % PROBE_EVERY === 0) {
        let slot = this.#dict.get(s);
        if (slot !== undefined) {
          if (score < SCORE_CAP) scores[i] = score + 2;
          this.#tagged(T_STRING_REF, slot);
          return;
        }
        if (score > -SCORE_FLOOR) scores[i] = score - 1;
        slot = this.#nextSlot;
        this.#nextSlot = slot + 1 === DICT_SLOTS ? 0 : slot + 1;
        const old = this.#slots[slot];
        if (old !== undefined) this.#dict.delete(old);
        this.#slots[slot] = s;
        this.#dict.set(s, slot);
        this.changed = true;
        this.#tagged(T_STRING_DEF, slot);
        this.#utf8(s);
        return;
      }
    }
    this.#ensure(1);
    this.#buf[this.pos++] = T_STRING;
    this.#utf8(s);
  }

  #array(a: unknown[], depth: number): boolean {
    if (Object.getPrototypeOf(a) !== Array.prototype) return false;
    const n = a.length;
    this.#ensure(6);
    this.#buf[this.pos++] = T_ARRAY;
    this.#length(n);
    for (let i = 0; i < n; i++) if (!this.write(a[i], depth + 1)) return false;
    return true;
  }

  /** The prototype of the latest object written, and its shapes. */
  #lastProto: object | null = null;
  #lastOf: ShapesOf | undefined;

  #object(o: object, depth: number): boolean {
    const proto = Object.getPrototypeOf(o) as object | null;
    if (proto === null) return false;
    let of = proto === this.#lastProto ? this.#lastOf : this.#shapes.get(proto);
    if (of === undefined) {
      let typeName = '';
      if (proto !== Object.prototype) {
        const type = typesByPrototype.get(proto);
        if (type === undefined) return false;
        typeName = type.name;
      }
      of = { typeName, last: undefined, all: [] };
      this.#shapes.set(proto, of);
    }
    this.#lastProto = proto;
    this.#lastOf = of;
    const keys = Object.keys(o);
    let shape = of.last;
    if (shape === undefined || !sameKeys(shape.keys, keys)) {
      shape = of.all.find((s) => sameKeys(s.keys, keys));
      if (shape === undefined) return this.#defineShape(o, of, keys, depth);
      of.last = shape;
    }
    this.#tagged(T_OBJECT, shape.id);
    return shape.fields(this, o, depth);
  }

  #defineShape(o: object, of: ShapesOf, keys: string[], depth: number): boolean {
    if (this.#shapeCount >= MAX_SHAPES || keys.includes('__proto__')) return false;
    const scores = new Int32Array(keys.length);
    const shape: WriteShape = { id: this.#shapeCount++, keys, scores, fields: compileFields(keys, scores) };
    of.all.push(shape);
    of.last = shape;
    this.changed = true;
    this.#tagged(T_SHAPE_DEF, shape.id);
    this.#utf8(of.typeName);
    this.#ensure(5);
    this.#length(keys.length);
    for (const k of keys) this.#utf8(k);
    return shape.fields(this, o, depth);
  }

}

function sameKeys(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Builds an object of one shape from the next values of a reader. */
type Build = (r: RowReader) => object;

/**
 * A builder per shape, compiled so that every object of a shape is made the same way (one
 * hidden class, fields stored by fixed name); plain loops where code generation is disallowed.
 */
function compileBuild(keys: readonly string[], proto: object | undefined): Build {
  try {
    const fields = keys.map((k) => JSON.stringify(k));
    if (proto === undefined) {
      return new Function('r', `return {${fields.map((f) => `${f}: r.value()`).join(', ')}};`) as Build;
    }
    const make = new Function('P', 'r', `const o = Object.create(P); ${fields.map((f) => `o[${f}] = r.value();`).join(' ')} return o;`);
    return (r) => make(proto, r) as object;
  } catch {
    return (r) => {
      const o = (proto === undefined ? {} : Object.create(proto)) as Record<string, unknown>;
      for (const k of keys) o[k] = r.value();
      return o;
    };
  }
}

/** Reads the rows encoding; one per decoder, keeping the stream's shapes and strings. */
class RowReader {
  #bytes: Uint8Array = new Uint8Array(0);
  #view: DataView = new DataView(this.#bytes.buffer);
  pos = 0;
  end = 0;
  #builds: Build[] = [];
  #slots: string[] = new Array<string>(DICT_SLOTS).fill('');

  reset(): void {
    this.#builds = [];
    this.#slots = new Array<string>(DICT_SLOTS).fill('');
  }

  begin(bytes: Uint8Array, at: number): void {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = at;
    this.end = bytes.byteLength;
  }

  value(): unknown {
    if (this.pos >= this.end) throw new SerializationError('a batch ended in the middle of a record');
    const bytes = this.#bytes;
    const tag = bytes[this.pos++];
    switch (tag) {
      case T_INT: {
        const v = this.#view.getInt32(this.pos, true);
        this.pos += 4;
        return v;
      }
      case T_FLOAT: {
        const v = this.#view.getFloat64(this.pos, true);
        this.pos += 8;
        return v;
      }
      case T_STRING_REF: {
        const slot = bytes[this.pos]! | (bytes[this.pos + 1]! << 8);
        this.pos += 2;
        return this.#slots[slot];
      }
      case T_OBJECT: {
        const id = bytes[this.pos]! | (bytes[this.pos + 1]! << 8);
        this.pos += 2;
        const build = this.#builds[id];
        if (build === undefined) throw new SerializationError(`a record refers to shape ${id}, which this stream never described`);
        return build(this);
      }
      case T_STRING:
        return this.#utf8();
      case T_STRING_DEF: {
        const slot = bytes[this.pos]! | (bytes[this.pos + 1]! << 8);
        this.pos += 2;
        if (slot >= DICT_SLOTS) throw new SerializationError(`string slot ${slot} out of range`);
        const s = this.#utf8();
        this.#slots[slot] = s;
        return s;
      }
      case T_NULL:
        return null;
      case T_UNDEFINED:
        return undefined;
      case T_FALSE:
        return false;
      case T_TRUE:
        return true;
      case T_ARRAY: {
        const n = this.#length();
        if (n > this.end - this.pos) throw new SerializationError(`an array of ${n} values does not fit in the batch`);
        const a: unknown[] = [];
        for (let i = 0; i < n; i++) a.push(this.value());
        return a;
      }
      case T_SHAPE_DEF: {
        const id = bytes[this.pos]! | (bytes[this.pos + 1]! << 8);
        this.pos += 2;
        const typeName = this.#utf8();
        let proto: object | undefined;
        if (typeName !== '') {
          const type = typesByName.get(typeName);
          if (type === undefined) throw new SerializationError(unregisteredMessage(typeName));
          proto = type.prototype;
        }
        const n = this.#length();
        const keys: string[] = [];
        for (let i = 0; i < n; i++) keys.push(this.#utf8());
        const build = compileBuild(keys, proto);
        this.#builds[id] = build;
        return build(this);
      }
      default:
        throw new SerializationError(`unknown value tag ${String(tag)}`);
    }
  }

  #length(): number {
    const n = this.#bytes[this.pos++]!;
    if (n < 255) return n;
    const long = this.#view.getUint32(this.pos, true);
    this.pos += 4;
    return long;
  }

  #utf8(): string {
    const n = this.#length();
    const start = this.pos;
    const stop = start + n;
    if (stop > this.end) throw new SerializationError(`a string of ${n} bytes does not fit in the batch`);
    this.pos = stop;
    const bytes = this.#bytes;
    if (n <= 32) {
      let ascii = true;
      for (let i = start; i < stop; i++) {
        if (bytes[i]! >= 0x80) {
          ascii = false;
          break;
        }
      }
      if (ascii) return latin1Slice.call(bytes, start, stop);
    }
    return textDecoder.decode(bytes.subarray(start, stop));
  }
}


/**
 * Encodes batches for one ordered channel; pair it with one RecordDecoder. After a failed
 * encode the next batch tells the decoder to start afresh, so a rejected record never leaves
 * the pair out of step.
 */
export class RecordEncoder {
  readonly #where: string | undefined;
  /** Created when the stream first needs the general encoding. */
  #packr: Packr | null = null;
  #rows = new RowWriter();
  /** Batches left to go the general way before rows are tried again. */
  #rowsBackoff = 0;
  #sequence = 0;
  #reset = true;

  /** `where` (the operator or edge) is named in error messages. */
  constructor(where?: string) {
    this.#where = where;
  }

  /** Forgets the stream's shapes and strings; the next batch tells the decoder to do the same. */
  #restart(): void {
    this.#packr = null;
    this.#rows = new RowWriter();
    this.#sequence = 0;
    this.#reset = true;
  }

  /**
   * Encodes values[0..count) and, when given, timestamps[0..count) and keyGroups[0..count).
   * Returns bytes owned by the caller, backed by an ArrayBuffer of their own, so they can be
   * transferred.
   */
  encode(values: readonly unknown[], timestamps: Float64Array | null, count: number, keyGroups: Uint16Array | null = null): Uint8Array {
    if (!Number.isInteger(count) || count < 0 || count > values.length) {
      throw new RangeError(`count must be an integer from 0 to values.length (${values.length}), got ${String(count)}`);
    }
    if (timestamps !== null && timestamps.length < count) {
      throw new RangeError(`timestamps has ${timestamps.length} entries, fewer than count (${count})`);
    }
    if (keyGroups !== null && keyGroups.length < count) {
      throw new RangeError(`keyGroups has ${keyGroups.length} entries, fewer than count (${count})`);
    }
    const timestampBytes = timestamps === null ? 0 : count * 8;
    const keyGroupBytes = keyGroups === null ? 0 : keyGroupSpan(count);
    const at = HEADER_BYTES + timestampBytes + keyGroupBytes;
    let out: Uint8Array;
    let kind: number;
    if (count > 0 && allNumbers(values, count)) {
      kind = FLAG_NUMBERS;
      out = new Uint8Array(at + count * 8);
      if (HOST_IS_LITTLE_ENDIAN) new Float64Array(out.buffer, at, count).set(values.length === count ? (values as number[]) : values.slice(0, count) as number[]);
      else {
        const view = new DataView(out.buffer);
        for (let i = 0; i < count; i++) view.setFloat64(at + i * 8, values[i] as number, true);
      }
    } else {
      const rows = this.#rowsBackoff === 0 ? this.#encodeRows(values, count, at) : undefined;
      if (rows !== undefined) {
        kind = FLAG_ROWS;
        out = rows;
      } else {
        if (this.#rowsBackoff > 0) this.#rowsBackoff--;
        kind = 0;
        const payload = this.#encodeGeneral(values, count);
        out = new Uint8Array(at + payload.length);
        out.set(payload, at);
      }
    }

    const view = new DataView(out.buffer);
    view.setUint8(0, FORMAT_VERSION);
    view.setUint8(1, (this.#reset ? FLAG_RESET : 0) | (timestamps === null ? 0 : FLAG_TIMESTAMPS) | (keyGroups === null ? 0 : FLAG_KEY_GROUPS) | kind);
    view.setUint32(4, count, true);
    view.setUint32(8, this.#sequence, true);
    if (timestamps !== null) {
      if (HOST_IS_LITTLE_ENDIAN) {
        out.set(new Uint8Array(timestamps.buffer, timestamps.byteOffset, timestampBytes), HEADER_BYTES);
      } else {
        for (let i = 0; i < count; i++) view.setFloat64(HEADER_BYTES + i * 8, timestamps[i]!, true);
      }
    }
    if (keyGroups !== null) {
      const from = HEADER_BYTES + timestampBytes;
      if (HOST_IS_LITTLE_ENDIAN) out.set(new Uint8Array(keyGroups.buffer, keyGroups.byteOffset, count * 2), from);
      else for (let i = 0; i < count; i++) view.setUint16(from + i * 2, keyGroups[i]!, true);
    }
    this.#sequence = (this.#sequence + 1) >>> 0;
    this.#reset = false;
    return out;
  }

  /**
   * The batch in the rows encoding, with `at` bytes left free in front; undefined when a record
   * needs the general encoding (then rows rest for a while, and the stream starts afresh if
   * the attempt had changed its tables).
   */
  #encodeRows(values: readonly unknown[], count: number, at: number): Uint8Array | undefined {
    const rows = this.#rows;
    rows.begin(at);
    for (let i = 0; i < count; i++) {
      if (!rows.write(values[i], 0)) {
        this.#rowsBackoff = ROWS_BACKOFF;
        if (rows.changed) this.#restart();
        return undefined;
      }
    }
    rows.commit();
    return rows.bytes.slice(0, rows.pos);
  }

  #encodeGeneral(values: readonly unknown[], count: number): Uint8Array {
    const batch = count === values.length && Array.isArray(values) && values.constructor === Array ? values : values.slice(0, count);
    strictEncoders++;
    try {
      this.#packr ??= new (loadMsgpackr().Packr)(streamOptions());
      return this.#packr.pack(batch);
    } catch (error) {
      // The failed batch may have defined shapes the decoder will never see.
      this.#restart();
      throw encodingFailure(error, this.#where);
    } finally {
      strictEncoders--;
    }
  }
}

/** Bytes of `count` key groups in a batch: two each, padded to keep the records 8-byte aligned. */
function keyGroupSpan(count: number): number {
  return (count * 2 + 7) & ~7;
}

function allNumbers(values: readonly unknown[], count: number): boolean {
  for (let i = 0; i < count; i++) if (typeof values[i] !== 'number') return false;
  return true;
}

/** A decoded batch: the records and, when the batch carried them, their timestamps and key groups. */
export interface DecodedBatch {
  values: unknown[];
  timestamps: Float64Array | null;
  keyGroups: Uint16Array | null;
}

/**
 * Decodes the batches of one RecordEncoder, which must be given to it in the order they were
 * encoded, none left out. A batch that is out of order, missing or corrupt is an error, and
 * so is every later batch until the encoder starts afresh. A batch that starts afresh always
 * restarts the decoder, whatever came before.
 */
export class RecordDecoder {
  readonly #where: string | undefined;
  /** Whether a first batch (one that starts afresh) arrived. */
  #started = false;
  /** Created when the stream first uses the general encoding after it started afresh (as its encoder's). */
  #unpackr: Unpackr | null = null;
  readonly #rows = new RowReader();
  #expected = 0;
  #failure: string | null = null;

  /** `where` (the operator or edge) is named in error messages. */
  constructor(where?: string) {
    this.#where = where;
  }

  decode(bytes: Uint8Array): DecodedBatch {
    if (bytes.byteLength < HEADER_BYTES) throw decodingFailure(`${bytes.byteLength} bytes is too short for a batch`, this.#where);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const version = view.getUint8(0);
    if (version !== FORMAT_VERSION) throw decodingFailure(`unknown format version ${version}`, this.#where);
    const flags = view.getUint8(1);
    const count = view.getUint32(4, true);
    const sequence = view.getUint32(8, true);

    if ((flags & FLAG_RESET) !== 0) {
      this.#started = true;
      this.#unpackr = null;
      this.#rows.reset();
      this.#expected = 0;
      this.#failure = null;
    } else if (!this.#started) {
      throw decodingFailure('the first batch received is not the first batch of its encoder', this.#where);
    } else if (this.#failure !== null) {
      throw decodingFailure(`an earlier batch failed (${this.#failure}), so later ones cannot be read`, this.#where);
    }
    if (sequence !== this.#expected) {
      this.#failure = `batch ${sequence} arrived where batch ${this.#expected} was expected`;
      throw decodingFailure(`${this.#failure}: batches were lost, reordered or sent to another decoder`, this.#where);
    }

    const hasTimestamps = (flags & FLAG_TIMESTAMPS) !== 0;
    const timestampBytes = hasTimestamps ? count * 8 : 0;
    const hasKeyGroups = (flags & FLAG_KEY_GROUPS) !== 0;
    const at = HEADER_BYTES + timestampBytes + (hasKeyGroups ? keyGroupSpan(count) : 0);
    const kind = flags & (FLAG_NUMBERS | FLAG_ROWS);
    const least = kind === FLAG_NUMBERS ? at + count * 8 : kind === FLAG_ROWS ? at + count : at + 1;
    if (bytes.byteLength < least) {
      this.#failure = 'a batch was truncated';
      throw decodingFailure(`${bytes.byteLength} bytes is too short for a batch of ${count} records`, this.#where);
    }
    let timestamps: Float64Array | null = null;
    if (hasTimestamps) {
      timestamps = new Float64Array(count);
      if (HOST_IS_LITTLE_ENDIAN) {
        new Uint8Array(timestamps.buffer).set(bytes.subarray(HEADER_BYTES, HEADER_BYTES + timestampBytes));
      } else {
        for (let i = 0; i < count; i++) timestamps[i] = view.getFloat64(HEADER_BYTES + i * 8, true);
      }
    }
    let keyGroups: Uint16Array | null = null;
    if (hasKeyGroups) {
      const from = HEADER_BYTES + timestampBytes;
      keyGroups = new Uint16Array(count);
      if (HOST_IS_LITTLE_ENDIAN) new Uint8Array(keyGroups.buffer).set(bytes.subarray(from, from + count * 2));
      else for (let i = 0; i < count; i++) keyGroups[i] = view.getUint16(from + i * 2, true);
    }

    let values: unknown;
    try {
      if (kind === FLAG_NUMBERS) values = readNumbers(bytes, view, at, count);
      else if (kind === FLAG_ROWS) values = this.#readRows(bytes, at, count);
      else {
        this.#unpackr ??= new (loadMsgpackr().Unpackr)(streamOptions());
        values = this.#unpackr.unpack(bytes.subarray(at));
      }
    } catch (error) {
      this.#failure = error instanceof Error ? error.message : String(error);
      throw decodingFailure(error, this.#where);
    }
    if (!Array.isArray(values) || values.length !== count) {
      this.#failure = 'a batch did not hold the records its header announced';
      throw decodingFailure(`${this.#failure} (${count})`, this.#where);
    }
    this.#expected = (sequence + 1) >>> 0;
    return { values, timestamps, keyGroups };
  }

  #readRows(bytes: Uint8Array, at: number, count: number): unknown[] {
    const rows = this.#rows;
    rows.begin(bytes, at);
    const values: unknown[] = [];
    for (let i = 0; i < count; i++) values.push(rows.value());
    if (rows.pos !== rows.end) throw new SerializationError(`${rows.end - rows.pos} bytes left over after the batch's ${count} records`);
    return values;
  }
}

/** The records of a numbers batch: float64 values from `at` on. */
function readNumbers(bytes: Uint8Array, view: DataView, at: number, count: number): number[] {
  const values: number[] = [];
  if (bytes.byteLength !== at + count * 8) throw new SerializationError(`a batch of ${count} numbers has ${bytes.byteLength - at} bytes of records`);
  if (HOST_IS_LITTLE_ENDIAN && (bytes.byteOffset + at) % 8 === 0) {
    const numbers = new Float64Array(bytes.buffer, bytes.byteOffset + at, count);
    for (let i = 0; i < count; i++) values.push(numbers[i]!);
  } else {
    for (let i = 0; i < count; i++) values.push(view.getFloat64(at + i * 8, true));
  }
  return values;
}

// ---------------------------------------------------------------------------------------------
// One-shot encoding, for snapshots and tests: every result decodes on its own.

let oneShotPackr: Packr | null = null;
let oneShotUnpackr: Unpackr | null = null;

/** Encodes one value into bytes that decode without any other context. */
export function encodeValue(value: unknown): Uint8Array {
  strictEncoders++;
  try {
    // Copied: msgpackr returns a view into a buffer it reuses.
    oneShotPackr ??= new (loadMsgpackr().Packr)(oneShotOptions());
    return new Uint8Array(oneShotPackr.pack(value));
  } catch (error) {
    oneShotPackr = null;
    throw encodingFailure(error, undefined);
  } finally {
    strictEncoders--;
  }
}

/** Decodes bytes made by `encodeValue`. */
export function decodeValue(bytes: Uint8Array): unknown {
  try {
    oneShotUnpackr ??= new (loadMsgpackr().Unpackr)(oneShotOptions());
    return oneShotUnpackr.unpack(bytes);
  } catch (error) {
    throw new SerializationError(`cannot decode a value: ${error instanceof Error ? error.message : String(error)}`, {
      cause: error,
    });
  }
}
