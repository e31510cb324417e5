import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { InternalTimerService, type TimeDomain, type TimerTarget } from '../../src/runtime/timer-service.ts';
import { ManualScheduler } from '../../src/core/time.ts';
import { timerSnapshotsToArray } from '../../src/state/timer-snapshot.ts';
import { MAX_WATERMARK, MIN_WATERMARK } from '../../src/api/watermark-strategy.ts';

type Fired = [TimeDomain, string, number];

function setup(
  onTimer?: (svc: InternalTimerService<string>, domain: TimeDomain, key: string, ts: number) => void,
  start = 0,
): { svc: InternalTimerService<string>; scheduler: ManualScheduler; fired: Fired[] } {
  const scheduler = new ManualScheduler(start);
  const fired: Fired[] = [];
  let svc: InternalTimerService<string>;
  const target: TimerTarget<string> = {
    onTimer(domain, key, ts) {
      fired.push([domain, key, ts]);
      onTimer?.(svc, domain, key, ts);
    },
  };
  svc = new InternalTimerService<string>({ scheduler, target });
  return { svc, scheduler, fired };
}

test('event timers fire in timestamp order at watermark advance, once each', () => {
  const { svc, fired } = setup();
  svc.registerEventTimeTimer('a', 'a', 0, 30);
  svc.registerEventTimeTimer('b', 'b', 1, 10);
  svc.registerEventTimeTimer('c', 'c', 2, 20);
  svc.registerEventTimeTimer('d', 'd', 3, 40);
  assert.equal(svc.currentWatermark(), MIN_WATERMARK);
  svc.advanceWatermark(25);
  assert.deepEqual(fired, [['event', 'b', 10], ['event', 'c', 20]]);
  assert.equal(svc.currentWatermark(), 25);
  assert.equal(svc.numEventTimeTimers(), 2);
  svc.advanceWatermark(30); // fires exactly at the timestamp
  svc.advanceWatermark(30);
  assert.deepEqual(fired.slice(2), [['event', 'a', 30]]);
  svc.advanceWatermark(MAX_WATERMARK);
  assert.deepEqual(fired.slice(3), [['event', 'd', 40]]);
  assert.equal(svc.numEventTimeTimers(), 0);
});

test('ties fire in registration order; a watermark that does not advance is ignored', () => {
  const { svc, fired } = setup();
  svc.registerEventTimeTimer('x', 'x', 0, 5);
  svc.registerEventTimeTimer('y', 'y', 0, 5);
  svc.registerEventTimeTimer('w', 'w', 0, 5);
  svc.advanceWatermark(10);
  assert.deepEqual(fired.map((f) => f[1]), ['x', 'y', 'w']);
  svc.registerEventTimeTimer('late', 'late', 0, 7); // below the watermark: waits for the next advance
  svc.advanceWatermark(9);
  svc.advanceWatermark(10);
  assert.equal(fired.length, 3);
  svc.advanceWatermark(11);
  assert.deepEqual(fired[3], ['event', 'late', 7]);
});

test('one timer per (domain, key, timestamp); deleting a missing one is harmless', () => {
  const { svc, scheduler, fired } = setup();
  svc.registerEventTimeTimer('k', 'k', 0, 10);
  svc.registerEventTimeTimer('k', 'k', 0, 10);
  svc.registerEventTimeTimer('k', 'k', 0, 11);
  svc.registerEventTimeTimer('k2', 'k2', 0, 10);
  svc.registerProcessingTimeTimer('k', 'k', 0, 10); // other domain: separate
  assert.equal(svc.numEventTimeTimers(), 3);
  assert.equal(svc.numProcessingTimeTimers(), 1);
  svc.deleteEventTimeTimer('k', 'k', 99);
  svc.deleteEventTimeTimer('zz', 'zz', 10);
  svc.deleteProcessingTimeTimer('k', 'k', 11);
  assert.equal(svc.numEventTimeTimers(), 3);
  svc.advanceWatermark(20);
  assert.deepEqual(fired, [['event', 'k', 10], ['event', 'k2', 10], ['event', 'k', 11]]);
  scheduler.advance(10);
  assert.deepEqual(fired[3], ['processing', 'k', 10]);
});

