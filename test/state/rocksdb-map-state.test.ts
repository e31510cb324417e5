/**
 * Map state on the RocksDB backend, stored as one RocksDB entry per user key
 * (src/state/rocksdb/rocksdb-map-state.ts): a large map read and iterated with a cache holding a
 * small fraction of it, a put writing one entry's bytes, iteration overlaid with the writes before
 * and during it, clear as a range delete with and without a pending snapshot, snapshots in the
 * heap backend's canonical format, and restores in both directions.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MapStateDescriptor, ValueStateDescriptor } from '../../src/api/state.ts';
import { assignToKeyGroup, type KeyGroupRange } from '../../src/core/key-group.ts';
import { HeapKeyedStateBackend } from '../../src/state/heap/heap-keyed-state-backend.ts';
import type { KeyedStateBackend, KeyedStateSnapshot, KeyedStateSnapshotData } from '../../src/state/keyed-state-backend.ts';
import { RocksDBKeyedStateBackend } from '../../src/state/rocksdb/rocksdb-keyed-state-backend.ts';
import { ByteReader, ByteWriter, readStored, readValue } from '../../src/state/state-codec.ts';

const root = mkdtempSync(join(tmpdir(), 'weir-rocksdb-map-test-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;

const MAX = 128;
const FULL: KeyGroupRange = { start: 0, end: MAX - 1 };

function rocksdb(cacheBytes: number, range: KeyGroupRange = FULL): RocksDBKeyedStateBackend {
  return new RocksDBKeyedStateBackend({
    maxParallelism: MAX,
    keyGroupRange: range,
    cacheBytes,
    path: join(root, `db-${n++}`),
    writeBufferSize: 4 << 20,
    maxWriteBufferNumber: 2,
    blockCache: true,
    where: 'map test operator',
  });
}

function heap(range: KeyGroupRange = FULL): HeapKeyedStateBackend {
  return new HeapKeyedStateBackend({ maxParallelism: MAX, keyGroupRange: range });
}

const mapD = new MapStateDescriptor<unknown, unknown>('m');

/** Writes every changed entry back to RocksDB (keys() establishes snapshots and writes back first). */
function writeBack(b: KeyedStateBackend): void {
  for (const _ of b.keys('m')) break;
}

/** Everything a snapshot holds for map state 'm', as key → sorted [user key, value] rows. */
/** JSON with bigints written as `2n`, so that keys holding them can be compared as text. */
function text(v: unknown): string {
  return JSON.stringify(v, (_, x) => (typeof x === 'bigint' ? `${x}n` : x));
}

function mapView(s: KeyedStateSnapshot, range: KeyGroupRange = FULL): Map<string, [string, unknown][]> {
  const out = new Map<string, [string, unknown][]>();
  for (let kg = range.start; kg <= range.end; kg++) {
    for (const [key, value] of s.entries('m', kg)) {
      const rows = [...(value as Map<unknown, [unknown, unknown]>).values()].map(([k, v]): [string, unknown] => [text(k), v]);
      out.set(text(key), rows.sort((a, b) => (a[0] < b[0] ? -1 : 1)));
    }
  }
  return out;
}

function exported(s: KeyedStateSnapshot, range: KeyGroupRange = FULL): KeyedStateSnapshotData[] {
  const out: KeyedStateSnapshotData[] = [];
  for (const { name, kind } of s.states) {
    for (let keyGroup = range.start; keyGroup <= range.end; keyGroup++) out.push({ name, kind, keyGroup, entries: [...s.entries(name, keyGroup)] });
  }
  return out;
}

