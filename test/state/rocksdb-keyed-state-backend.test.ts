/**
 * The RocksDB keyed state backend beyond the shared contract (which state-backend.test.ts runs on
 * every registered backend with the default cache): the contract again with a cache so small that
 * every access of another key is a synchronous read of RocksDB, a randomized comparison against a
 * model with snapshots taken, changed-after and released in any order, eviction under a byte
 * budget, and the working directory's life cycle.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import { ListStateDescriptor, MapStateDescriptor, ValueStateDescriptor } from '../../src/api/state.ts';
import { computeKeyGroupForKeyHash, hashKey, type KeyGroupRange } from '../../src/core/key-group.ts';
import { RocksDBKeyedStateBackend } from '../../src/state/rocksdb/rocksdb-keyed-state-backend.ts';
import { runKeyedStateBackendContract } from './keyed-state-backend.contract.ts';

const root = mkdtempSync(join(tmpdir(), 'weir-rocksdb-test-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;

function backend(o: { maxParallelism: number; keyGroupRange: KeyGroupRange; cacheBytes: number }): RocksDBKeyedStateBackend {
  return new RocksDBKeyedStateBackend({
    ...o,
    path: join(root, `db-${n++}`),
    writeBufferSize: 1 << 20,
    maxWriteBufferNumber: 2,
    blockCache: true,
    where: 'test operator',
  });
}

runKeyedStateBackendContract('RocksDBKeyedStateBackend with a cache of about ten entries', (opts) => backend({ ...opts, cacheBytes: 1_000 }), { modelRuns: 20 });

const countD = new ValueStateDescriptor<number>('count', 0);
const seenD = new ListStateDescriptor<number>('seen');
const tagsD = new MapStateDescriptor<string, number>('tags');

type Model = Map<string, { count?: number; seen?: number[]; tags?: Map<string, number> }>;

function cloneModel(m: Model): Model {
  return new Map([...m].map(([k, v]) => [k, { ...v, ...(v.seen ? { seen: [...v.seen] } : {}), ...(v.tags ? { tags: new Map(v.tags) } : {}) }]));
}

/** What a snapshot holds, in the model's shape. */
function viewOf(b: RocksDBKeyedStateBackend, s: ReturnType<RocksDBKeyedStateBackend['snapshot']>): Model {
  const out: Model = new Map();
  const at = (k: unknown) => {
    const key = k as string;
    if (!out.has(key)) out.set(key, {});
    return out.get(key)!;
  };
  for (const { name } of s.states) {
    for (let g = b.keyGroupRange.start; g <= b.keyGroupRange.end; g++) {
      for (const [k, v] of s.entries(name, g)) {
        if (name === 'count') at(k).count = v as number;
        else if (name === 'seen') at(k).seen = [...(v as number[])];
        else if (name === 'tags') at(k).tags = new Map([...(v as Map<unknown, [string, number]>).values()]);
      }
    }
  }
  return out;
}

function normalized(m: Model): unknown {
  return [...m]
    .map(([k, v]) => [k, v.count ?? null, v.seen ?? null, v.tags ? [...v.tags].sort() : null] as const)
    .filter(([, c, s, t]) => c !== null || s !== null || t !== null)
    .sort((a, b) => (a[0] < b[0] ? -1 : 1));
}

const op = fc.oneof(
  fc.record({ kind: fc.constant('count' as const), key: fc.integer({ min: 0, max: 40 }), v: fc.integer() }),
  fc.record({ kind: fc.constant('seen' as const), key: fc.integer({ min: 0, max: 40 }), v: fc.integer({ min: 0, max: 9 }) }),
  fc.record({ kind: fc.constant('tag' as const), key: fc.integer({ min: 0, max: 40 }), v: fc.integer({ min: 0, max: 3 }) }),
  fc.record({ kind: fc.constant('untag' as const), key: fc.integer({ min: 0, max: 40 }), v: fc.integer({ min: 0, max: 3 }) }),
  fc.record({ kind: fc.constant('clear' as const), key: fc.integer({ min: 0, max: 40 }), v: fc.constant(0) }),
  fc.record({ kind: fc.constant('snapshot' as const), key: fc.constant(0), v: fc.constant(0) }),
  fc.record({ kind: fc.constant('release' as const), key: fc.constant(0), v: fc.integer({ min: 0, max: 3 }) }),
  fc.record({ kind: fc.constant('check' as const), key: fc.constant(0), v: fc.integer({ min: 0, max: 3 }) }),
);