test('canonical forms identify keys: equal canonicals dedup, distinct types do not collide', () => {
  const scheduler = new ManualScheduler();
  const fired: unknown[] = [];
  const svc = new InternalTimerService<object>({ scheduler, target: { onTimer: (_d, k) => void fired.push(k) } });
  const first = { id: 1 };
  svc.registerEventTimeTimer(first, 'id:1', 0, 5);
  svc.registerEventTimeTimer({ id: 1 }, 'id:1', 0, 5); // equal key, other object
  svc.registerEventTimeTimer({ n: 1 }, 1, 0, 5);
  svc.registerEventTimeTimer({ s: '1' }, '1', 0, 5);
  svc.registerEventTimeTimer({ b: 1n }, 1n, 0, 5);
  svc.registerEventTimeTimer({ t: true }, true, 0, 5);
  assert.equal(svc.numEventTimeTimers(), 5);
  svc.advanceWatermark(5);
  assert.equal(fired[0], first, 'the first registration keeps its key');
  assert.equal(fired.length, 5);
});

test('delete removes a timer; re-registering after delete counts as a new registration', () => {
  const { svc, fired } = setup();
  svc.registerEventTimeTimer('a', 'a', 0, 10);
  svc.registerEventTimeTimer('b', 'b', 0, 10);
  svc.registerEventTimeTimer('c', 'c', 0, 5);
  svc.deleteEventTimeTimer('c', 'c', 5);
  svc.deleteEventTimeTimer('a', 'a', 10);
  svc.registerEventTimeTimer('a', 'a', 0, 10);
  assert.equal(svc.numEventTimeTimers(), 2);
  svc.advanceWatermark(10);
  assert.deepEqual(fired.map((f) => f[1]), ['b', 'a']);
});

test('timers registered during firing fire in the same call when at or below the watermark', () => {
  const { svc, fired } = setup((s, _d, key, ts) => {
    if (key === 'a' && ts === 10) {
      s.registerEventTimeTimer('a', 'a', 0, 15); // due within this advance
      s.registerEventTimeTimer('a', 'a', 0, 12); // due, and earlier than the other pending one
      s.registerEventTimeTimer('a', 'a', 0, 100); // not yet
      s.deleteEventTimeTimer('b', 'b', 20); // deleting a pending one stops it
      assert.equal(s.currentWatermark(), 50, 'onTimer sees the watermark that triggered it');
    }
  });
  svc.registerEventTimeTimer('a', 'a', 0, 10);
  svc.registerEventTimeTimer('c', 'c', 0, 14);
  svc.registerEventTimeTimer('b', 'b', 0, 20);
  svc.advanceWatermark(50);
  assert.deepEqual(fired, [['event', 'a', 10], ['event', 'a', 12], ['event', 'c', 14], ['event', 'a', 15]]);
  assert.equal(svc.numEventTimeTimers(), 1);
});

test('processing timers fire when the clock reaches them, with one wake-up at a time', () => {
  const { svc, scheduler, fired } = setup(undefined, 1000);
  svc.registerProcessingTimeTimer('a', 'a', 0, 1500);
  assert.equal(scheduler.pendingCount, 1);
  svc.registerProcessingTimeTimer('b', 'b', 0, 1200); // earlier: re-armed
  assert.equal(scheduler.pendingCount, 1);
  svc.registerProcessingTimeTimer('c', 'c', 0, 1800); // later: the wake-up stays
  svc.registerProcessingTimeTimer('d', 'd', 0, 1500);
  assert.equal(scheduler.pendingCount, 1);
  scheduler.advanceTo(1199);
  assert.deepEqual(fired, []);
  scheduler.advanceTo(1200);
  assert.deepEqual(fired, [['processing', 'b', 1200]]);
  assert.equal(scheduler.pendingCount, 1, 're-armed for the next timer');
  scheduler.advanceTo(1600);
  assert.deepEqual(fired.slice(1), [['processing', 'a', 1500], ['processing', 'd', 1500]]);
  assert.equal(scheduler.pendingCount, 1);
  svc.deleteProcessingTimeTimer('c', 'c', 1800);
  assert.equal(scheduler.pendingCount, 0, 'no timers left: no wake-up');
  assert.equal(svc.numProcessingTimeTimers(), 0);
  scheduler.advanceTo(5000);
  assert.equal(fired.length, 3);
});

test('deleting the earliest processing timer re-arms for the next one', () => {
  const { svc, scheduler, fired } = setup();
  svc.registerProcessingTimeTimer('a', 'a', 0, 100);
  svc.registerProcessingTimeTimer('b', 'b', 0, 300);
  svc.deleteProcessingTimeTimer('a', 'a', 100);
  assert.equal(scheduler.pendingCount, 1);
  scheduler.advanceTo(299);
  assert.deepEqual(fired, []);
  scheduler.advanceTo(300);
  assert.deepEqual(fired, [['processing', 'b', 300]]);
});

