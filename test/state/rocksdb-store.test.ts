/**
 * The RocksDB I/O thread's ordering contract (rocksdb-io-worker.mjs): reads run beside writes,
 * checkpoints and scans still under way, yet a read posted after a write sees it, a RocksDB
 * snapshot sees exactly the writes posted before it, and a checkpoint's copy holds them.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { observeRocksDBRequests, type RocksDBRequestTiming } from '../../src/state/rocksdb/rocksdb-bridge.ts';
import { RocksDBStore } from '../../src/state/rocksdb/rocksdb-store.ts';

const root = mkdtempSync(join(tmpdir(), 'weir-rocksdb-store-test-'));
after(() => rmSync(root, { recursive: true, force: true }));

const key = (i: number) => Buffer.from(`key-${String(i).padStart(6, '0')}`, 'latin1');
const val = (i: number, round: number) => Buffer.from(`value-${i}-${round}-${'x'.repeat(200)}`, 'latin1');
const text = (v: Uint8Array | undefined) => (v === undefined ? undefined : Buffer.from(v).toString('latin1'));
const open = (name: string) => new RocksDBStore({ path: join(root, name), writeBufferSize: 4 * 2 ** 20, maxWriteBufferNumber: 2, blockCache: true });

test('rocksdb store: a read sees every write posted before it while writes, a flush and a copy are still under way', async () => {
  const store = open('order');
  try {
    const n = 20_000;
    for (let i = 0; i < n; i++) store.write(key(i), val(i, 0));
    const copy0 = store.checkpoint(join(root, 'order-chk-0'));
    // Overwrites and deletions posted behind the copy, then read at once, synchronously and batched.
    for (let round = 1; round <= 3; round++) {
      for (let i = round; i < n; i += 7) store.write(key(i), i % 3 === 0 ? null : val(i, round));
      for (let i = round; i < n; i += 707) {
        assert.equal(text(store.getSync(key(i))), i % 3 === 0 ? undefined : val(i, round).toString('latin1'), `key ${i} round ${round}`);
      }
      const sample = Array.from({ length: 50 }, (_, j) => round + 7 * j * 37);
      const got = await store.getMany(sample.map(key));
      for (const [j, i] of sample.entries()) assert.equal(text(got[j]), i % 3 === 0 ? undefined : val(i, round).toString('latin1'));
    }
    // A key never overwritten reads from RocksDB itself.
    assert.equal(text(store.getSync(key(5))), val(5, 0).toString('latin1'));
    const copied = await copy0;
    assert.ok(copied.ssts.length > 0, 'the copy lists SST files');
  } finally {
    store.close();
  }
});

test('rocksdb store: a snapshot sees exactly the writes posted before it; reads do not wait behind a checkpoint', async () => {
  const store = open('snapshot');
  const timings: RocksDBRequestTiming[] = [];
  observeRocksDBRequests((t) => timings.push(t));
  try {
    for (let i = 0; i < 5000; i++) store.write(key(i), val(i, 1));
    const copying = store.checkpoint(join(root, 'snapshot-chk'));
    const snapshot = store.snapshot();
    for (let i = 0; i < 5000; i++) store.write(key(i), val(i, 2));
    assert.equal(text(store.getSync(key(42))), val(42, 2).toString('latin1'));
    const view = await snapshot;
    await copying;
    const scanned = store.scanSync({ start: key(0), end: key(5000), limit: 10_000, snapshot: view });
    assert.equal(scanned.entries.length, 5000);
    for (const e of scanned.entries) assert.match(Buffer.from(e.value).toString('latin1'), /^value-\d+-1-/);
    store.releaseSnapshot(view);
    const live = store.scanSync({ start: key(0), end: key(5000), limit: 10_000 });
    for (const e of live.entries) assert.match(Buffer.from(e.value).toString('latin1'), /^value-\d+-2-/);
    // Every answer said how long it waited in the I/O thread; the synchronous get did not queue
    // behind the writes and the copy posted before it (its queue time is only the dispatch).
    const get = timings.find((t) => t.op === 'get' && t.how === 'sync');
    assert.ok(get !== undefined && get.queuedMs < get.answeredAt - get.postedAt + 1);
  } finally {
    observeRocksDBRequests(undefined);
    store.close();
  }
});

test('rocksdb store: a write watch sees the writes and range deletions made while it is under way, and only those; watches may overlap', () => {
  const store = open('watch');
  try {
    store.write(key(1), val(1, 0));
    const first = store.watchWrites();
    assert.equal(store.writtenSince(key(1), first), false, 'a write before the watch is not seen');
    store.write(key(2), val(2, 0));
    const second = store.watchWrites();
    store.write(key(3), null);
    assert.deepEqual([2, 3].map((i) => store.writtenSince(key(i), first)), [true, true]);
    assert.deepEqual([2, 3].map((i) => store.writtenSince(key(i), second)), [false, true]);
    store.endWatch(first);
    store.deleteRange(key(10), key(20));
    assert.deepEqual([9, 10, 19, 20].map((i) => store.writtenSince(key(i), second)), [false, true, true, false]);
    assert.equal(store.writtenSince(key(15), first), false, 'an ended watch sees nothing more');
    store.endWatch(second);
  } finally {
    store.close();
  }
});