test('rocksdb: random changes, snapshots and releases match a model, with a tiny and a roomy cache', () => {
  for (const cacheBytes of [1, 2_000, 1 << 20]) {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 150 }), (ops) => {
        const b = backend({ maxParallelism: 8, keyGroupRange: { start: 0, end: 7 }, cacheBytes });
        try {
          const count = b.getValueState(countD);
          const seen = b.getListState(seenD);
          const tags = b.getMapState(tagsD);
          const model: Model = new Map();
          const snapshots: { s: ReturnType<typeof b.snapshot>; expected: Model }[] = [];
          const at = (k: string) => {
            if (!model.has(k)) model.set(k, {});
            return model.get(k)!;
          };
          for (const o of ops) {
            const key = `k${o.key}`;
            switch (o.kind) {
              case 'count':
                b.setCurrentKey(key);
                count.update(o.v);
                at(key).count = o.v;
                break;
              case 'seen':
                b.setCurrentKey(key);
                seen.add(o.v);
                at(key).seen = [...(at(key).seen ?? []), o.v];
                break;
              case 'tag':
                b.setCurrentKey(key);
                tags.put(`t${o.v}`, (tags.get(`t${o.v}`) ?? 0) + 1);
                at(key).tags ??= new Map();
                at(key).tags!.set(`t${o.v}`, (at(key).tags!.get(`t${o.v}`) ?? 0) + 1);
                break;
              case 'untag': {
                b.setCurrentKey(key);
                tags.remove(`t${o.v}`);
                const t = at(key).tags;
                t?.delete(`t${o.v}`);
                if (t && t.size === 0) delete at(key).tags;
                break;
              }
              case 'clear':
                b.setCurrentKey(key);
                count.clear();
                seen.clear();
                tags.clear();
                model.delete(key);
                break;
              case 'snapshot':
                snapshots.push({ s: b.snapshot(), expected: cloneModel(model) });
                break;
              case 'release': {
                const i = o.v % Math.max(1, snapshots.length);
                snapshots.splice(i, 1)[0]?.s.release();
                break;
              }
              case 'check': {
                const x = snapshots[o.v % Math.max(1, snapshots.length)];
                if (x) assert.deepEqual(normalized(viewOf(b, x.s)), normalized(x.expected));
                break;
              }
            }
          }
          for (const x of snapshots) assert.deepEqual(normalized(viewOf(b, x.s)), normalized(x.expected));
          // The live state, read key by key, and keys().
          for (const [key, v] of model) {
            b.setCurrentKey(key);
            assert.equal(count.value(), v.count ?? 0, `count of ${key}`);
            assert.deepEqual(seen.get(), v.seen ?? []);
            assert.deepEqual(new Map(tags.entries()), v.tags ?? new Map());
          }
          const withCount = [...model].filter(([, v]) => v.count !== undefined).map(([k]) => k).sort();
          assert.deepEqual([...b.keys('count')].sort(), withCount);
        } finally {
          b.dispose();
        }
      }),
      { numRuns: 25 },
    );
  }
});

test('rocksdb: a cache bounded in bytes evicts, writes back and reads back 6,000 keys exactly', () => {
  const b = backend({ maxParallelism: 128, keyGroupRange: { start: 0, end: 127 }, cacheBytes: 60_000 });
  const count = b.getValueState(countD);
  for (let round = 0; round < 2; round++) {
    for (let k = 0; k < 6_000; k++) {
      b.setCurrentKey(k);
      count.update((count.value() ?? 0) + k);
    }
  }
  const missesAfterWrites = b.cacheMisses;
  assert.ok(missesAfterWrites >= 6_000, `the second round found evicted keys in RocksDB (misses: ${missesAfterWrites})`);
  for (let k = 0; k < 6_000; k += 7) {
    b.setCurrentKey(k);
    assert.equal(count.value(), 2 * k);
  }
  assert.equal([...b.keys('count')].length, 6_000);
  const s = b.snapshot();
  let entries = 0;
  for (let g = 0; g < 128; g++) for (const _ of s.entries('count', g)) entries++;
  s.release();
  assert.equal(entries, 6_000);
  b.dispose();
});

test('rocksdb: dispose closes the instance and deletes its directory; use afterwards is an error', () => {
  const b = backend({ maxParallelism: 4, keyGroupRange: { start: 0, end: 3 }, cacheBytes: 1 << 20 });
  b.setCurrentKey('a');
  b.getValueState(countD).update(1);
  const path = b.path;
  assert.ok(existsSync(path));
  b.dispose();
  assert.equal(existsSync(path), false);
  assert.throws(() => b.snapshot(), /used after dispose/);
});

