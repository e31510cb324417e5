/**
 * The RocksDB key of a (state, key) is on disk in every instance and incremental checkpoint, so its
 * bytes are pinned here against the format spelled out independently: [state id u16 BE][key group
 * u16 BE][tag: 1 string, 2 number, 3 bigint, 4 false, 5 true] then UTF-8 as TextEncoder writes it,
 * float64 BE, or decimal digits. writeEntryKey (a restore packs keys with it, one after another in
 * one builder) and entryKey (what the keyed backend reads and writes) both give exactly these.
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

/** The key's bytes as the format above defines them. */
function reference(stateId: number, keyGroup: number, canonical: PrimitiveKey): number[] {
  const head = [stateId >>> 8, stateId & 0xff, keyGroup >>> 8, keyGroup & 0xff];
  switch (typeof canonical) {
    case 'string':
      return [...head, 1, ...new TextEncoder().encode(canonical)];
    case 'number': {
      const body = new Uint8Array(8);
      new DataView(body.buffer).setFloat64(0, canonical);
      return [...head, 2, ...body];
    }
    case 'bigint':
      return [...head, 3, ...new TextEncoder().encode(canonical.toString())];
    default:
      return [...head, canonical ? 5 : 4];
  }
}

test('writeEntryKey and entryKey write the format\'s bytes for every kind of key', () => {
  const b = new KeyBuilder();
  const expected: number[] = [];
  for (const [i, key] of KEYS.entries()) {
    const canonical: PrimitiveKey = canonicalKey(key);
    const stateId = i * 257;
    const keyGroup = (i * 1031) % 32768;
    const before = b.pos;
    writeEntryKey(b, stateId, keyGroup, canonical);
    const want = reference(stateId, keyGroup, canonical);
    assert.deepEqual([...b.buf.subarray(before, b.pos)], want, `writeEntryKey, key ${String(key)}`);
    assert.deepEqual([...entryKey(stateId, keyGroup, canonical)], want, `entryKey, key ${String(key)}`);
    expected.push(...want);
  }
  assert.deepEqual([...b.buf.subarray(0, b.pos)], expected);
});
