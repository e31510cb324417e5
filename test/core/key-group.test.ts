import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import {
  KeyError,
  UPPER_BOUND_MAX_PARALLELISM,
  assignToKeyGroup,
  canonicalKey,
  computeKeyGroupForKeyHash,
  computeOperatorIndexForKeyGroup,
  decodeCanonicalKey,
  defaultMaxParallelism,
  hashKey,
  keyGroupRangeContains,
  keyGroupRangeForOperator,
  keyGroupRangeSize,
  murmurHash,
  validateParallelism,
  type Key,
} from '../../src/core/key-group.ts';

const primitiveKey: fc.Arbitrary<Key> = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary' }),
  fc.constantFrom('\u0000', '\u0000[', '\u0000\u0000', '\u0000[s1:an1;]'),
  fc.integer(),
  fc.maxSafeInteger(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.bigInt(),
  fc.bigInt({ min: -(2n ** 200n), max: 2n ** 200n }),
  fc.boolean(),
);

const anyKey: fc.Arbitrary<Key> = fc.letrec<{ key: Key }>((tie) => ({
  key: fc.oneof({ depthSize: 'small' }, primitiveKey, fc.array(tie('key'), { maxLength: 4 })),
})).key;

// A small domain, so that generated pairs are often equal or nearly equal.
const smallPrimitive: fc.Arbitrary<Key> = fc.constantFrom<Key>(0, -0, 1, 1n, '1', true, false, '', '\u0000', '\u0000[]', 'a', 's1:a');
const smallKey: fc.Arbitrary<Key> = fc.letrec<{ key: Key }>((tie) => ({
  key: fc.oneof({ depthSize: 'small' }, smallPrimitive, fc.array(tie('key'), { maxLength: 3 })),
})).key;

function sameKey(a: Key, b: Key): boolean {
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((x, i) => sameKey(x, b[i] as Key));
  }
  return typeof a === typeof b && a === b; // === also makes -0 and 0 the same key
}

test('murmurHash agrees with MurmurHash3 reference values, made non-negative as Flink does', () => {
  // MurmurHash3_x86_32 of the four bytes 00 00 00 00 and 21 43 65 87 with seed 0 are
  // 0x2362F9DE and 0xF55B516B; the latter is negative as an int and is negated.
  assert.equal(murmurHash(0), 0x2362f9de);
  assert.equal(murmurHash(0x87654321 | 0), 0x100000000 - 0xf55b516b);
  assert.deepEqual([1, -1, 42, 2147483647, -2147483648].map(murmurHash), [68075478, 1982413648, 1134849565, 1653689534, 1718298732]);
  fc.assert(
    fc.property(fc.integer(), (code) => {
      const h = murmurHash(code);
      assert.ok(Number.isInteger(h) && h >= 0 && h <= 2147483647);
    }),
  );
});

test('hash values are pinned, so that a change of algorithm is noticed', () => {
  // Changing these values moves keys to other key groups, which breaks restoring existing
  // snapshots: only ever change them together with a snapshot format migration.
  const pinned: [Key, number, number][] = [
    ['', 2132504619, 75],
    ['a', -147093243, 45],
    ['user-1', 311609612, 26],
    ['été 😀', 1040339360, 84],
    [0, 368444264, 44],
    [-1, 548449120, 71],
    [42, -264242975, 88],
    // int32 numbers take a shorter path than other integers: values at and just past its edges.
    [2147483647, -1496059679, 12],
    [-2147483648, 1425014699, 31],
    [2 ** 31, -536789146, 9],
    [-(2 ** 31) - 1, 1192947287, 116],
    [-987654321, -451504406, 48],
    [1.5, 2048003180, 10],
    [-0.1, 1573833202, 15],
    [2 ** 53, 1248016619, 17],
    [1e300, 58582688, 115],
    [1n, 1917808453, 110],
    [-1n, -1715349196, 80],
    [2n ** 64n, -1350331162, 106],
    [-(2n ** 100n), -387257144, 104],
    [true, 14310949, 118],
    [false, -2036326002, 111],
    [[], 58167874, 83],
    [['user-1', 7], 1176181762, 87],
    [[['a'], 1n, false], 2089415090, 124],
  ];
  for (const [key, hash, keyGroup] of pinned) {
    assert.equal(hashKey(key), hash, `hashKey(${String(key)})`);
    assert.equal(assignToKeyGroup(key, 128), keyGroup, `assignToKeyGroup(${String(key)}, 128)`);
  }
});