test('a processing timer already due fires on the next scheduler turn, not synchronously', () => {
  const { svc, scheduler, fired } = setup(undefined, 500);
  svc.registerProcessingTimeTimer('a', 'a', 0, 100);
  assert.deepEqual(fired, []);
  assert.equal(scheduler.pendingCount, 1);
  scheduler.advance(0);
  assert.deepEqual(fired, [['processing', 'a', 100]]);
  assert.equal(scheduler.pendingCount, 0);
});

test('processing timers registered during firing: due ones in the same batch, later ones re-armed', () => {
  let pendingDuringFire = -1;
  const { svc, scheduler, fired } = setup((s, domain, key, ts) => {
    if (domain !== 'processing') return;
    if (key === 'tick' && ts < 400) s.registerProcessingTimeTimer('tick', 'tick', 0, ts + 100);
    if (key === 'a') s.registerProcessingTimeTimer('now', 'now', 0, ts); // due at once
    pendingDuringFire = scheduler.pendingCount;
  });
  svc.registerProcessingTimeTimer('tick', 'tick', 0, 100);
  svc.registerProcessingTimeTimer('a', 'a', 0, 100);
  scheduler.advanceTo(100);
  assert.deepEqual(fired, [['processing', 'tick', 100], ['processing', 'a', 100], ['processing', 'now', 100]]);
  assert.equal(pendingDuringFire, 0, 'no wake-up is scheduled while a batch fires');
  assert.equal(scheduler.pendingCount, 1);
  scheduler.advanceTo(1000);
  assert.deepEqual(fired.slice(3).map((f) => f[2]), [200, 300, 400]);
  assert.equal(scheduler.pendingCount, 0);
});

test('far-future processing timers wake within the timer limit and re-arm without firing early', () => {
  const { svc, scheduler, fired } = setup();
  const farAway = 40 * 24 * 3600 * 1000; // beyond the 2^31-1 ms a Node timer can wait
  svc.registerProcessingTimeTimer('a', 'a', 0, farAway);
  scheduler.advanceTo(2_147_483_647);
  assert.deepEqual(fired, []);
  assert.equal(scheduler.pendingCount, 1);
  scheduler.advanceTo(farAway);
  assert.deepEqual(fired, [['processing', 'a', farAway]]);
});

test('close() cancels the wake-up and stops all firing', () => {
  const { svc, scheduler, fired } = setup();
  svc.registerProcessingTimeTimer('a', 'a', 0, 100);
  svc.registerEventTimeTimer('b', 'b', 0, 100);
  svc.close();
  assert.equal(scheduler.pendingCount, 0);
  scheduler.advanceTo(1000);
  svc.advanceWatermark(1000);
  svc.registerProcessingTimeTimer('c', 'c', 0, 2000);
  assert.equal(scheduler.pendingCount, 0);
  scheduler.advanceTo(5000);
  assert.deepEqual(fired, []);
});

test('close() from inside onTimer stops the batch', () => {
  const { svc, fired } = setup((s) => s.close());
  svc.registerEventTimeTimer('a', 'a', 0, 1);
  svc.registerEventTimeTimer('b', 'b', 0, 2);
  svc.advanceWatermark(10);
  assert.deepEqual(fired, [['event', 'a', 1]]);
});

test('snapshot/restore round trip keeps timers, key groups and tie order', () => {
  const { svc } = setup();
  svc.registerEventTimeTimer('a', 'a', 3, 20);
  svc.registerEventTimeTimer('b', 'b', 7, 10);
  svc.registerEventTimeTimer('c', 'c', 3, 20);
  svc.registerProcessingTimeTimer('a', 'a', 3, 500);
  svc.registerProcessingTimeTimer('d', 'd', 1, 50);
  const snap = timerSnapshotsToArray(svc.snapshotTimers());
  assert.deepEqual(snap, [
    { domain: 'event', key: 'b', keyGroup: 7, timestamp: 10 },
    { domain: 'event', key: 'a', keyGroup: 3, timestamp: 20 },
    { domain: 'event', key: 'c', keyGroup: 3, timestamp: 20 },
    { domain: 'processing', key: 'd', keyGroup: 1, timestamp: 50 },
    { domain: 'processing', key: 'a', keyGroup: 3, timestamp: 500 },
  ]);
  assert.equal(svc.numEventTimeTimers(), 3, 'snapshotting does not consume timers');

  const restored = setup(undefined, 100);
  restored.svc.restoreTimers(snap.map((t) => ({ ...t, canonical: t.key })));
  restored.svc.restoreTimers([{ domain: 'event', key: 'b', canonical: 'b', keyGroup: 7, timestamp: 10 }]); // duplicate
  assert.equal(restored.svc.numEventTimeTimers(), 3);
  assert.equal(restored.svc.numProcessingTimeTimers(), 2);
  assert.deepEqual(timerSnapshotsToArray(restored.svc.snapshotTimers()), snap);
  assert.equal(restored.scheduler.pendingCount, 1);

  restored.scheduler.advance(0); // the overdue processing timer fires on the next turn
  assert.deepEqual(restored.fired, [['processing', 'd', 50]]);
  restored.svc.advanceWatermark(20);
  assert.deepEqual(restored.fired.slice(1).map((f) => f[1]), ['b', 'a', 'c']);
  restored.scheduler.advanceTo(500);
  assert.deepEqual(restored.fired.at(-1), ['processing', 'a', 500]);
});

