import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ABSENT, TimerKeyIndex } from '../../src/runtime/timer-key-index.ts';
import { InternalTimerService } from '../../src/runtime/timer-service.ts';
import { ManualScheduler } from '../../src/core/time.ts';
import type { PrimitiveKey } from '../../src/core/key-group.ts';

type Op = { kind: 'add'; key: PrimitiveKey; position: number; pending: number } | { kind: 'del'; key: PrimitiveKey };

/** The index against a Map doing the same, after every operation (with growth, collisions and deletions in probe runs). */
test('property: the index answers as a Map of canonical keys would', () => {
  // Few distinct keys in a small table collide often; integers, fractions, negatives, large
  // magnitudes and non-number keys (which go to the index's Map) are mixed.
  const numberKey = fc.oneof(
    fc.integer({ min: -40, max: 400 }),
    fc.constantFrom(0.5, -1.25, 2 ** 31, -(2 ** 31) - 1, 2 ** 53 - 1, 1e-300, 123456.789),
  );
  const key: fc.Arbitrary<PrimitiveKey> = fc.oneof({ weight: 6, arbitrary: numberKey }, { weight: 1, arbitrary: fc.constantFrom<PrimitiveKey>('a', 'b', 10n, true) });
  const op: fc.Arbitrary<Op> = fc.oneof(
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('add' as const), key, position: fc.nat(1000), pending: fc.nat(1000) }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('del' as const), key }) },
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 600 }), (ops) => {
      const index = new TimerKeyIndex();
      const model = new Map<PrimitiveKey, number>();
      const seen = new Set<PrimitiveKey>();
      for (const o of ops) {
        seen.add(o.key);
        if (o.kind === 'add') {
          const at = model.get(o.key);
          const expected = !(at !== undefined && at >= o.pending);
          if (expected) model.set(o.key, o.position);
          assert.equal(index.add(o.key, o.position, o.pending), expected);
        } else {
          model.delete(o.key);
          index.delete(o.key);
        }
      }
      for (const k of seen) assert.equal(index.get(k), model.get(k) ?? ABSENT, `key ${String(k)}`);
      const listed = new Map<PrimitiveKey, number>();
      index.forEach((k, position) => {
        assert.ok(!listed.has(k), `key ${String(k)} listed twice`);
        listed.set(k, position);
      });
      assert.deepEqual(listed, model);
    }),
    { numRuns: 300 },
  );
});

test('a hundred thousand number keys: every one found after growth, and after deleting every other one the rest still are', () => {
  const index = new TimerKeyIndex();
  const keys = Array.from({ length: 100_000 }, (_, i) => (i % 3 === 0 ? i * 7919 : i + 0.5));
  for (let i = 0; i < keys.length; i++) assert.ok(index.add(keys[i]!, i, 0));
  for (let i = 0; i < keys.length; i++) assert.equal(index.get(keys[i]!), i);
  // A pending timer of the same key is a duplicate; a fired one (position below `pending`) is replaced.
  assert.equal(index.add(keys[10]!, 5, 10), false);
  assert.equal(index.add(keys[10]!, 200_000, 11), true);
  assert.equal(index.get(keys[10]!), 200_000);
  assert.equal(index.add(keys[10]!, 10, 300_000), true);
  for (let i = 0; i < keys.length; i += 2) index.delete(keys[i]!);
  for (let i = 0; i < keys.length; i++) assert.equal(index.get(keys[i]!), i % 2 === 0 ? ABSENT : i);
});

test('timers of many number keys at one timestamp: duplicates dropped, deletions (with the bucket compacted) and firing order kept', () => {
  const fired: number[] = [];
  const svc = new InternalTimerService<number>({ scheduler: new ManualScheduler(), target: { onTimer: (_d, key) => void fired.push(key) } });
  const n = 5000;
  for (let k = 0; k < n; k++) svc.registerEventTimeTimer(k * 3, k * 3, 0, 100);
  for (let k = 0; k < n; k++) svc.registerEventTimeTimer(k * 3, k * 3, 0, 100);
  assert.equal(svc.numEventTimeTimers(), n);
  // Deleting most of them compacts the bucket, which rebuilds its index.
  for (let k = 0; k < n; k++) if (k % 5 !== 0) svc.deleteEventTimeTimer(k * 3, k * 3, 100);
  assert.equal(svc.numEventTimeTimers(), n / 5);
  for (let k = 0; k < n; k += 5) svc.registerEventTimeTimer(k * 3, k * 3, 0, 100);
  svc.deleteEventTimeTimer(0, 0, 100);
  svc.registerEventTimeTimer(1, 1, 0, 100);
  assert.equal(svc.numEventTimeTimers(), n / 5);
  svc.advanceWatermark(100);
  const expected = [...Array.from({ length: n / 5 - 1 }, (_, i) => (i + 1) * 15), 1];
  assert.deepEqual(fired, expected);
});
