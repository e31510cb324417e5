/**
 * Timers firing on the RocksDB backend read their keys' state ahead in chunks
 * (InternalTimerService with a TimerPrefetch over RocksDBKeyedStateBackend.prefetch): with far
 * more keys than the cache holds, every timer fires in order with its key's state and without a
 * synchronous read of RocksDB per key; timers that register (already due) or delete timers
 * while firing fire exactly as without the prefetch; processing-time timers do the same.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ValueStateDescriptor } from '../../src/api/state.ts';
import { canonicalKey } from '../../src/core/key-group.ts';
import { ManualScheduler } from '../../src/core/time.ts';
import { InternalTimerService, type CanonicalKey, type TimeDomain, type TimerPrefetch } from '../../src/runtime/timer-service.ts';
import { RocksDBKeyedStateBackend } from '../../src/state/rocksdb/rocksdb-keyed-state-backend.ts';

const root = mkdtempSync(join(tmpdir(), 'weir-rocksdb-timers-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;

function backend(cacheBytes: number): RocksDBKeyedStateBackend {
  return new RocksDBKeyedStateBackend({
    maxParallelism: 128,
    keyGroupRange: { start: 0, end: 127 },
    cacheBytes,
    path: join(root, `db-${n++}`),
    writeBufferSize: 1 << 20,
    maxWriteBufferNumber: 2,
    blockCache: true,
    where: 'test operator',
  });
}

const valueD = new ValueStateDescriptor<number>('value');

type Fired = [TimeDomain, number, number, number | undefined];

/**
 * A timer service on `b` whose target records (domain, key, timestamp, the key's state) and then
 * runs `then`; with `prefetch`, reading ahead as the keyed operators do (chunks of a quarter of
 * the cache), the promises it suspends on collected in `suspended`.
 */
function timers(
  b: RocksDBKeyedStateBackend,
  prefetch: boolean,
  then?: (svc: InternalTimerService<number>, domain: TimeDomain, key: number, ts: number) => void,
): { svc: InternalTimerService<number>; fired: Fired[]; scheduler: ManualScheduler; suspended: PromiseLike<unknown>[]; reads: number[] } {
  const scheduler = new ManualScheduler(0);
  const fired: Fired[] = [];
  const suspended: PromiseLike<unknown>[] = [];
  const reads: number[] = [];
  const state = b.getValueState(valueD);
  const p: TimerPrefetch<number> = {
    chunk: () => Math.max(1, Math.min(4096, Math.floor(b.prefetchCapacity() / 4))),
    read: (keys) => {
      reads.push(keys.length);
      return b.prefetch(keys);
    },
    suspendUntil: (promise) => void suspended.push(promise),
  };
  const svc: InternalTimerService<number> = new InternalTimerService<number>({
    scheduler,
    prefetch: prefetch ? p : undefined,
    target: {
      onTimer(domain, key, ts) {
        b.setCurrentKey(key);
        fired.push([domain, key, ts, state.value()]);
        then?.(svc, domain, key, ts);
      },
    },
  });
  return { svc, fired, scheduler, suspended, reads };
}

/** Registers an event-time (or processing-time) timer of `key` at `ts`, as the operators do. */
function register(svc: InternalTimerService<number>, b: RocksDBKeyedStateBackend, key: number, ts: number, domain: TimeDomain = 'event'): void {
  b.setCurrentKey(key);
  const canonical: CanonicalKey = canonicalKey(key);
  if (domain === 'event') svc.registerEventTimeTimer(key, canonical, b.getCurrentKeyGroup(), ts);
  else svc.registerProcessingTimeTimer(key, canonical, b.getCurrentKeyGroup(), ts);
}

/** Writes state for keys [0, keys) and pushes it out of the cache (a snapshot writes it all back). */
function fill(b: RocksDBKeyedStateBackend, keys: number): void {
  const state = b.getValueState(valueD);
  for (let k = 0; k < keys; k++) {
    b.setCurrentKey(k);
    state.update(k * 3);
  }
  b.snapshot().release();
}

test('rocksdb timers: 3,000 keys, cache of ~300 entries: each fires in order with its state, read ahead in chunks, not by a synchronous read per key', async () => {
  const KEYS = 3_000;
  const expected: Fired[] = [];
  // Timestamps: 20 distinct ones, each shared by many keys (ties fire in registration order).
  const tsOf = (k: number) => 100 + ((k * 7) % 20);
  for (const ts of [...new Set(Array.from({ length: KEYS }, (_, k) => tsOf(k)))].sort((a, c) => a - c)) {
    for (let k = 0; k < KEYS; k++) if (tsOf(k) === ts) expected.push(['event', k, ts, k * 3]);
  }
  for (const prefetch of [false, true]) {
    const b = backend(40_000);
    try {
      fill(b, KEYS);
      const { svc, fired, reads } = timers(b, prefetch);
      for (let k = 0; k < KEYS; k++) register(svc, b, k, tsOf(k));
      // A key not read since: the cache holds the last few hundred keys written.
      assert.ok(b.cachedEntries < 600, `cache holds ${b.cachedEntries} entries`);
      const missesBefore = b.cacheMisses;
      const firing = svc.advanceWatermark(1_000);
      if (!prefetch) {
        assert.equal(firing, undefined, 'without a prefetch everything fires in the call');
        assert.ok(b.cacheMisses - missesBefore > KEYS * 0.9, `without prefetch: ${b.cacheMisses - missesBefore} synchronous reads`);
      } else {
        assert.ok(firing !== undefined, 'fires asynchronously once a chunk must be read');
        assert.ok(fired.length < KEYS, 'nothing beyond the cached chunks fired before the first read');
        await firing;
        const misses = b.cacheMisses - missesBefore;
        assert.ok(misses <= KEYS / 100, `with prefetch: ${misses} synchronous reads for ${KEYS} timers`);
        const chunk = Math.floor(b.prefetchCapacity() / 4);
        assert.ok(reads.length >= KEYS / 1_000, `${reads.length} reads ahead`);
        assert.ok(Math.max(...reads) <= Math.max(chunk * 2, 1), `chunks of at most ${Math.max(...reads)} keys, capacity ${b.prefetchCapacity()}`);
      }
      assert.equal(fired.length, KEYS);
      assert.deepEqual(fired, expected, 'timestamp order, ties in registration order, each with its own state');
      assert.equal(svc.numEventTimeTimers(), 0);
    } finally {
      b.dispose();
    }
  }
});