test('NaN timestamps are rejected', () => {
  const { svc } = setup();
  assert.throws(() => svc.registerEventTimeTimer('a', 'a', 0, Number.NaN), RangeError);
  assert.throws(() => svc.registerProcessingTimeTimer('a', 'a', 0, Number.NaN), RangeError);
});

test('property: event timers match a reference model under random register/delete/advance', () => {
  type Op =
    | { kind: 'reg'; key: number; ts: number }
    | { kind: 'del'; key: number; ts: number }
    | { kind: 'adv'; to: number };
  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ kind: fc.constant('reg' as const), key: fc.integer({ min: 0, max: 4 }), ts: fc.integer({ min: 0, max: 30 }) }),
    fc.record({ kind: fc.constant('del' as const), key: fc.integer({ min: 0, max: 4 }), ts: fc.integer({ min: 0, max: 30 }) }),
    fc.record({ kind: fc.constant('adv' as const), to: fc.integer({ min: 0, max: 35 }) }),
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 80 }), (ops) => {
      const fired: [number, number][] = [];
      const svc = new InternalTimerService<number>({
        scheduler: new ManualScheduler(),
        target: { onTimer: (_d, key, ts) => void fired.push([key, ts]) },
      });
      // model: list of pending timers in registration order
      let model: { key: number; ts: number }[] = [];
      const expected: [number, number][] = [];
      let wm = -Infinity;
      for (const o of ops) {
        if (o.kind === 'reg') {
          svc.registerEventTimeTimer(o.key, o.key, 0, o.ts);
          if (!model.some((t) => t.key === o.key && t.ts === o.ts)) model.push({ key: o.key, ts: o.ts });
        } else if (o.kind === 'del') {
          svc.deleteEventTimeTimer(o.key, o.key, o.ts);
          model = model.filter((t) => !(t.key === o.key && t.ts === o.ts));
        } else {
          svc.advanceWatermark(o.to);
          if (o.to > wm) {
            wm = o.to;
            const due = model.filter((t) => t.ts <= wm);
            due.sort((a, b) => a.ts - b.ts); // stable: ties keep registration order
            for (const t of due) expected.push([t.key, t.ts]);
            model = model.filter((t) => t.ts > wm);
          }
        }
        assert.equal(svc.numEventTimeTimers(), model.length);
      }
      assert.deepEqual(fired, expected);
    }),
    { numRuns: 300 },
  );
});