test('rocksdb map: 200,000 user keys of one key are written, read and iterated while the cache holds a small fraction of them', () => {
  const b = rocksdb(256 * 1024);
  const map = b.getMapState(new MapStateDescriptor<string, number>('m'));
  b.setCurrentKey('big');
  const N = 200_000;
  for (let i = 0; i < N; i++) map.put(`u${i}`, i);
  assert.ok(b.cachedEntries < N / 50, `the cache holds ${b.cachedEntries} entries of ${N}`);
  b.setCurrentKey('other');
  map.put('x', -1);
  b.setCurrentKey('big');
  for (let i = 0; i < N; i += 997) assert.equal(map.get(`u${i}`), i);
  assert.equal(map.get('u200000'), undefined);
  assert.equal(map.contains(`u${N - 1}`), true);
  assert.equal(map.isEmpty(), false);
  const cachedBefore = b.cachedEntries;
  let count = 0;
  let sum = 0;
  for (const [k, v] of map.entries()) {
    assert.equal(k, `u${v}`);
    count++;
    sum += v;
  }
  assert.equal(count, N);
  assert.equal(sum, (N * (N - 1)) / 2);
  assert.ok(b.cachedEntries <= cachedBefore, 'iteration does not fill the cache');
  assert.ok(b.cachedEntries < N / 50);

  // A snapshot writes the map in the canonical format: one entry of the key, all pairs.
  const s = b.snapshot();
  const kg = assignToKeyGroup('big', MAX);
  const entries = [...s.entries('m', kg)].filter(([k]) => k === 'big');
  assert.equal(entries.length, 1);
  assert.equal((entries[0]![1] as Map<unknown, unknown>).size, N);
  s.release();
  b.dispose();
});

test('rocksdb map: a put of one user key writes one entry of that key, not the map', () => {
  const b = rocksdb(64 * 1024 * 1024);
  const map = b.getMapState(new MapStateDescriptor<string, string>('m'));
  b.setCurrentKey('k');
  for (let i = 0; i < 10_000; i++) map.put(`user-key-${i}`, 'v'.repeat(20));
  writeBack(b);
  const before = b.rocksdbWrites;
  map.put('user-key-5000', 'changed');
  writeBack(b);
  const after = b.rocksdbWrites;
  assert.equal(after.count - before.count, 1, 'one entry written');
  assert.ok(after.bytes - before.bytes < 100, `${after.bytes - before.bytes} bytes written for one user key`);
  // A get of a cached entry and a remove are single entries too.
  assert.equal(map.get('user-key-5000'), 'changed');
  map.remove('user-key-1');
  writeBack(b);
  assert.equal(b.rocksdbWrites.count - after.count, 1);
  b.dispose();
});

test('rocksdb map: iteration sees the writes made before it and stays consistent while the map changes', () => {
  for (const cacheBytes of [2_000, 64 * 1024 * 1024]) {
    const b = rocksdb(cacheBytes);
    const map = b.getMapState(new MapStateDescriptor<number, number>('m'));
    const value = b.getValueState(new ValueStateDescriptor<number>('v'));
    b.setCurrentKey('k');
    const N = 3_000;
    for (let i = 0; i < N; i++) map.put(i, i);
    writeBack(b);
    // Writes not yet in RocksDB: an update, a removal and new user keys.
    map.put(10, -10);
    map.remove(11);
    map.put(N, N);
    map.put(N + 1, N + 1);
    b.setCurrentKey('other');
    value.update(1);
    b.setCurrentKey('k');
    const seen = new Map<number, number>();
    for (const [k, v] of map.entries()) {
      assert.ok(!seen.has(k), `user key ${k} seen twice`);
      seen.set(k, v);
    }
    assert.equal(seen.size, N + 1);
    assert.equal(seen.get(10), -10);
    assert.equal(seen.has(11), false);
    assert.equal(seen.get(N + 1), N + 1);

    // Changes during the iteration: entries not reached yet are updated or removed, new ones put,
    // and other keys' state written (evicting and writing back entries with a small cache).
    const during = new Map<number, number>();
    let step = 0;
    for (const [k, v] of map.entries()) {
      assert.ok(!during.has(k), `user key ${k} seen twice while changing`);
      during.set(k, v);
      step++;
      if (step % 10 === 0) {
        const ahead = (k * 7 + 13) % N;
        if (!during.has(ahead)) {
          if (ahead % 2 === 0) map.remove(ahead);
          else map.put(ahead, -ahead);
        }
        map.put(N + 100 + step, 0);
        b.setCurrentKey(`other-${step}`);
        value.update(step);
        b.setCurrentKey('k');
      }
    }
    // What was not reached when changed has the new value or is gone; the rest was seen as it was.
    for (let i = 0; i < N; i++) {
      if (i === 11) continue;
      const now = map.get(i);
      if (now === undefined) assert.equal(during.has(i), false, `removed ${i} before it was reached, yet seen`);
      else if (during.has(i)) assert.ok(during.get(i) === now || during.get(i) === (i === 10 ? -10 : i), `user key ${i}: ${during.get(i)} vs ${now}`);
      else assert.fail(`user key ${i} present but not seen`);
    }
    b.dispose();
  }
});