test('rocksdb timers: registering already-due timers and deleting pending ones while firing in chunks fires exactly as firing all at once', async () => {
  const KEYS = 3_000;
  // Every third key's first timer registers an earlier, already-due timer of its key (it fires
  // next, before the rest of the chunk) and one later but still due; every other third deletes
  // its key's second timer (already read ahead in the same or a later chunk); the rest
  // registers a timer beyond the watermark, which must not fire.
  const react = (svc: InternalTimerService<number>, b: RocksDBKeyedStateBackend) => (_svc: InternalTimerService<number>, _d: TimeDomain, key: number, ts: number) => {
    if (ts !== 200) return;
    const canonical = canonicalKey(key);
    if (key % 3 === 0) {
      register(svc, b, key, 150);
      register(svc, b, key, 999);
    } else if (key % 3 === 1) {
      svc.deleteEventTimeTimer(key, canonical, 300);
    } else {
      register(svc, b, key, 5_000);
    }
  };
  const runs: Fired[][] = [];
  for (const prefetch of [false, true]) {
    const b = backend(30_000);
    try {
      fill(b, KEYS);
      let svc!: InternalTimerService<number>;
      const t = timers(b, prefetch, (s, d, k, ts) => react(svc, b)(s, d, k, ts));
      svc = t.svc;
      for (let k = 0; k < KEYS; k++) register(svc, b, k, 200);
      for (let k = 0; k < KEYS; k++) register(svc, b, k, 300);
      const firing = svc.advanceWatermark(1_000);
      assert.equal(firing === undefined, !prefetch);
      await firing;
      assert.equal(svc.numEventTimeTimers(), KEYS / 3, 'only the timers beyond the watermark are left');
      runs.push(t.fired);
    } finally {
      b.dispose();
    }
  }
  const [plain, chunked] = runs as [Fired[], Fired[]];
  // 200 for all, 150 and 999 for a third, 300 for two thirds.
  assert.equal(plain.length, KEYS + (2 * KEYS) / 3 + (2 * KEYS) / 3);
  assert.deepEqual(chunked, plain);
  for (let i = 1; i < plain.length; i++) {
    const [, , ts] = plain[i]!;
    const [, , prev] = plain[i - 1]!;
    // 150 fires right after the 200 that registered it: the only step back in time.
    assert.ok(ts >= prev || ts === 150, `fired ${ts} after ${prev}`);
  }
});

test('rocksdb timers: processing-time timers fire in chunks read ahead, the task suspended until the last fired, then the next wake-up is armed', async () => {
  const KEYS = 4_000;
  const b = backend(30_000);
  try {
    fill(b, KEYS);
    const { svc, fired, scheduler, suspended } = timers(b, true, (s, _d, key, ts) => {
      if (ts === 50) register(s, b, key, 120, 'processing');
    });
    for (let k = 0; k < KEYS; k++) register(svc, b, k, 50, 'processing');
    const missesBefore = b.cacheMisses;
    scheduler.advanceTo(60);
    assert.equal(suspended.length, 1, 'the wake-up suspended the task while chunks are read');
    await suspended[0];
    assert.equal(fired.length, KEYS);
    assert.ok(fired.every(([d, k, ts, v]) => d === 'processing' && ts === 50 && v === k * 3));
    assert.ok(b.cacheMisses - missesBefore <= KEYS / 100, `${b.cacheMisses - missesBefore} synchronous reads`);
    // Timers registered while firing (at 120) are armed once the firing ended.
    assert.equal(svc.numProcessingTimeTimers(), KEYS);
    scheduler.advanceTo(130);
    assert.equal(suspended.length, 2);
    await suspended[1];
    assert.equal(fired.length, 2 * KEYS);
    assert.equal(svc.numProcessingTimeTimers(), 0);
  } finally {
    b.dispose();
  }
});

test('rocksdb timers: closing the service while a chunk is read stops the firing; the promise settles', async () => {
  const b = backend(20_000);
  try {
    fill(b, 2_000);
    const { svc, fired } = timers(b, true);
    for (let k = 0; k < 2_000; k++) register(svc, b, k, 10);
    const firing = svc.advanceWatermark(10);
    assert.ok(firing !== undefined);
    const before = fired.length;
    svc.close();
    await firing;
    assert.equal(fired.length, before, 'nothing fired after close()');
  } finally {
    b.dispose();
  }
});
