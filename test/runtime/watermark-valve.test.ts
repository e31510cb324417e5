import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { StatusWatermarkValve } from '../../src/runtime/watermark-valve.ts';
import { MAX_WATERMARK, MIN_WATERMARK } from '../../src/api/watermark-strategy.ts';

type Signal = number | 'idle' | 'active';

function valve(n: number): { v: StatusWatermarkValve; out: Signal[] } {
  const out: Signal[] = [];
  const v = new StatusWatermarkValve(n, {
    emitWatermark: (w) => void out.push(w),
    emitIdle: (idle) => void out.push(idle ? 'idle' : 'active'),
  });
  return { v, out };
}

test('starts at MIN, active; the output is the min over channels', () => {
  const { v, out } = valve(3);
  assert.equal(v.currentWatermark(), MIN_WATERMARK);
  assert.equal(v.isIdle(), false);
  v.inputWatermark(0, 10);
  v.inputWatermark(1, 20);
  assert.deepEqual(out, [], 'channel 2 has not declared anything yet');
  v.inputWatermark(2, 5);
  assert.deepEqual(out, [5]);
  v.inputWatermark(2, 15);
  assert.deepEqual(out, [5, 10]);
  assert.equal(v.currentWatermark(), 10);
});

test('single channel forwards advancing watermarks only', () => {
  const { v, out } = valve(1);
  v.inputWatermark(0, 1);
  v.inputWatermark(0, 1);
  v.inputWatermark(0, 0);
  v.inputWatermark(0, 3);
  assert.deepEqual(out, [1, 3]);
});

test('a lower watermark on a channel is ignored; output never decreases', () => {
  const { v, out } = valve(2);
  v.inputWatermark(0, 10);
  v.inputWatermark(1, 10);
  v.inputWatermark(1, 4); // ignored, channel keeps 10
  v.inputWatermark(0, 12);
  assert.deepEqual(out, [10]);
  v.inputWatermark(1, 11);
  assert.deepEqual(out, [10, 11]);
});

test('a lagging channel holds the watermark back', () => {
  const { v, out } = valve(2);
  v.inputWatermark(1, 0);
  for (let w = 1; w <= 100; w++) v.inputWatermark(0, w);
  assert.deepEqual(out, [0]);
  v.inputWatermark(1, 60);
  assert.deepEqual(out, [0, 60]);
  v.inputWatermark(1, 200);
  assert.deepEqual(out, [0, 60, 100]);
});

test('an idle channel is excluded from the minimum', () => {
  const { v, out } = valve(3);
  v.inputWatermark(0, 10);
  v.inputWatermark(1, 20);
  v.inputIdle(2, true); // channel 2 was holding everything at MIN
  assert.deepEqual(out, [10]);
  assert.equal(v.isIdle(), false);
  v.inputWatermark(0, 30);
  assert.deepEqual(out, [10, 20]);
  v.inputIdle(2, true); // repeat is harmless
  assert.deepEqual(out, [10, 20]);
});

test('all channels idle: flush the max watermark, then emit idle once', () => {
  const { v, out } = valve(3);
  v.inputWatermark(0, 30);
  v.inputWatermark(1, 10);
  v.inputWatermark(2, 20);
  assert.deepEqual(out, [10]);
  v.inputIdle(0, true);
  v.inputIdle(2, true);
  assert.deepEqual(out, [10], 'channel 1 still holds at 10');
  v.inputIdle(1, true);
  assert.deepEqual(out, [10, 30, 'idle']);
  assert.equal(v.isIdle(), true);
  assert.equal(v.currentWatermark(), 30);
});

test('all idle without anything to flush emits idle only', () => {
  const { v, out } = valve(2);
  v.inputIdle(0, true);
  v.inputIdle(1, true);
  assert.deepEqual(out, ['idle']);
});

test('reactivation: output active again; a channel behind rejoins only after catching up', () => {
  const { v, out } = valve(2);
  v.inputWatermark(0, 5);
  v.inputWatermark(1, 50);
  v.inputIdle(0, true);
  assert.deepEqual(out, [5, 50]);
  v.inputIdle(0, false); // channel 0 back at 5 < 50: not aligned
  assert.deepEqual(out, [5, 50]);
  v.inputWatermark(1, 60); // min over aligned = 60 (channel 0 excluded)
  assert.deepEqual(out, [5, 50, 60]);
  v.inputWatermark(0, 55); // still behind 60
  v.inputWatermark(1, 80);
  assert.deepEqual(out, [5, 50, 60, 80]);
  v.inputWatermark(0, 85); // caught up: rejoins
  v.inputWatermark(1, 100);
  assert.deepEqual(out, [5, 50, 60, 80, 85]);
  v.inputWatermark(0, 120);
  assert.deepEqual(out, [5, 50, 60, 80, 85, 100]);
});

