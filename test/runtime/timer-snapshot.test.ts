/**
 * The timer snapshot of a checkpoint: a copy of the timer service's timers in flat arrays, taken
 * at the barrier and read timer by timer while the files are written. It must not change when
 * timers are registered, deleted or fired after the barrier, and the files written from it hold
 * the same bytes as ever (TIMERS frames of the documented layout).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InternalTimerService, type TimeDomain, type TimerTarget } from '../../src/runtime/timer-service.ts';
import { ManualScheduler } from '../../src/core/time.ts';
import {
  EMPTY_TIMER_SNAPSHOTS,
  TimerSnapshotBuilder,
  timerSnapshotSetOf,
  timerSnapshotsToArray,
  type TimerSnapshot,
  type TimerSnapshotSet,
} from '../../src/state/timer-snapshot.ts';
import { readKeyedState, writeKeyedState } from '../../src/state/heap/keyed-state-files.ts';
import type { KeyedStateSnapshot } from '../../src/state/keyed-state-backend.ts';
import type { StateFileHandle } from '../../src/state/state-file.ts';
import type { StateFileSink } from '../../src/state/state-backend.ts';
import { ByteWriter, writeValue } from '../../src/state/state-codec.ts';
import { canonicalKey } from '../../src/core/key-group.ts';
import { DOMAIN_EVENT, DOMAIN_PROCESSING, FRAME_END, FRAME_TIMERS, HEADER_BYTES } from '../../src/state/heap/keyed-state-files/keyed-state-file-format.ts';

function service(): { svc: InternalTimerService<string>; scheduler: ManualScheduler; fired: [TimeDomain, string, number][] } {
  const scheduler = new ManualScheduler(0);
  const fired: [TimeDomain, string, number][] = [];
  const target: TimerTarget<string> = { onTimer: (domain, key, ts) => void fired.push([domain, key, ts]) };
  return { svc: new InternalTimerService<string>({ scheduler, target }), scheduler, fired };
}

/** Every timer read through a cursor (checks that the cursor stays at its last timer once done). */
function viaCursor<K>(set: TimerSnapshotSet<K>): TimerSnapshot<K>[] {
  const out: TimerSnapshot<K>[] = [];
  const c = set.cursor();
  while (c.next()) out.push({ domain: c.domain, key: c.key, keyGroup: c.keyGroup, timestamp: c.timestamp });
  assert.equal(c.next(), false, 'a finished cursor stays finished');
  assert.equal(out.length, set.size);
  return out;
}

const NO_STATES: KeyedStateSnapshot = { states: [], entries: () => [], release() {} };

/** Writes timers alone into in-memory files; returns the payloads and their handles. */
async function writeTimers(timers: TimerSnapshotSet<unknown>): Promise<{ payloads: Uint8Array[]; files: readonly StateFileHandle[] }> {
  const payloads = new Map<string, Uint8Array>();
  const sink: StateFileSink = async (name, payload) => {
    payloads.set(name, Uint8Array.from(payload));
    return { path: name, size: payload.byteLength } as StateFileHandle;
  };
  const { files } = await writeKeyedState({ snapshot: NO_STATES, keyGroupRange: { start: 0, end: 127 }, filePrefix: 'op-t-0', sink, timers });
  return { payloads: files.map((f) => payloads.get(f.path)!), files };
}

test('a snapshot keeps the timers of the barrier while timers are added, deleted, fired and compacted afterwards', () => {
  const { svc, fired } = service();
  for (let k = 0; k < 300; k++) svc.registerEventTimeTimer(`k${k}`, `k${k}`, k % 128, 100); // one large bucket
  for (let k = 0; k < 5; k++) svc.registerEventTimeTimer(`e${k}`, `e${k}`, 7, 50 + k); // small buckets
  svc.registerEventTimeTimer('k0', 'k0', 0, 100); // a duplicate: not added
  svc.deleteEventTimeTimer('k1', 'k1', 100); // deleted before the barrier: not in the snapshot
  svc.registerProcessingTimeTimer('p', 'p', 9, 1_000);
  const expected: TimerSnapshot<string>[] = [
    ...[0, 1, 2, 3, 4].map((k) => ({ domain: 'event' as const, key: `e${k}`, keyGroup: 7, timestamp: 50 + k })),
    ...Array.from({ length: 300 }, (_, k) => k)
      .filter((k) => k !== 1)
      .map((k) => ({ domain: 'event' as const, key: `k${k}`, keyGroup: k % 128, timestamp: 100 })),
    { domain: 'processing', key: 'p', keyGroup: 9, timestamp: 1_000 },
  ];
  const snap = svc.snapshotTimers();
  assert.equal(snap.size, expected.length);
  assert.deepEqual(viaCursor(snap), expected);

  // After the barrier: new timers in existing and new buckets, deletions (enough to compact the
  // large bucket), firing part of the timers, and a re-registration of a fired timer.
  svc.registerEventTimeTimer('late', 'late', 1, 100);
  svc.registerEventTimeTimer('new', 'new', 2, 75);
  svc.registerProcessingTimeTimer('q', 'q', 3, 2_000);
  for (let k = 2; k < 250; k++) svc.deleteEventTimeTimer(`k${k}`, `k${k}`, 100);
  svc.deleteProcessingTimeTimer('p', 'p', 1_000);
  svc.advanceWatermark(52);
  assert.deepEqual(fired, [['event', 'e0', 50], ['event', 'e1', 51], ['event', 'e2', 52]]);
  svc.registerEventTimeTimer('e0', 'e0', 7, 50); // fires at once on the next watermark
  svc.advanceWatermark(53);
  assert.ok(svc.numEventTimeTimers() < expected.length - 100, 'the timers did change');

  assert.equal(snap.size, expected.length);
  assert.deepEqual(viaCursor(snap), expected, 'the snapshot still holds the timers of the barrier');
  assert.deepEqual(timerSnapshotsToArray(snap), expected);
  // A second snapshot sees the changes, and the first one still does not.
  const now = timerSnapshotsToArray(svc.snapshotTimers());
  assert.ok(now.some((t) => t.key === 'late') && !now.some((t) => t.key === 'k3'));
  assert.deepEqual(viaCursor(snap), expected);
});