test('hashKey is a deterministic 32-bit signed int that depends only on the key value', () => {
  fc.assert(
    fc.property(anyKey, (key) => {
      const h = hashKey(key);
      assert.equal(h | 0, h);
      assert.equal(hashKey(key), h);
      assert.equal(hashKey(structuredClone(key)), h);
      assert.equal(hashKey(decodeCanonicalKey(canonicalKey(key))), h);
    }),
  );
  assert.equal(hashKey(-0), hashKey(0));
  assert.equal(hashKey([-0, [-0]]), hashKey([0, [0]]));
});

test('keys equal as values hash equal; 1, 1n, "1" and true hash apart, also systematically', () => {
  const tagged = (i: number): Key[] => [i, BigInt(i), String(i), [i], [String(i)]];
  const seen = new Set<number>();
  for (let i = 0; i < 2000; i++) for (const k of tagged(i)) seen.add(hashKey(k));
  seen.add(hashKey(true)).add(hashKey(false));
  // 10002 keys; a 32-bit hash gives a collision among them with probability about 1%.
  assert.ok(seen.size >= 10000, `only ${seen.size} distinct hashes`);
});

test('key groups spread common key shapes evenly', () => {
  const maxParallelism = 128;
  for (const make of [(i: number): Key => `user-${i}`, (i: number): Key => i, (i: number): Key => [i, 'x']]) {
    const counts = new Array<number>(maxParallelism).fill(0);
    for (let i = 0; i < 128_000; i++) counts[assignToKeyGroup(make(i), maxParallelism)]!++;
    // Expected 1000 per group, standard deviation about 31.
    assert.ok(Math.min(...counts) > 850 && Math.max(...counts) < 1150, `uneven: ${Math.min(...counts)}..${Math.max(...counts)}`);
  }
});

test('the key group is always within [0, maxParallelism)', () => {
  fc.assert(
    fc.property(anyKey, fc.integer({ min: 1, max: UPPER_BOUND_MAX_PARALLELISM }), (key, maxParallelism) => {
      const kg = assignToKeyGroup(key, maxParallelism);
      assert.ok(Number.isInteger(kg) && kg >= 0 && kg < maxParallelism);
      assert.equal(kg, computeKeyGroupForKeyHash(hashKey(key), maxParallelism));
    }),
  );
  fc.assert(
    fc.property(fc.integer(), fc.integer({ min: 1, max: UPPER_BOUND_MAX_PARALLELISM }), (hash, maxParallelism) => {
      const kg = computeKeyGroupForKeyHash(hash, maxParallelism);
      assert.ok(Number.isInteger(kg) && kg >= 0 && kg < maxParallelism);
    }),
  );
});

test('operator ranges are disjoint, contiguous, cover every key group, and agree with the owner index', () => {
  const settings = fc
    .integer({ min: 1, max: UPPER_BOUND_MAX_PARALLELISM })
    .chain((maxParallelism) => fc.tuple(fc.constant(maxParallelism), fc.integer({ min: 1, max: maxParallelism })));
  const check = ([maxParallelism, parallelism]: [number, number]): void => {
    let next = 0;
    let smallest = Infinity;
    let largest = 0;
    for (let index = 0; index < parallelism; index++) {
      const range = keyGroupRangeForOperator(maxParallelism, parallelism, index);
      assert.equal(range.start, next, `range ${index} of ${parallelism} starts where the previous ended`);
      const size = keyGroupRangeSize(range);
      assert.ok(size >= 1);
      smallest = Math.min(smallest, size);
      largest = Math.max(largest, size);
      for (let kg = range.start; kg <= range.end; kg++) {
        assert.equal(computeOperatorIndexForKeyGroup(maxParallelism, parallelism, kg), index);
        assert.ok(keyGroupRangeContains(range, kg));
      }
      next = range.end + 1;
    }
    assert.equal(next, maxParallelism);
    assert.ok(largest - smallest <= 1);
  };
  fc.assert(fc.property(settings, check), { numRuns: 200 });
  for (const s of [[1, 1], [128, 1], [128, 128], [128, 3], [32768, 32768], [32768, 7], [100, 99]] as [number, number][]) {
    check(s);
  }
  assert.deepEqual(keyGroupRangeForOperator(128, 3, 0), { start: 0, end: 42 });
  assert.deepEqual(keyGroupRangeForOperator(128, 3, 1), { start: 43, end: 85 });
  assert.deepEqual(keyGroupRangeForOperator(128, 3, 2), { start: 86, end: 127 });
  assert.equal(keyGroupRangeSize({ start: 5, end: 4 }), 0);
  assert.equal(keyGroupRangeContains({ start: 5, end: 4 }, 5), false);
});