test('reactivation after all idle: emits active, then watermarks resume', () => {
  const { v, out } = valve(2);
  v.inputWatermark(0, 10);
  v.inputWatermark(1, 20);
  v.inputIdle(0, true);
  v.inputIdle(1, true);
  assert.deepEqual(out, [10, 20, 'idle']);
  v.inputIdle(1, false);
  assert.deepEqual(out, [10, 20, 'idle', 'active']);
  assert.equal(v.isIdle(), false);
  v.inputWatermark(1, 25);
  assert.deepEqual(out, [10, 20, 'idle', 'active', 25]);
});

test('a watermark on an idle channel reactivates it first', () => {
  const { v, out } = valve(2);
  v.inputWatermark(0, 10);
  v.inputWatermark(1, 10);
  v.inputIdle(0, true);
  v.inputIdle(1, true);
  assert.deepEqual(out, [10, 'idle']);
  v.inputWatermark(0, 15);
  assert.deepEqual(out, [10, 'idle', 'active', 15]);
  // channel 1 is still idle and not holding anything back
  v.inputWatermark(0, 18);
  assert.deepEqual(out, [10, 'idle', 'active', 15, 18]);
});

test('a channel behind the output that goes idle does not regress anything', () => {
  const { v, out } = valve(2);
  v.inputWatermark(0, 100);
  v.inputIdle(1, true);
  assert.deepEqual(out, [100]);
  v.inputIdle(1, false);
  v.inputWatermark(1, 50); // behind: not aligned
  v.inputIdle(0, true); // only an unaligned channel is active now
  assert.deepEqual(out, [100]);
  v.inputWatermark(1, 150);
  assert.deepEqual(out, [100, 150]);
});

test('MAX on every channel ends event time', () => {
  const { v, out } = valve(3);
  v.inputWatermark(0, MAX_WATERMARK);
  v.inputWatermark(1, 7);
  v.inputWatermark(2, MAX_WATERMARK);
  assert.deepEqual(out, [7]);
  v.inputWatermark(1, MAX_WATERMARK);
  assert.deepEqual(out, [7, MAX_WATERMARK]);
  assert.equal(v.currentWatermark(), MAX_WATERMARK);
});

test('finished channels that went idle release MAX', () => {
  const { v, out } = valve(2);
  v.inputWatermark(0, MAX_WATERMARK);
  v.inputIdle(0, true);
  v.inputWatermark(1, 3);
  v.inputIdle(1, true);
  assert.deepEqual(out, [3, MAX_WATERMARK, 'idle']);
});

test('rejects bad channel counts and indexes', () => {
  assert.throws(() => valve(0), RangeError);
  assert.throws(() => valve(1.5), RangeError);
  const { v } = valve(2);
  assert.throws(() => v.inputWatermark(2, 1), RangeError);
  assert.throws(() => v.inputWatermark(-1, 1), RangeError);
  assert.throws(() => v.inputIdle(0.5, true), RangeError);
});

test('property: without idleness, output is strictly increasing and ends at the min of last watermarks', () => {
  const scenario = fc
    .integer({ min: 1, max: 6 })
    .chain((n) =>
      fc.tuple(
        fc.constant(n),
        // one array of positive increments per channel
        fc.array(fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 15 }), {
          minLength: n,
          maxLength: n,
        }),
        fc.array(fc.nat(), { maxLength: 200 }),
      ),
    );
  fc.assert(
    fc.property(scenario, ([n, increments, picks]) => {
      // per-channel increasing sequences, starting anywhere in [-20, ...)
      const sequences = increments.map((incs) => {
        let w = -20;
        return incs.map((d) => (w += d));
      });
      const cursors = new Array<number>(n).fill(0);
      const { v, out } = valve(n);
      const feed = (ch: number): void => {
        const seq = sequences[ch]!;
        const i = cursors[ch]!;
        if (i < seq.length) {
          v.inputWatermark(ch, seq[i]!);
          cursors[ch] = i + 1;
        }
      };
      // a random interleaving, then drain whatever is left in channel order
      for (const p of picks) feed(p % n);
      for (let ch = 0; ch < n; ch++) while (cursors[ch]! < sequences[ch]!.length) feed(ch);

      for (const s of out) assert.equal(typeof s, 'number');
      const ws = out as number[];
      for (let i = 1; i < ws.length; i++) assert.ok(ws[i - 1]! < ws[i]!, `not increasing: ${ws.join(',')}`);
      const expected = Math.min(...sequences.map((s) => s[s.length - 1]!));
      assert.equal(ws[ws.length - 1], expected);
      assert.equal(v.currentWatermark(), expected);
    }),
    { numRuns: 300 },
  );
});
