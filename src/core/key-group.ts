/**
 * Keys and key groups, after Flink's KeyGroupRangeAssignment.
 *
 * Every key hashes to one of `maxParallelism` key groups; each parallel instance of a keyed
 * operator owns a contiguous range of key groups. Key groups, not keys, are the unit of state
 * redistribution when a job is rescaled, so `maxParallelism` bounds the parallelism a job can
 * ever be rescaled to and must stay fixed for the lifetime of its state.
 *
 * Key hashes decide which subtask owns which state, and snapshots are split along them, so
 * they must be identical in every thread, every process and every run: they are computed from
 * the key's value only, with fixed seeds and integer arithmetic that JavaScript specifies
 * exactly.
 */

/** A key as it is used for lookups: the result of `canonicalKey`. */
export type PrimitiveKey = string | number | bigint | boolean;

/** What a key selector may return: a primitive key, or a tuple of keys, nested arbitrarily. */
export type Key = PrimitiveKey | readonly Key[];

/** Flink's upper bound on maxParallelism (2^15). */
export const UPPER_BOUND_MAX_PARALLELISM = 32768;

/** The smallest maxParallelism chosen by default, so that small jobs can still scale out. */
const DEFAULT_LOWER_BOUND_MAX_PARALLELISM = 128;

/** A key selector returned something that cannot be a key. */
export class KeyError extends Error {
  /** The operator whose key was rejected, when known. */
  readonly where: string | undefined;