test('rocksdb: prefetch reads a batch of keys ahead in one request, after which their state is read without synchronous misses', async () => {
  const b = backend({ maxParallelism: 16, keyGroupRange: { start: 0, end: 15 }, cacheBytes: 1 << 20 });
  const count = b.getValueState(countD);
  const seen = b.getListState(seenD);
  for (let k = 0; k < 500; k++) {
    b.setCurrentKey(k);
    count.update(k);
    seen.add(k);
  }
  // Push everything to RocksDB and empty the cache: a snapshot writes the changes back.
  b.snapshot().release();
  const cold = backend({ maxParallelism: 16, keyGroupRange: { start: 0, end: 15 }, cacheBytes: 1 << 20 });
  cold.restore([...(function* () {
    const s = b.snapshot();
    try {
      for (let g = 0; g < 16; g++) {
        yield { name: 'count', kind: 'value' as const, keyGroup: g, entries: [...s.entries('count', g)] };
        yield { name: 'seen', kind: 'list' as const, keyGroup: g, entries: [...s.entries('seen', g)] };
      }
    } finally {
      s.release();
    }
  })()]);
  const c = cold.getValueState(countD);
  const l = cold.getListState(seenD);
  const batch = [...Array(200).keys(), 7, 7, 'absent'];
  const read = cold.prefetch(batch);
  assert.ok(read !== undefined, 'keys not cached are read');
  await read;
  assert.equal(cold.prefetched, 2 * 201, 'each distinct key once per state');
  const misses = cold.cacheMisses;
  for (const k of batch) {
    cold.setCurrentKey(k);
    assert.equal(c.value(), k === 'absent' ? 0 : k);
    assert.deepEqual(l.get(), k === 'absent' ? [] : [k]);
  }
  assert.equal(cold.cacheMisses, misses, 'no synchronous miss after the prefetch');
  assert.equal(cold.prefetch(batch), undefined, 'nothing to read once cached');
  b.dispose();
  cold.dispose();
});

test('rocksdb: a prefetch given the key groups reads the same; keys of groups outside the range are not read', async () => {
  const b = backend({ maxParallelism: 16, keyGroupRange: { start: 0, end: 7 }, cacheBytes: 1 << 20 });
  const count = b.getValueState(countD);
  const own: number[] = [];
  const foreign: number[] = [];
  for (let k = 0; own.length < 100 || foreign.length < 20; k++) {
    const g = computeKeyGroupForKeyHash(hashKey(k), 16);
    if (g <= 7 && own.length < 100) own.push(k);
    else if (g > 7 && foreign.length < 20) foreign.push(k);
  }
  for (const k of own) {
    b.setCurrentKey(k);
    count.update(k + 1);
  }
  // Written back and gone from the cache: a second backend restored from the snapshot reads RocksDB.
  const cold = backend({ maxParallelism: 16, keyGroupRange: { start: 0, end: 7 }, cacheBytes: 1 << 20 });
  const s = b.snapshot();
  try {
    cold.restore([...Array(8).keys()].map((g) => ({ name: 'count', kind: 'value' as const, keyGroup: g, entries: [...s.entries('count', g)] })));
  } finally {
    s.release();
  }
  const c = cold.getValueState(countD);
  const keys = [...own, ...foreign];
  const groups = Uint16Array.from(keys, (k) => computeKeyGroupForKeyHash(hashKey(k), 16));
  await cold.prefetch(keys, groups);
  assert.equal(cold.prefetched, own.length, 'only the keys of this backend\'s key groups are read');
  const misses = cold.cacheMisses;
  for (const k of own) {
    cold.setCurrentKey(k);
    assert.equal(c.value(), k + 1);
  }
  assert.equal(cold.cacheMisses, misses, 'no synchronous miss after the prefetch');
  b.dispose();
  cold.dispose();
});