test('rocksdb map: clear deletes the key range; with a snapshot pending it waits, and the snapshot keeps the map', () => {
  for (const cacheBytes of [1_500, 64 * 1024 * 1024]) {
    const b = rocksdb(cacheBytes);
    const map = b.getMapState(new MapStateDescriptor<string, number>('m'));
    for (const key of ['a', 'b', 'ab', 'a\uD800']) {
      b.setCurrentKey(key);
      for (let i = 0; i < 50; i++) map.put(`u${i}`, i);
    }
    writeBack(b);
    b.setCurrentKey('a');
    map.put('u0', 100); // dirty at the barrier
    const s1 = b.snapshot();
    map.clear();
    assert.equal(map.isEmpty(), true);
    assert.equal(map.get('u1'), undefined);
    map.put('new', 1);
    assert.deepEqual([...map.entries()], [['new', 1]]);
    // Other keys, including ones whose encoding starts like this key's, keep their maps.
    for (const key of ['b', 'ab', 'a\uD800']) {
      b.setCurrentKey(key);
      assert.equal([...map.keys()].length, 50, `key ${key}`);
    }
    const view1 = mapView(s1);
    assert.equal(view1.get('"a"')!.length, 50);
    assert.deepEqual(view1.get('"a"')!.find(([k]) => k === '"u0"'), ['"u0"', 100]);
    assert.equal(view1.get('"ab"')!.length, 50);
    // A second clear while the first is still pending, then a second snapshot.
    b.setCurrentKey('a');
    map.put('newer', 2);
    const s2 = b.snapshot();
    map.clear();
    map.put('third', 3);
    assert.deepEqual(mapView(s2).get('"a"'), [
      ['"new"', 1],
      ['"newer"', 2],
    ]);
    assert.equal(mapView(s1).get('"a"')!.length, 50, 'the first snapshot still holds the old map');
    s1.release();
    s2.release();
    assert.deepEqual([...map.entries()], [['third', 3]]);
    map.clear();
    assert.equal(map.isEmpty(), true);
    assert.deepEqual([...b.keys('m')].sort(), ['ab', 'a\uD800', 'b']);
    const s3 = b.snapshot();
    assert.equal(mapView(s3).has('"a"'), false);
    s3.release();
    b.dispose();
  }
});

test('rocksdb map: a put or an in-place change after the barrier does not reach the snapshot (copy-on-write)', async () => {
  const b = rocksdb(64 * 1024 * 1024);
  const map = b.getMapState(new MapStateDescriptor<string, { n: number }>('m'));
  b.setCurrentKey('k');
  for (let i = 0; i < 100; i++) map.put(`u${i}`, { n: i });
  const s = b.snapshot();
  map.put('u1', { n: -1 });
  map.get('u2')!.n = -2;
  for (const [k, v] of map.entries()) if (k === 'u3') v.n = -3;
  map.remove('u4');
  map.put('late', { n: 0 });
  await (s as unknown as { establish(): Promise<void> }).establish();
  const rows = mapView(s).get('"k"')!;
  assert.equal(rows.length, 100);
  for (const [k, v] of rows) assert.deepEqual(v, { n: Number(JSON.parse(k).slice(1)) });
  s.release();
  assert.deepEqual(map.get('u1'), { n: -1 });
  assert.equal(map.contains('u4'), false);
  assert.deepEqual(map.get('late'), { n: 0 });
  b.dispose();
});