test('the timers written from a snapshot are those of the barrier, though the service changed before the write', async () => {
  const { svc } = service();
  for (let k = 0; k < 1000; k++) svc.registerEventTimeTimer(`k${k}`, `k${k}`, k % 128, 1_000 + (k % 3));
  for (let k = 0; k < 10; k++) svc.registerProcessingTimeTimer(`p${k}`, `p${k}`, k, 5_000 + k);
  const snap = svc.snapshotTimers();
  const expected = timerSnapshotsToArray(snap);
  for (let k = 0; k < 1000; k += 2) svc.deleteEventTimeTimer(`k${k}`, `k${k}`, 1_000 + (k % 3));
  svc.advanceWatermark(1_001);
  for (let k = 0; k < 50; k++) svc.registerEventTimeTimer(`n${k}`, `n${k}`, 1, 900);

  const { payloads, files } = await writeTimers(snap);
  assert.equal(payloads.length, 1);
  const read = async (h: StateFileHandle): Promise<Uint8Array> => payloads[files.indexOf(h)]!;
  const back = await readKeyedState(files, read, { start: 0, end: 127 });
  assert.equal(back.timers.length, 1010);
  assert.deepEqual(
    back.timers,
    expected.map((t) => ({ ...t, canonical: canonicalKey(t.key) })),
  );
});

test('timer frames hold the documented layout: 256 timers a frame, domain, key, key group and timestamp', async () => {
  const timers: TimerSnapshot<unknown>[] = [];
  for (let i = 0; i < 600; i++) {
    const key = i % 5 === 0 ? i : i % 5 === 1 ? [`a${i}`, i] : `key-${i}`;
    timers.push({ domain: i % 4 === 0 ? 'processing' : 'event', key, keyGroup: i % 128, timestamp: 1_700_000_000_000 + Math.floor(i / 7) * 0.5 });
  }
  const { payloads } = await writeTimers(timerSnapshotSetOf(timers));
  assert.equal(payloads.length, 1);
  const payload = payloads[0]!;
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);

  const bodies: Uint8Array[] = [];
  let offset = HEADER_BYTES;
  for (;;) {
    const length = view.getUint32(offset, true);
    const type = payload[offset + 4];
    if (type === FRAME_END) {
      assert.deepEqual([view.getUint32(offset + 5, true), view.getUint32(offset + 9, true), view.getUint32(offset + 13, true)], [3, 0, 600]);
      break;
    }
    assert.equal(type, FRAME_TIMERS);
    bodies.push(payload.subarray(offset + 5, offset + 4 + length));
    offset += 4 + length;
  }
  const expected = [timers.slice(0, 256), timers.slice(256, 512), timers.slice(512)].map((batch) => {
    const w = new ByteWriter(Buffer.alloc(64));
    w.u32(batch.length);
    for (const t of batch) {
      w.u8(t.domain === 'event' ? DOMAIN_EVENT : DOMAIN_PROCESSING);
      writeValue(w, t.key);
      w.u32(t.keyGroup);
      w.f64(t.timestamp);
    }
    return Uint8Array.from(w.bytes.subarray(0, w.pos));
  });
  assert.deepEqual(
    bodies.map((b) => Buffer.from(b).toString('hex')),
    expected.map((b) => Buffer.from(b).toString('hex')),
  );
});