test('rocksdb: reading each batch ahead while the one before it runs leaves no synchronous miss (keys found cached are kept until used)', async () => {
  // About 1,500 entries cached out of 5,000 keys, batches of 200 random keys: while a batch runs,
  // its reads and changes evict entries, among them, unless a prefetch marked them, cached keys
  // of the next batch that its prefetch found there and did not read.
  const b = backend({ maxParallelism: 8, keyGroupRange: { start: 0, end: 7 }, cacheBytes: 160_000 });
  const count = b.getValueState(countD);
  const keys = 5_000;
  let seed = 7;
  const random = () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed >>> 8;
  };
  const batches = Array.from({ length: 40 }, () => Array.from({ length: 200 }, () => random() % keys));
  const expected = new Map<number, number>();
  await b.prefetch(batches[0]!);
  let misses = 0;
  for (let k = 0; k < batches.length; k++) {
    // Counted once the cache has filled and CLOCK runs as it does from then on (while it first
    // fills, every entry is referenced and the first eviction sweep clears them all).
    if (k === 15) misses = b.cacheMisses;
    const ahead = k + 1 < batches.length ? b.prefetch(batches[k + 1]!) : undefined;
    for (const key of batches[k]!) {
      b.setCurrentKey(key);
      count.update((count.value() ?? 0) + 1);
      expected.set(key, (expected.get(key) ?? 0) + 1);
    }
    await ahead;
  }
  assert.equal(b.cacheMisses - misses, 0, 'no key of a batch was read synchronously');
  for (const [key, n] of expected) {
    b.setCurrentKey(key);
    assert.equal(count.value(), n, `key ${key}`);
  }
  b.dispose();
});

test('rocksdb: a prefetch answer never overrides a value written while it was under way', async () => {
  // A cache of a few entries: keys read synchronously meanwhile are changed and evicted (written
  // back) before the prefetch answers, which may then hold their old values.
  const b = backend({ maxParallelism: 8, keyGroupRange: { start: 0, end: 7 }, cacheBytes: 2_000 });
  const count = b.getValueState(countD);
  for (let k = 0; k < 300; k++) {
    b.setCurrentKey(k);
    count.update(k);
  }
  b.snapshot().release();
  const expected = [...Array(300).keys()];
  for (let round = 1; round <= 5; round++) {
    const read = b.prefetch([...Array(300).keys()]);
    // While the read is under way: change every third key (each a synchronous miss, then evicted).
    for (let k = round % 3; k < 300; k += 3) {
      b.setCurrentKey(k);
      count.update((count.value() ?? 0) + 1000);
      expected[k] = expected[k]! + 1000;
    }
    await read;
    // Newest installed first, so that they are checked while still cached.
    for (let k = 299; k >= 0; k--) {
      b.setCurrentKey(k);
      assert.equal(count.value(), expected[k], `key ${k} after round ${round}`);
    }
  }
  b.dispose();
});

test('rocksdb: a snapshot established a slice at a time keeps the values at the barrier while records change them between slices', async () => {
  const b = backend({ maxParallelism: 8, keyGroupRange: { start: 0, end: 7 }, cacheBytes: 64 << 20 });
  const count = b.getValueState(countD);
  const seen = b.getListState(seenD);
  const N = 10_000;
  for (let k = 0; k < N; k++) {
    b.setCurrentKey(k);
    count.update(k);
    seen.add(k);
  }
  const s = b.snapshot();
  const establishing = s.establish();
  // Between the slices: every key changes, in place (list add) and by update, and some are cleared.
  await new Promise((resolve) => setImmediate(resolve));
  for (let k = 0; k < N; k++) {
    b.setCurrentKey(k);
    count.update(-k);
    seen.add(-1);
    if (k % 10 === 0) count.clear();
  }
  await establishing;
  let entries = 0;
  for (let g = 0; g < 8; g++) {
    for (const [key, value] of s.entries('count', g)) {
      assert.equal(value, key, `count of ${String(key)} as at the barrier`);
      entries++;
    }
    for (const [key, value] of s.entries('seen', g)) assert.deepEqual(value, [key]);
  }
  assert.equal(entries, N);
  s.release();
  b.setCurrentKey(5);
  assert.equal(count.value(), -5, 'the live state has the later values');
  b.dispose();
});

test('rocksdb: values written count against the cache budget, so written state does not pile up on the heap', () => {
  const b = backend({ maxParallelism: 128, keyGroupRange: { start: 0, end: 127 }, cacheBytes: 1 << 20 });
  const state = b.getValueState(new ValueStateDescriptor<number[]>('v'));
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  gc();
  const before = process.memoryUsage().heapUsed;
  // 2,000 keys of about 10 KB each: 20 MB written through a 1 MiB cache.
  for (let k = 0; k < 2_000; k++) {
    b.setCurrentKey(k);
    state.update(Array.from({ length: 1250 }, (_, i) => k + i + 0.5));
  }
  gc();
  const grown = process.memoryUsage().heapUsed - before;
  b.setCurrentKey(17);
  assert.equal(state.value()![3], 17 + 3 + 0.5, 'an evicted value reads back from RocksDB');
  assert.ok(grown < 8 << 20, `the heap grew by ${grown} bytes`);
  b.dispose();
});