/** A reference model of one domain's timers: pending ones with their registration sequence. */
class TimerModel {
  pending: { key: number; ts: number; seq: number }[] = [];
  #seq = 0;
  register(key: number, ts: number): void {
    if (!this.pending.some((t) => t.key === key && t.ts === ts)) this.pending.push({ key, ts, seq: this.#seq++ });
  }
  delete(key: number, ts: number): void {
    this.pending = this.pending.filter((t) => !(t.key === key && t.ts === ts));
  }
  /** Takes the earliest (timestamp, then registration) timer at or below `limit`. */
  poll(limit: number): { key: number; ts: number } | undefined {
    let best: { key: number; ts: number; seq: number } | undefined;
    for (const t of this.pending) {
      if (t.ts <= limit && (best === undefined || t.ts < best.ts || (t.ts === best.ts && t.seq < best.seq))) best = t;
    }
    if (best !== undefined) this.pending = this.pending.filter((t) => t !== best);
    return best;
  }
  sorted(): [number, number][] {
    return [...this.pending].sort((a, b) => a.ts - b.ts || a.seq - b.seq).map((t) => [t.key, t.ts]);
  }
}

test('property: callbacks that register (also at or before the firing timestamp) and delete match the model; snapshots list pending timers in firing order', () => {
  type Action = { kind: 'reg' | 'del' | 'none'; key: number; dt: number };
  type Op = { kind: 'reg' | 'del'; key: number; ts: number } | { kind: 'adv'; to: number } | { kind: 'snap' };
  const key = fc.integer({ min: 0, max: 5 });
  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ kind: fc.constantFrom('reg' as const, 'del' as const), key, ts: fc.integer({ min: 0, max: 20 }) }),
    fc.record({ kind: fc.constant('adv' as const), to: fc.integer({ min: 0, max: 25 }) }),
    fc.constant({ kind: 'snap' as const }),
  );
  const action: fc.Arbitrary<Action> = fc.record({
    kind: fc.constantFrom('reg' as const, 'del' as const, 'none' as const),
    key,
    dt: fc.integer({ min: -3, max: 3 }),
  });
  fc.assert(
    fc.property(fc.array(op, { maxLength: 60 }), fc.array(action, { minLength: 1, maxLength: 10 }), (ops, actions) => {
      const model = new TimerModel();
      const fired: [number, number][] = [];
      let firings = 0;
      // The same action runs for the n-th firing in the service and in the model; a budget keeps
      // self-registering timers from looping forever.
      const actionFor = (n: number): Action | undefined => (n < 200 ? actions[n % actions.length] : undefined);
      const svc = new InternalTimerService<number>({
        scheduler: new ManualScheduler(),
        target: {
          onTimer: (_d, k, ts) => {
            fired.push([k, ts]);
            const a = actionFor(firings++);
            if (a?.kind === 'reg') svc.registerEventTimeTimer(a.key, a.key, a.key, ts + a.dt);
            if (a?.kind === 'del') svc.deleteEventTimeTimer(a.key, a.key, ts + a.dt);
          },
        },
      });
      const expected: [number, number][] = [];
      let modelFirings = 0;
      let wm = -Infinity;
      for (const o of ops) {
        if (o.kind === 'reg') {
          svc.registerEventTimeTimer(o.key, o.key, o.key, o.ts);
          model.register(o.key, o.ts);
        } else if (o.kind === 'del') {
          svc.deleteEventTimeTimer(o.key, o.key, o.ts);
          model.delete(o.key, o.ts);
        } else if (o.kind === 'adv') {
          svc.advanceWatermark(o.to);
          if (o.to > wm) {
            wm = o.to;
            for (let t = model.poll(wm); t !== undefined; t = model.poll(wm)) {
              expected.push([t.key, t.ts]);
              const a = actionFor(modelFirings++);
              if (a?.kind === 'reg') model.register(a.key, t.ts + a.dt);
              if (a?.kind === 'del') model.delete(a.key, t.ts + a.dt);
            }
          }
        } else {
          const snap = timerSnapshotsToArray(svc.snapshotTimers());
          assert.deepEqual(snap.map((t) => [t.key, t.timestamp]), model.sorted());
          assert.ok(snap.every((t) => t.domain === 'event' && t.keyGroup === t.key));
        }
        assert.equal(svc.numEventTimeTimers(), model.pending.length);
      }
      assert.deepEqual(fired, expected);
    }),
    { numRuns: 300 },
  );
});

test('a large timestamp bucket with most timers deleted keeps order, dedup and deletion', () => {
  const { svc, fired } = setup();
  const model = new TimerModel();
  const name = (k: number): string => `k${k}`;
  const reg = (k: number, ts: number): void => {
    svc.registerEventTimeTimer(name(k), name(k), 0, ts);
    model.register(k, ts);
  };
  const del = (k: number, ts: number): void => {
    svc.deleteEventTimeTimer(name(k), name(k), ts);
    model.delete(k, ts);
  };
  for (let k = 0; k < 500; k++) reg(k, 100);
  for (let k = 0; k < 500; k += 3) reg(k, 50);
  for (let k = 0; k < 500; k++) if (k % 5 !== 0) del(k, 100); // 400 of 500 deleted: compacted
  for (let k = 0; k < 500; k += 7) reg(k, 100); // some re-registered (appended), some duplicates
  for (let k = 0; k < 500; k += 10) del(k, 100);
  assert.equal(svc.numEventTimeTimers(), model.pending.length);
  assert.deepEqual(timerSnapshotsToArray(svc.snapshotTimers()).map((t) => [Number(t.key.slice(1)), t.timestamp]), model.sorted());
  const expected = model.sorted();
  svc.advanceWatermark(100);
  assert.deepEqual(fired.map(([, k, ts]) => [Number(k.slice(1)), ts]), expected);
  assert.equal(svc.numEventTimeTimers(), 0);
});