test('a timer snapshot set: runs of equal (domain, timestamp), cursor and forEach agree, more runs than announced', () => {
  const timers: TimerSnapshot<string>[] = [
    { domain: 'event', key: 'a', keyGroup: 1, timestamp: 10 },
    { domain: 'event', key: 'b', keyGroup: 2, timestamp: 10 },
    { domain: 'processing', key: 'c', keyGroup: 3, timestamp: 10 },
    { domain: 'event', key: 'd', keyGroup: 4, timestamp: -0 },
    { domain: 'event', key: 'e', keyGroup: 5, timestamp: 0 },
    { domain: 'event', key: 'f', keyGroup: 32767, timestamp: Number.MAX_VALUE },
    { domain: 'processing', key: 'g', keyGroup: 0, timestamp: -Infinity },
  ];
  const set = timerSnapshotSetOf(timers);
  assert.equal(set.size, timers.length);
  assert.deepEqual(viaCursor(set), timers);
  assert.ok(Object.is(viaCursor(set)[3]!.timestamp, -0), 'a timestamp of -0 stays -0 (its bytes are written as they are)');
  const visited: unknown[] = [];
  set.forEach((domain, key, keyGroup, timestamp) => {
    visited.push({ domain, key, keyGroup, timestamp });
  });
  assert.deepEqual(visited, timers);
  timers.length = 0;
  assert.equal(set.size, 7, 'the set copied the array');

  // Runs copied from arrays with deleted entries: long ones (sliced whole) and short ones
  // (appended to shared arrays), between single timers; the marker is left out when reading.
  const DEL = Symbol('deleted');
  const source: unknown[] = Array.from({ length: 200 }, (_, i) => (i % 3 === 0 ? DEL : i));
  const groups = Array.from({ length: 200 }, (_, i) => i % 128);
  const b = new TimerSnapshotBuilder<number>(DEL);
  const want: TimerSnapshot<number>[] = [];
  const run = (domain: TimeDomain, timestamp: number, from: number, to: number): void => {
    let count = 0;
    for (let i = from; i < to; i++) {
      if (source[i] === DEL) continue;
      count++;
      want.push({ domain, key: i, keyGroup: i % 128, timestamp });
    }
    b.addRun(domain, timestamp, source, groups, from, to, count);
  };
  run('event', 1, 0, 150); // long
  b.add('event', 1, -1, 5); // a single timer after a long run of the same timestamp
  want.push({ domain: 'event', key: -1, keyGroup: 5, timestamp: 1 });
  run('event', 2, 150, 160); // short
  run('event', 3, 3, 4); // only a deleted entry: nothing
  run('processing', 2, 160, 200); // short
  run('processing', 4, 1, 200); // long
  assert.throws(() => b.addRun('event', 5, source, groups, 0, 10, 9), /said to hold 9 timers holds 6/);
  assert.throws(() => b.addRun('event', 5, source, groups, 0, 201, 1), /invalid run/);
  const copied = b.build();
  source.fill(DEL); // the set copied what it holds
  groups.fill(0);
  assert.equal(copied.size, want.length);
  assert.deepEqual(viaCursor(copied), want);
  assert.deepEqual(timerSnapshotsToArray(copied), want);
  assert.throws(() => b.build(), /already built/);

  // A builder that expected fewer timers and runs grows.
  const small = new TimerSnapshotBuilder<number>(DEL, { timers: 1, runs: 1 });
  const many: TimerSnapshot<number>[] = [];
  for (let i = 0; i < 100; i++) {
    const t = { domain: i % 2 === 0 ? ('event' as const) : ('processing' as const), key: i, keyGroup: i, timestamp: Math.floor(i / 4) };
    small.add(t.domain, t.timestamp, t.key, t.keyGroup);
    many.push(t);
  }
  small.addRun('event', 7, [1, 2, DEL, 3], [4, 5, 6, 7], 0, 4, 3);
  many.push(...[[1, 4], [2, 5], [3, 7]].map(([key, keyGroup]) => ({ domain: 'event' as const, key: key!, keyGroup: keyGroup!, timestamp: 7 })));
  assert.deepEqual(viaCursor(small.build()), many);

  assert.equal(EMPTY_TIMER_SNAPSHOTS.size, 0);
  assert.equal(EMPTY_TIMER_SNAPSHOTS.cursor().next(), false);
  assert.throws(() => new TimerSnapshotBuilder(DEL).add('event', 1, DEL, 0), /skip marker/);
});

test('a snapshot of an empty service, and of timers only of one domain', () => {
  const { svc } = service();
  assert.equal(svc.snapshotTimers().size, 0);
  svc.registerProcessingTimeTimer('x', 'x', 4, 30);
  svc.registerProcessingTimeTimer('y', 'y', 5, 20);
  assert.deepEqual(timerSnapshotsToArray(svc.snapshotTimers()), [
    { domain: 'processing', key: 'y', keyGroup: 5, timestamp: 20 },
    { domain: 'processing', key: 'x', keyGroup: 4, timestamp: 30 },
  ]);
});