test('rocksdb map: snapshot bytes are the canonical format: RocksDB → heap and heap → RocksDB restores, also rescaled', () => {
  const fill = (b: KeyedStateBackend): void => {
    const map = b.getMapState(mapD);
    for (let k = 0; k < 60; k++) {
      const key = k % 3 === 0 ? ['arr', k] : k % 3 === 1 ? `s${k}` : k;
      b.setCurrentKey(key);
      // Sizes on both sides of the one-byte size limit (255).
      const size = k === 7 ? 300 : 1 + (k % 5);
      for (let i = 0; i < size; i++) map.put(i % 2 === 0 ? `u${i}` : ['uk', i, 2n], { i, k });
    }
  };
  const source = rocksdb(4_000);
  fill(source);
  const reference = heap();
  fill(reference);
  const s = source.snapshot();
  const r = reference.snapshot();
  const expected = mapView(r);
  assert.deepEqual(mapView(s), expected);

  // The encoded entries decode to the same maps (the writer copies them into files as they are).
  for (let kg = 0; kg < MAX; kg++) {
    const enc = s.encodedEntries!('m', kg);
    const w = new ByteWriter(Buffer.alloc(64));
    let count = 0;
    while (!enc.done) count += enc.encodeInto(w, 100, 3);
    const reader = new ByteReader(w.bytes, 0, w.pos);
    const decoded: [unknown, unknown][] = [];
    for (let i = 0; i < count; i++) decoded.push([readValue(reader), readStored(reader, 'map')]);
    assert.equal(reader.pos, w.pos);
    assert.deepEqual(
      decoded.map(([k, v]) => [text(k), (v as Map<unknown, unknown>).size]).sort(),
      [...r.entries('m', kg)].map(([k, v]) => [text(k), (v as Map<unknown, unknown>).size]).sort(),
    );
  }

  // RocksDB → heap, rescaled to 3; heap → RocksDB, rescaled to 3 then merged back into 1.
  const data = exported(s);
  const heapData = exported(r);
  const parts: KeyedStateSnapshotData[][] = [];
  for (let i = 0; i < 3; i++) {
    const range = { start: Math.floor((i * MAX) / 3), end: Math.floor(((i + 1) * MAX) / 3) - 1 };
    const h = heap(range);
    h.restore(data);
    const hv = h.snapshot();
    assert.deepEqual(mapView(hv, range), new Map([...expected].filter(([k]) => { const kg = assignToKeyGroup(JSON.parse(k), MAX); return kg >= range.start && kg <= range.end; })));
    const rb = rocksdb(3_000, range);
    rb.restore(heapData);
    const rv = rb.snapshot();
    assert.deepEqual(mapView(rv, range), mapView(hv, range));
    hv.release();
    parts.push(exported(rv, range));
    rv.release();
    rb.dispose();
  }
  const merged = rocksdb(3_000);
  merged.restore(parts.flat());
  const mv = merged.snapshot();
  assert.deepEqual(mapView(mv), expected);
  mv.release();
  const m = merged.getMapState(mapD);
  merged.setCurrentKey(['arr', 3]);
  assert.deepEqual(m.get(['uk', 1, 2n]), { i: 1, k: 3 });
  assert.deepEqual([...m.keys()].length, 4);
  merged.setCurrentKey('s7'); // k = 7: a string key, the one map of 300 entries
  assert.equal([...m.values()].length, 300);
  s.release();
  r.release();
  merged.dispose();
  source.dispose();
});

test('rocksdb map: a restore into a backend in use replaces each restored key\'s whole map', () => {
  const b = rocksdb(64 * 1024 * 1024);
  const map = b.getMapState(new MapStateDescriptor<string, number>('m'));
  b.setCurrentKey('k');
  map.put('old', 1);
  map.put('both', 1);
  b.restore([{ name: 'm', kind: 'map', keyGroup: assignToKeyGroup('k', MAX), entries: [['k', [['both', 2], ['new', 3]]]] }]);
  assert.deepEqual([...map.entries()].sort(), [['both', 2], ['new', 3]]);
  b.dispose();
});