test('keyGroupRangeForOperator rejects bad arguments, naming the setting', () => {
  assert.throws(() => keyGroupRangeForOperator(0, 1, 0), /maxParallelism must be an integer from 1 to 32768, got 0/);
  assert.throws(() => keyGroupRangeForOperator(32769, 1, 0), RangeError);
  assert.throws(() => keyGroupRangeForOperator(128.5, 1, 0), /maxParallelism/);
  assert.throws(() => keyGroupRangeForOperator(128, 0, 0), /parallelism must be a positive integer, got 0/);
  assert.throws(() => keyGroupRangeForOperator(128, 129, 0), /parallelism \(129\) exceeds its maxParallelism \(128\)/);
  assert.throws(() => keyGroupRangeForOperator(128, 4, 4), /operatorIndex must be an integer from 0 to parallelism - 1 \(3\), got 4/);
  assert.throws(() => keyGroupRangeForOperator(128, 4, -1), RangeError);
  assert.throws(() => keyGroupRangeForOperator(128, 4, 1.5), RangeError);
});

test('defaultMaxParallelism follows Flink', () => {
  const expected: [number, number][] = [
    [1, 128], [2, 128], [85, 128], [86, 256], [100, 256], [171, 256], [172, 512], [1000, 2048],
    [21845, 32768], [30000, 32768], [32768, 32768], [100000, 32768],
  ];
  for (const [parallelism, max] of expected) assert.equal(defaultMaxParallelism(parallelism), max, `p=${parallelism}`);
  assert.throws(() => defaultMaxParallelism(0), /parallelism must be a positive integer/);
  assert.throws(() => defaultMaxParallelism(1.5), RangeError);
});

test('validateParallelism names the setting and the operator', () => {
  validateParallelism(1, 1, 'op');
  validateParallelism(128, 128, 'op');
  validateParallelism(4, 32768, 'op');
  assert.throws(() => validateParallelism(200, 128, 'visit-count'), (e: unknown) => {
    assert.ok(e instanceof RangeError);
    assert.match(e.message, /parallelism of "visit-count" \(200\) exceeds its maxParallelism \(128\)/);
    return true;
  });
  assert.throws(() => validateParallelism(1, 40000, 'visit-count'), /maxParallelism of "visit-count" must be an integer from 1 to 32768, got 40000/);
  assert.throws(() => validateParallelism(0, 128, 'visit-count'), /parallelism of "visit-count" must be a positive integer, got 0/);
  assert.throws(() => validateParallelism(-3, 128, 'x'), RangeError);
  assert.throws(() => validateParallelism(2.5, 128, 'x'), RangeError);
  assert.throws(() => validateParallelism(2, 127.5, 'x'), /maxParallelism/);
  assert.throws(() => validateParallelism(Number.NaN, 128, 'x'), RangeError);
});

test('canonicalKey: primitives come back unchanged, -0 becomes 0, 1 / 1n / "1" / true stay distinct', () => {
  assert.equal(canonicalKey('user-1'), 'user-1');
  assert.equal(canonicalKey(''), '');
  assert.equal(canonicalKey(42), 42);
  assert.ok(Object.is(canonicalKey(-0), 0));
  assert.equal(canonicalKey(2n ** 70n), 2n ** 70n);
  assert.equal(canonicalKey(false), false);
  const forms = [1, 1n, '1', true, [1], ['1'], [1n], [true], [[1]]].map((k) => canonicalKey(k));
  assert.equal(new Set(forms).size, forms.length);
  assert.ok(Object.is(decodeCanonicalKey(canonicalKey(-0)), 0));
});

test('canonicalKey: keys equal as values have the same canonical form, and only those', () => {
  fc.assert(
    fc.property(smallKey, smallKey, (a, b) => {
      assert.equal(canonicalKey(a) === canonicalKey(b), sameKey(a, b));
      if (sameKey(a, b)) assert.equal(hashKey(a), hashKey(b));
    }),
    { numRuns: 2000 },
  );
  fc.assert(
    fc.property(anyKey, anyKey, (a, b) => {
      assert.equal(canonicalKey(a) === canonicalKey(b), sameKey(a, b));
    }),
  );
  assert.equal(canonicalKey(['a', [1, 2n], true]), canonicalKey(['a', [1, 2n], true]));
  assert.equal(canonicalKey([0]), canonicalKey([-0]));
});