  constructor(message: string, options?: { where?: string; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'KeyError';
    this.where = options?.where;
  }
}

const KEY_RULE = 'keys must be string, number, bigint, boolean or an array of those';

// Canonical forms of arrays start with ARRAY_MARK; user strings that happen to start with
// ARRAY_MARK get one more ARRAY_MARK in front, so that no user string can equal an array's
// form. The second character tells them apart: '[' for an array, ARRAY_MARK for an escaped string.
const ARRAY_MARK = '\u0000';
const ARRAY_MARK_CODE = 0;

/**
 * Validates a key and returns a value that is `===` equal for equal keys, usable as a Map key.
 * Primitives are returned unchanged (-0 becomes 0); arrays become a canonical string. Number 1,
 * bigint 1n, string '1' and boolean true stay distinct keys. Throws a KeyError naming `where`
 * for undefined, null, NaN, ±Infinity, objects, functions and symbols, at any depth.
 */
export function canonicalKey(key: unknown, where?: string): PrimitiveKey {
  switch (typeof key) {
    case 'string':
      return key.charCodeAt(0) === ARRAY_MARK_CODE ? ARRAY_MARK + key : key;
    case 'number':
      if (key === 0) return 0;
      if (key - key === 0) return key;
      break;
    case 'bigint':
    case 'boolean':
      return key;
    case 'object':
      if (Array.isArray(key)) return ARRAY_MARK + canonicalArray(key, new Walk(key, where));
      break;
  }
  throw invalidKey(key, where, null);
}

function canonicalArray(array: readonly unknown[], walk: Walk): string {
  walk.enter(array);
  let out = '[';
  for (let i = 0; i < array.length; i++) {
    const element = array[i];
    switch (typeof element) {
      case 'string':
        // Length-prefixed, so that no content can be mistaken for structure.
        out += 's' + element.length + ':' + element;
        continue;
      case 'number':
        if (element - element === 0) {
          // String(n) is the shortest text that parses back to n, so it is unique per value.
          out += 'n' + (element === 0 ? '0' : String(element)) + ';';
          continue;
        }
        break;
      case 'bigint':
        out += 'b' + element.toString() + ';';
        continue;
      case 'boolean':
        out += element ? 't' : 'f';
        continue;
      case 'object':
        if (Array.isArray(element)) {
          walk.path.push(i);
          out += canonicalArray(element, walk);
          walk.path.pop();
          continue;
        }
        break;
    }
    walk.path.push(i);
    throw invalidKey(walk.root, walk.where, element, walk.path);
  }
  walk.leave();
  return out + ']';
}

/**
 * The inverse of `canonicalKey`: returns the key a canonical form was made from (arrays are
 * rebuilt as new arrays). Lets state keep only canonical keys and still hand user code the
 * original key, e.g. when a timer fires.
 */
export function decodeCanonicalKey(canonical: PrimitiveKey): Key {
  if (typeof canonical !== 'string' || canonical.charCodeAt(0) !== ARRAY_MARK_CODE) return canonical;
  if (canonical.charCodeAt(1) === ARRAY_MARK_CODE) return canonical.slice(1);
  const reader = { text: canonical, pos: 1 };
  const key = readCanonicalArray(reader);
  if (reader.pos !== canonical.length) throw malformedCanonical(canonical);
  return key;
}

function readCanonicalArray(r: { text: string; pos: number }): Key[] {
  const { text } = r;
  if (text[r.pos] !== '[') throw malformedCanonical(text);
  r.pos++;
  const out: Key[] = [];
  for (;;) {
    const tag = text[r.pos];
    switch (tag) {
      case ']':
        r.pos++;
        return out;
      case '[':
        out.push(readCanonicalArray(r));
        continue;
      case 't':
      case 'f':
        out.push(tag === 't');
        r.pos++;
        continue;
      case 's': {
        const colon = text.indexOf(':', r.pos);
        const length = Number(text.slice(r.pos + 1, colon));
        if (colon < 0 || !Number.isSafeInteger(length) || colon + 1 + length > text.length) {
          throw malformedCanonical(text);
        }
        out.push(text.slice(colon + 1, colon + 1 + length));
        r.pos = colon + 1 + length;
        continue;
      }
      case 'n':
      case 'b': {
        const end = text.indexOf(';', r.pos);
        if (end < 0) throw malformedCanonical(text);
        const literal = text.slice(r.pos + 1, end);
        out.push(tag === 'n' ? Number(literal) : BigInt(literal));
        r.pos = end + 1;
        continue;
      }
      default:
        throw malformedCanonical(text);
    }
  }
}

function malformedCanonical(text: string): KeyError {
  return new KeyError(`not a canonical key: ${JSON.stringify(text)}`);
}

// ---------------------------------------------------------------------------------------------
// Hashing: MurmurHash3 (x86, 32-bit) over a type tag and the key's value. Each kind of key has
// its own seed, so equal-looking keys of different types (1, 1n, '1', true) hash apart.

const C1 = 0xcc9e2d51 | 0;
const C2 = 0x1b873593 | 0;

const SEED_STRING = 0x5f3a1c27;
const SEED_INTEGER = 0x2b6e9d41;
const SEED_FLOAT = 0x71c4e0b3 | 0;
const SEED_BIGINT = 0x4d8a25f9;
const SEED_BOOLEAN = 0x19e7b6c5;
const SEED_ARRAY = 0x63d0f48e;

function mixK(k: number): number {
  k = Math.imul(k, C1);
  k = (k << 15) | (k >>> 17);
  return Math.imul(k, C2);
}

function mixH(h: number, k: number): number {
  h ^= mixK(k);
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/** murmur3's 32-bit finaliser (signed result): spreads every input bit over the output. */
export function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h | 0;
}

// Scratch space for reading a double's bits; explicit little-endian access keeps the result
// the same on hosts of either byte order.
const floatScratch = new DataView(new ArrayBuffer(8));

/**
 * A stable 32-bit signed hash of a key: the same in every thread, process and run, and across
 * Node versions. Validates like `canonicalKey` and throws the same KeyError.
 *
 * Strings hash their UTF-16 code units; integers in the safe range hash their 64-bit two's
 * complement value (so -0 and 0 agree); other numbers hash their float64 bits; bigints hash
 * their 32-bit limbs and sign; arrays combine their elements' hashes in order.
 */
export function hashKey(key: unknown, where?: string): number {
  if (typeof key === 'string') return hashString(key);
  // The commonest keys, int32 numbers, without the general path (which V8 does not inline):
  // their int64 words are the number itself and its sign, as the general path computes them.
  if (typeof key === 'number' && (key | 0) === key) return hashWords(SEED_INTEGER, key, key >> 31);
  return hashNonString(key, null, where);
}

function hashString(s: string): number {
  const n = s.length;
  let h = SEED_STRING;
  let i = 0;
  for (const pairs = n & ~1; i < pairs; i += 2) {
    h = mixH(h, s.charCodeAt(i) | (s.charCodeAt(i + 1) << 16));
  }
  if (i < n) h ^= mixK(s.charCodeAt(i));
  return fmix(h ^ (n << 1));
}

function hashNonString(key: unknown, walk: Walk | null, where: string | undefined): number {
  switch (typeof key) {
    case 'string':
      return hashString(key);
    case 'number':
      if (Number.isSafeInteger(key)) {
        return hashWords(SEED_INTEGER, key >>> 0, Math.floor(key / 4294967296) | 0);
      }
      if (key - key === 0) {
        floatScratch.setFloat64(0, key, true);
        return hashWords(SEED_FLOAT, floatScratch.getInt32(0, true), floatScratch.getInt32(4, true));
      }
      break;
    case 'bigint':
      return hashBigInt(key);
    case 'boolean':
      return fmix(mixH(SEED_BOOLEAN, key ? 1 : 0) ^ 4);
    case 'object':
      if (Array.isArray(key)) return hashArray(key, walk ?? new Walk(key, where));
      break;
  }
  if (walk === null) throw invalidKey(key, where, null);
  throw invalidKey(walk.root, walk.where, key, walk.path);
}

function hashWords(seed: number, low: number, high: number): number {
  return fmix(mixH(mixH(seed, low), high) ^ 8);
}

function hashBigInt(value: bigint): number {
  // Two's complement limbs, least significant first, until only sign extension is left;
  // at least two, so that bigints in the int64 range are hashed uniformly.
  let h = SEED_BIGINT;
  let limbs = 0;
  let rest = value;
  do {
    h = mixH(h, Number(BigInt.asIntN(32, rest)));
    rest >>= 32n;
    limbs++;
  } while (limbs < 2 || (rest !== 0n && rest !== -1n));
  h = mixH(h, rest === 0n ? 0 : -1);
  return fmix(h ^ ((limbs + 1) << 2));
}

function hashArray(array: readonly unknown[], walk: Walk): number {
  walk.enter(array);
  let h = SEED_ARRAY;
  for (let i = 0; i < array.length; i++) {
    walk.path.push(i);
    h = mixH(h, hashNonString(array[i], walk, walk.where));
    walk.path.pop();
  }
  walk.leave();
  return fmix(h ^ array.length);
}

/** State of a walk through an array key: for cycle detection and for naming a bad element. */
class Walk {
  readonly path: number[] = [];
  readonly #open: unknown[] = [];

