/**
 * writeEntryKey (a restore packs keys with it) writes exactly the bytes of entryKey (what the
 * keyed backend reads and writes) for every kind of canonical key, one after another in one builder.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { canonicalKey, type PrimitiveKey } from '../../src/core/key-group.ts';
import { entryKey, KeyBuilder, writeEntryKey } from '../../src/state/rocksdb/rocksdb-keys.ts';

const KEYS: unknown[] = [
  '',
  'k1',
  'κλειδί-7',
  '日本語のキー',
  '😀 emoji',
  'lone \ud800 high',
  'lone \udc00 low',
  '\udbff',
  'x'.repeat(300),
  0,
  -0,
  1.5,
  -42,
  Number.MAX_SAFE_INTEGER,
  123n,
  -98765432109876543210n,
  true,
  false,
  [1, 'a'],
];

test('writeEntryKey appends the bytes of entryKey for every kind of key', () => {
  const b = new KeyBuilder();
  const expected: number[] = [];
  for (const [i, key] of KEYS.entries()) {
    const canonical: PrimitiveKey = canonicalKey(key);
    const stateId = i * 257;
    const keyGroup = (i * 1031) % 32768;
    const before = b.pos;
    writeEntryKey(b, stateId, keyGroup, canonical);
    const one = entryKey(stateId, keyGroup, canonical);
    assert.deepEqual([...b.buf.subarray(before, b.pos)], [...one], `key ${String(key)}`);
    expected.push(...one);
  }
  assert.deepEqual([...b.buf.subarray(0, b.pos)], expected);
});