test('canonicalKey: strings starting with \\u0000 never collide with arrays, and round-trip', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'binary' }), anyKey, (tail, key) => {
      const s = '\u0000' + tail;
      if (Array.isArray(key)) assert.notEqual(canonicalKey(s), canonicalKey(key));
      assert.equal(decodeCanonicalKey(canonicalKey(s)), s);
    }),
  );
  for (const arr of [[], ['a', 1], [[]]] as Key[]) {
    const form = canonicalKey(arr);
    assert.equal(typeof form, 'string');
    assert.notEqual(canonicalKey(form), form, 'a string spelling an array form is escaped');
    assert.equal(decodeCanonicalKey(canonicalKey(form)), form);
  }
  const s = 'plain string';
  assert.equal(canonicalKey(s), s);
});

test('decodeCanonicalKey inverts canonicalKey', () => {
  fc.assert(
    fc.property(anyKey, (key) => {
      const decoded = decodeCanonicalKey(canonicalKey(key));
      assert.ok(sameKey(decoded, key));
      assert.equal(canonicalKey(decoded), canonicalKey(key));
    }),
  );
  assert.throws(() => decodeCanonicalKey('\u0000[x]'), KeyError);
  assert.throws(() => decodeCanonicalKey('\u0000[s9:ab]'), KeyError);
});

test('invalid keys throw a KeyError that names the operator, from every entry point', () => {
  class Point {
    constructor(readonly x: number) {}
  }
  const cyclic: unknown[] = [1];
  cyclic.push(cyclic);
  const invalid: [unknown, RegExp][] = [
    [undefined, /returned undefined/],
    [null, /returned null/],
    [Number.NaN, /returned NaN/],
    [Infinity, /returned Infinity/],
    [-Infinity, /returned -Infinity/],
    [{ a: 1 }, /returned a plain object/],
    [Object.create(null), /returned an object with a null prototype/],
    [new Point(1), /returned an instance of Point/],
    [new Date(0), /returned an instance of Date/],
    [function selector() {}, /returned a function \(selector\)/],
    [Symbol('k'), /returned a symbol/],
    [['a', undefined], /returned an array with undefined at \[1\]/],
    [[1, [2, [Number.NaN]]], /returned an array with NaN at \[1\]\[1\]\[0\]/],
    [[1, { a: 1 }], /returned an array with a plain object at \[1\]/],
    [[1, undefined, 3], /returned an array with undefined at \[1\]/],
    [cyclic, /returned an array that contains itself/],
  ];
  const rule = /\(keys must be string, number, bigint, boolean or an array of those\)/;
  for (const [key, what] of invalid) {
    for (const call of [
      () => canonicalKey(key, 'visit-count'),
      () => hashKey(key, 'visit-count'),
      () => assignToKeyGroup(key, 128, 'visit-count'),
    ]) {
      assert.throws(call, (e: unknown) => {
        assert.ok(e instanceof KeyError, `${String(e)}`);
        assert.ok(e.message.startsWith('keyBy in "visit-count": key selector returned'), e.message);
        assert.match(e.message, what);
        assert.match(e.message, rule);
        assert.equal(e.where, 'visit-count');
        assert.equal(e.name, 'KeyError');
        return true;
      });
    }
    assert.throws(() => canonicalKey(key), (e: unknown) => e instanceof KeyError && e.where === undefined && !e.message.includes('keyBy in'));
    assert.throws(() => hashKey(key), KeyError);
  }
  assert.equal(
    (() => {
      try {
        canonicalKey(undefined, 'visit-count');
      } catch (e) {
        return (e as Error).message;
      }
      return '';
    })(),
    'keyBy in "visit-count": key selector returned undefined (keys must be string, number, bigint, boolean or an array of those)',
  );
});

test('hashes are the same in another process', () => {
  const keys: Key[] = ['', 'user-1', 'été 😀', '\u0000x', 0, -7, 2 ** 40, 0.1, -1e-300, 12345678901234567890n, -(2n ** 90n), true, false, [], ['user-1', [2, 3n], true]];
  const encode = (k: Key): unknown => (typeof k === 'bigint' ? { bigint: k.toString() } : Array.isArray(k) ? k.map(encode) : k);
  const moduleUrl = new URL('../../src/core/key-group.ts', import.meta.url).href;
  const program = `
    import { hashKey } from ${JSON.stringify(moduleUrl)};
    const revive = (k) => Array.isArray(k) ? k.map(revive) : k !== null && typeof k === 'object' ? BigInt(k.bigint) : k;
    const keys = JSON.parse(process.argv[1]).map(revive);
    process.stdout.write(JSON.stringify(keys.map((k) => hashKey(k))));
  `;
  const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
  const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', program, JSON.stringify(keys.map(encode))], {
    cwd: repoRoot,
    encoding: 'utf8',
  });
  assert.deepEqual(JSON.parse(out), keys.map((k) => hashKey(k)));
});