  constructor(
    readonly root: unknown,
    readonly where: string | undefined,
  ) {}

  enter(array: readonly unknown[]): void {
    if (this.#open.includes(array)) {
      throw new KeyError(`${prefix(this.where)}key selector returned an array that contains itself (${KEY_RULE})`, {
        ...(this.where === undefined ? {} : { where: this.where }),
      });
    }
    this.#open.push(array);
  }

  leave(): void {
    this.#open.pop();
  }
}

function prefix(where: string | undefined): string {
  return where === undefined ? '' : `keyBy in "${where}": `;
}

function invalidKey(root: unknown, where: string | undefined, element: unknown, path?: readonly number[]): KeyError {
  const what =
    path === undefined || path.length === 0
      ? describe(root)
      : `an array with ${describe(element)} at ${path.map((i) => `[${i}]`).join('')}`;
  return new KeyError(`${prefix(where)}key selector returned ${what} (${KEY_RULE})`, {
    ...(where === undefined ? {} : { where }),
  });
}

function describe(value: unknown): string {
  switch (typeof value) {
    case 'undefined':
      return 'undefined';
    case 'number':
      return String(value);
    case 'function':
      return value.name ? `a function (${value.name})` : 'a function';
    case 'symbol':
      return `a symbol (${value.toString()})`;
    case 'object': {
      if (value === null) return 'null';
      const proto: unknown = Object.getPrototypeOf(value);
      if (proto === null) return 'an object with a null prototype';
      if (proto === Object.prototype) return 'a plain object';
      const ctor = (proto as { constructor?: unknown }).constructor;
      const name = typeof ctor === 'function' && ctor.name ? ctor.name : 'an anonymous class';
      return `an instance of ${name}`;
    }
    default:
      return typeof value;
  }
}

// ---------------------------------------------------------------------------------------------
// Key groups and their assignment to operator instances (Flink's KeyGroupRangeAssignment).

/**
 * Flink's MathUtils.murmurHash(int): the MurmurHash3 32-bit mix of one int (seed 0), made
 * non-negative the way Flink does it (negated; Integer.MIN_VALUE becomes 0), so key groups
 * computed from the same int agree with Flink's.
 */
export function murmurHash(code: number): number {
  const h = fmix(mixH(0, code | 0) ^ 4);
  // |h| in int32 arithmetic without a branch: (h ^ sign) - sign; Integer.MIN_VALUE stays
  // negative there and becomes 0. Written as `h >= 0 ? h : -h`, V8 has to allow for -0 and
  // 2^31 and leaves int32 arithmetic: a key's group took about three times as long.
  const sign = h >> 31;
  const abs = ((h ^ sign) - sign) | 0;
  return abs < 0 ? 0 : abs;
}

/** The key group of a key hash. `maxParallelism` must be valid (see `validateParallelism`). */
export function computeKeyGroupForKeyHash(keyHash: number, maxParallelism: number): number {
  return murmurHash(keyHash) % maxParallelism;
}

/** The key group of a key; throws a KeyError naming `where` for an invalid key. */
export function assignToKeyGroup(key: unknown, maxParallelism: number, where?: string): number {
  return murmurHash(hashKey(key, where)) % maxParallelism;
}

/** The operator instance that owns a key group: keyGroup * parallelism / maxParallelism, rounded down. */
export function computeOperatorIndexForKeyGroup(maxParallelism: number, parallelism: number, keyGroup: number): number {
  return Math.floor((keyGroup * parallelism) / maxParallelism);
}

/** Key groups `start..end`, both inclusive; empty when end < start. */
export interface KeyGroupRange {
  readonly start: number;
  readonly end: number;
}

/**
 * The key groups owned by one operator instance, as Flink assigns them: contiguous ranges that
 * together cover 0..maxParallelism-1, in operator index order, with sizes that differ by at most one.
 */
export function keyGroupRangeForOperator(maxParallelism: number, parallelism: number, operatorIndex: number): KeyGroupRange {
  checkMaxParallelism(maxParallelism, undefined);
  checkParallelism(parallelism, maxParallelism, undefined);
  if (!Number.isInteger(operatorIndex) || operatorIndex < 0 || operatorIndex >= parallelism) {
    throw new RangeError(
      `operatorIndex must be an integer from 0 to parallelism - 1 (${parallelism - 1}), got ${String(operatorIndex)}`,
    );
  }
  return {
    start: Math.floor((operatorIndex * maxParallelism + parallelism - 1) / parallelism),
    end: Math.floor(((operatorIndex + 1) * maxParallelism + parallelism - 1) / parallelism) - 1,
  };
}

/** The number of key groups in a range (0 when empty). */
export function keyGroupRangeSize(range: KeyGroupRange): number {
  return range.end < range.start ? 0 : range.end - range.start + 1;
}

/** Whether a range includes a key group. */
export function keyGroupRangeContains(range: KeyGroupRange, keyGroup: number): boolean {
  return keyGroup >= range.start && keyGroup <= range.end;
}

/**
 * Flink's default maxParallelism for an operator: 1.5 × parallelism rounded up to a power of
 * two, at least 128 and at most 32768, leaving room to scale out later.
 */
export function defaultMaxParallelism(parallelism: number): number {
  if (!Number.isInteger(parallelism) || parallelism < 1) {
    throw new RangeError(`parallelism must be a positive integer, got ${String(parallelism)}`);
  }
  const wanted = parallelism + Math.floor(parallelism / 2);
  if (wanted >= UPPER_BOUND_MAX_PARALLELISM) return UPPER_BOUND_MAX_PARALLELISM;
  const powerOfTwo = wanted <= 1 ? 1 : 2 ** (32 - Math.clz32(wanted - 1));
  return Math.max(powerOfTwo, DEFAULT_LOWER_BOUND_MAX_PARALLELISM);
}

/**
 * Checks an operator's parallelism settings: both integers, 1 <= parallelism <= maxParallelism
 * <= 32768. Throws a RangeError that names the setting and `where` (the operator).
 */
export function validateParallelism(parallelism: number, maxParallelism: number, where: string): void {
  checkMaxParallelism(maxParallelism, where);
  checkParallelism(parallelism, maxParallelism, where);
}

function checkMaxParallelism(maxParallelism: number, where: string | undefined): void {
  if (!Number.isInteger(maxParallelism) || maxParallelism < 1 || maxParallelism > UPPER_BOUND_MAX_PARALLELISM) {
    throw new RangeError(
      `${of('maxParallelism', where)} must be an integer from 1 to ${UPPER_BOUND_MAX_PARALLELISM}, got ${String(maxParallelism)}`,
    );
  }
}

function checkParallelism(parallelism: number, maxParallelism: number, where: string | undefined): void {
  if (!Number.isInteger(parallelism) || parallelism < 1) {
    throw new RangeError(`${of('parallelism', where)} must be a positive integer, got ${String(parallelism)}`);
  }
  if (parallelism > maxParallelism) {
    throw new RangeError(
      `${of('parallelism', where)} (${parallelism}) exceeds its maxParallelism (${maxParallelism}); ` +
        'lower the parallelism or raise maxParallelism (which cannot change once the job has state)',
    );
  }
}

function of(setting: string, where: string | undefined): string {
  return where === undefined ? setting : `${setting} of "${where}"`;
}
