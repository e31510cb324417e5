/**
 * Serialisation of stream records for channels between threads and processes.
 *
 * Records are encoded with MessagePack (msgpackr) and its record extension: an object shape is
 * described once and later objects of that shape are written as values only. A channel is an
 * ordered stream, so a RecordEncoder and the RecordDecoder at the other end keep the shapes
 * they have seen between batches; a stream of small batches then costs little more than the
 * values themselves.
 *
 * What survives the trip: strings (as UTF-8, so a lone surrogate arrives as U+FFFD
 * characters), numbers (except that -0 arrives as 0), bigints of any size, booleans, null,
 * undefined, plain objects and arrays, Date, Map, Set, RegExp, built-in Errors (name, message
 * and cause), ArrayBuffer, typed arrays (a Buffer arrives as a plain Uint8Array), and instances
 * of classes given to `registerType`. Objects arrive with their own enumerable string-keyed
 * properties only; shared references arrive as separate copies, and a cycle is an error.
 * Functions, symbols and instances of unregistered classes are refused at any depth, since
 * sending them would silently lose data.
 *
 * Batch layout (little-endian):
 *   0  u8   format version
 *   1  u8   flags: 1 = the decoder must forget the shapes it knows; 2 = timestamps follow
 *   2  u16  zero
 *   4  u32  number of records
 *   8  u32  batch sequence number since the last reset
 *  12  u32  zero
 *  16  f64 × count timestamps, when flagged
 *  ..  MessagePack array of the records
 *
 * The sequence number lets a decoder notice a lost, repeated or reordered batch instead of
 * misreading shapes; the reset flag lets an encoder start afresh (first batch, or after a
 * failed encode) without a separate control message.
 */

import { Packr, Unpackr, addExtension } from 'msgpackr';
import type { Options } from 'msgpackr';

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

addExtension({
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
      throw new SerializationError(
        `received an instance of the class the sender registered as "${name}", but no class is registered ` +
          'under that name here; call registerType at the top level of the module that defines the class, ' +
          'so that every worker registers it',
      );
    }
    return Object.assign(Object.create(type.prototype) as object, data[1]);
  },
});

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

const FORMAT_VERSION = 1;
const HEADER_BYTES = 16;
const FLAG_RESET = 1;
const FLAG_TIMESTAMPS = 2;

/**
 * Encodes batches for one ordered channel; pair it with one RecordDecoder. After a failed
 * encode the next batch tells the decoder to start afresh, so a rejected record never leaves
 * the pair out of step.
 */
export class RecordEncoder {
  readonly #where: string | undefined;
  #packr = new Packr(streamOptions());
  #sequence = 0;
  #reset = true;

  /** `where` (the operator or edge) is named in error messages. */
  constructor(where?: string) {
    this.#where = where;
  }

  /**
   * Encodes values[0..count) and, when given, timestamps[0..count). Returns bytes owned by the
   * caller, backed by an ArrayBuffer of their own, so they can be transferred.
   */
  encode(values: readonly unknown[], timestamps: Float64Array | null, count: number): Uint8Array {
    if (!Number.isInteger(count) || count < 0 || count > values.length) {
      throw new RangeError(`count must be an integer from 0 to values.length (${values.length}), got ${String(count)}`);
    }
    if (timestamps !== null && timestamps.length < count) {
      throw new RangeError(`timestamps has ${timestamps.length} entries, fewer than count (${count})`);
    }
    const batch = count === values.length && Array.isArray(values) && values.constructor === Array ? values : values.slice(0, count);
    let payload: Uint8Array;
    strictEncoders++;
    try {
      payload = this.#packr.pack(batch);
    } catch (error) {
      // The failed batch may have defined shapes the decoder will never see.
      this.#packr = new Packr(streamOptions());
      this.#sequence = 0;
      this.#reset = true;
      throw encodingFailure(error, this.#where);
    } finally {
      strictEncoders--;
    }

    const timestampBytes = timestamps === null ? 0 : count * 8;
    const out = new Uint8Array(HEADER_BYTES + timestampBytes + payload.length);
    const view = new DataView(out.buffer);
    view.setUint8(0, FORMAT_VERSION);
    view.setUint8(1, (this.#reset ? FLAG_RESET : 0) | (timestamps === null ? 0 : FLAG_TIMESTAMPS));
    view.setUint32(4, count, true);
    view.setUint32(8, this.#sequence, true);
    if (timestamps !== null) {
      if (HOST_IS_LITTLE_ENDIAN) {
        out.set(new Uint8Array(timestamps.buffer, timestamps.byteOffset, timestampBytes), HEADER_BYTES);
      } else {
        for (let i = 0; i < count; i++) view.setFloat64(HEADER_BYTES + i * 8, timestamps[i]!, true);
      }
    }
    out.set(payload, HEADER_BYTES + timestampBytes);
    this.#sequence = (this.#sequence + 1) >>> 0;
    this.#reset = false;
    return out;
  }
}

/** A decoded batch: the records and, when the batch carried them, their timestamps. */
export interface DecodedBatch {
  values: unknown[];
  timestamps: Float64Array | null;
}

/**
 * Decodes the batches of one RecordEncoder, which must be given to it in the order they were
 * encoded, none left out. A batch that is out of order, missing or corrupt is an error, and
 * so is every later batch until the encoder starts afresh. A batch that starts afresh always
 * restarts the decoder, whatever came before.
 */
export class RecordDecoder {
  readonly #where: string | undefined;
  #unpackr: Unpackr | null = null;
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
      this.#unpackr = new Unpackr(streamOptions());
      this.#expected = 0;
      this.#failure = null;
    } else if (this.#unpackr === null) {
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
    if (bytes.byteLength < HEADER_BYTES + timestampBytes + 1) {
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

    let values: unknown;
    try {
      values = this.#unpackr!.unpack(bytes.subarray(HEADER_BYTES + timestampBytes));
    } catch (error) {
      this.#failure = error instanceof Error ? error.message : String(error);
      throw decodingFailure(error, this.#where);
    }
    if (!Array.isArray(values) || values.length !== count) {
      this.#failure = 'a batch did not hold the records its header announced';
      throw decodingFailure(`${this.#failure} (${count})`, this.#where);
    }
    this.#expected = (sequence + 1) >>> 0;
    return { values, timestamps };
  }
}

// ---------------------------------------------------------------------------------------------
// One-shot encoding, for snapshots and tests: every result decodes on its own.

let oneShotPackr = new Packr(oneShotOptions());
const oneShotUnpackr = new Unpackr(oneShotOptions());

/** Encodes one value into bytes that decode without any other context. */
export function encodeValue(value: unknown): Uint8Array {
  strictEncoders++;
  try {
    // Copied: msgpackr returns a view into a buffer it reuses.
    return new Uint8Array(oneShotPackr.pack(value));
  } catch (error) {
    oneShotPackr = new Packr(oneShotOptions());
    throw encodingFailure(error, undefined);
  } finally {
    strictEncoders--;
  }
}

/** Decodes bytes made by `encodeValue`. */
export function decodeValue(bytes: Uint8Array): unknown {
  try {
    return oneShotUnpackr.unpack(bytes);
  } catch (error) {
    throw new SerializationError(`cannot decode a value: ${error instanceof Error ? error.message : String(error)}`, {
      cause: error,
    });
  }
}
