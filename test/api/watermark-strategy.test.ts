import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  MAX_WATERMARK,
  MIN_WATERMARK,
  WatermarkStrategy,
  type WatermarkGenerator,
  type WatermarkOutput,
} from '../../src/api/watermark-strategy.ts';
import { ManualScheduler } from '../../src/core/time.ts';

type Signal = number | 'idle' | 'active';

function recorder(): { output: WatermarkOutput; signals: Signal[] } {
  const signals: Signal[] = [];
  return {
    signals,
    output: {
      emitWatermark: (w) => void signals.push(w),
      markIdle: () => void signals.push('idle'),
      markActive: () => void signals.push('active'),
    },
  };
}

const ctx = { clock: new ManualScheduler(0) };

test('MIN and MAX watermarks are the infinities', () => {
  assert.equal(MIN_WATERMARK, -Infinity);
  assert.equal(MAX_WATERMARK, Infinity);
});

test('monotonous timestamps: watermark trails the newest timestamp by 1 ms, periodically', () => {
  const gen = WatermarkStrategy.forMonotonousTimestamps<string>().createWatermarkGenerator(ctx);
  const { output, signals } = recorder();
  gen.onPeriodicEmit(output);
  assert.deepEqual(signals, [], 'nothing before the first event');
  gen.onEvent('a', 100, output);
  gen.onEvent('b', 250, output);
  assert.deepEqual(signals, [], 'events do not emit by themselves');
  gen.onPeriodicEmit(output);
  assert.deepEqual(signals, [249]);
});

test('bounded out-of-orderness: maxTs - bound - 1, late events do not lower it', () => {
  const gen = WatermarkStrategy.forBoundedOutOfOrderness<number>(50).createWatermarkGenerator(ctx);
  const { output, signals } = recorder();
  gen.onEvent(0, 1000, output);
  gen.onPeriodicEmit(output);
  gen.onEvent(0, 900, output);
  gen.onPeriodicEmit(output);
  gen.onEvent(0, 1200, output);
  gen.onEvent(0, 1100, output);
  gen.onPeriodicEmit(output);
  assert.deepEqual(signals, [949, 949, 1149]);
});

test('bounded generator ignores records without a timestamp and non-finite values', () => {
  const gen = WatermarkStrategy.forBoundedOutOfOrderness<number>(10).createWatermarkGenerator(ctx);
  const { output, signals } = recorder();
  gen.onEvent(0, MIN_WATERMARK, output);
  gen.onEvent(0, Number.NaN, output);
  gen.onPeriodicEmit(output);
  assert.deepEqual(signals, []);
  gen.onEvent(0, 20, output);
  gen.onEvent(0, Infinity, output);
  gen.onEvent(0, Number.NaN, output);
  gen.onPeriodicEmit(output);
  assert.deepEqual(signals, [9]);
});

test('each call creates an independent generator', () => {
  const strategy = WatermarkStrategy.forMonotonousTimestamps<number>();
  const a = strategy.createWatermarkGenerator(ctx);
  const b = strategy.createWatermarkGenerator(ctx);
  const ra = recorder();
  const rb = recorder();
  a.onEvent(0, 10, ra.output);
  a.onPeriodicEmit(ra.output);
  b.onPeriodicEmit(rb.output);
  assert.deepEqual(ra.signals, [9]);
  assert.deepEqual(rb.signals, []);
});

test('noWatermarks never emits', () => {
  const gen = WatermarkStrategy.noWatermarks<number>().createWatermarkGenerator(ctx);
  const { output, signals } = recorder();
  gen.onEvent(1, 5, output);
  gen.onPeriodicEmit(output);
  assert.deepEqual(signals, []);
  assert.equal(WatermarkStrategy.noWatermarks<number>().createTimestampAssigner(), undefined);
});

test('forGenerator passes the context and uses the custom generator', () => {
  const clock = new ManualScheduler(77);
  let seen: unknown;
  const strategy = WatermarkStrategy.forGenerator<{ ts: number }>((c) => {
    seen = c.clock;
    const gen: WatermarkGenerator<{ ts: number }> = {
      onEvent: (e, _ts, out) => out.emitWatermark(e.ts), // punctuated
      onPeriodicEmit: () => {},
    };
    return gen;
  });
  const gen = strategy.createWatermarkGenerator({ clock });
  assert.equal(seen, clock);
  const { output, signals } = recorder();
  gen.onEvent({ ts: 3 }, 3, output);
  assert.deepEqual(signals, [3]);
});

test('timestamp assigner: absent by default, kept through withIdleness, strategies are immutable', () => {
  const base = WatermarkStrategy.forBoundedOutOfOrderness<{ t: number }>(5);
  assert.equal(base.createTimestampAssigner(), undefined);
  const withTs = base.withTimestampAssigner((e, recordTs) => e.t + (recordTs ?? 0));
  assert.notEqual(withTs, base);
  assert.equal(base.createTimestampAssigner(), undefined, 'the original is unchanged');
  const assign = withTs.createTimestampAssigner();
  assert.ok(assign);
  assert.equal(assign({ t: 10 }, undefined), 10);
  assert.equal(assign({ t: 10 }, 5), 15);

  const idle = withTs.withIdleness(1000);
  assert.equal(idle.idleTimeoutMs, 1000);
  assert.equal(withTs.idleTimeoutMs, undefined);
  assert.equal(idle.createTimestampAssigner(), assign);
  // withTimestampAssigner keeps the idleness
  assert.equal(idle.withTimestampAssigner((e) => e.t).idleTimeoutMs, 1000);
  assert.ok(Object.isFrozen(idle));
});

test('idleness: idle after the timeout without events, active again at the next event', () => {
  const clock = new ManualScheduler(1000);
  const gen = WatermarkStrategy.forBoundedOutOfOrderness<number>(0)
    .withIdleness(500)
    .createWatermarkGenerator({ clock });
  const { output, signals } = recorder();

  gen.onEvent(0, 10, output);
  clock.advance(200);
  gen.onPeriodicEmit(output); // 200 ms since the event
  assert.deepEqual(signals, [9]);

  clock.advance(299);
  gen.onPeriodicEmit(output); // 499 ms: still active
  assert.deepEqual(signals, [9, 9]);

  clock.advance(1);
  gen.onPeriodicEmit(output); // 500 ms: idle
  assert.deepEqual(signals, [9, 9, 'idle']);

  clock.advance(1000);
  gen.onPeriodicEmit(output); // stays idle, no repeat, no watermark
  assert.deepEqual(signals, [9, 9, 'idle']);

  gen.onEvent(0, 20, output);
  assert.deepEqual(signals, [9, 9, 'idle', 'active']);
  gen.onPeriodicEmit(output);
  assert.deepEqual(signals, [9, 9, 'idle', 'active', 19]);

  // Events keep it active.
  for (let i = 0; i < 5; i++) {
    clock.advance(400);
    gen.onEvent(0, 30 + i, output);
    gen.onPeriodicEmit(output);
  }
  assert.equal((signals as Signal[]).filter((s) => s === 'idle').length, 1);
});

test('idleness: a source without any event goes idle one timeout after it started', () => {
  const clock = new ManualScheduler(0);
  const gen = WatermarkStrategy.noWatermarks<number>().withIdleness(100).createWatermarkGenerator({ clock });
  const { output, signals } = recorder();
  clock.advance(99);
  gen.onPeriodicEmit(output);
  assert.deepEqual(signals, []);
  clock.advance(1);
  gen.onPeriodicEmit(output);
  assert.deepEqual(signals, ['idle']);
});

test('validation', () => {
  for (const bad of [-1, Number.NaN, Infinity, -Infinity]) {
    assert.throws(() => WatermarkStrategy.forBoundedOutOfOrderness(bad), RangeError);
  }
  assert.throws(() => WatermarkStrategy.forBoundedOutOfOrderness('5' as unknown as number), RangeError);
  assert.doesNotThrow(() => WatermarkStrategy.forBoundedOutOfOrderness(0));
  const s = WatermarkStrategy.forMonotonousTimestamps<number>();
  for (const bad of [0, -5, Number.NaN, Infinity]) {
    assert.throws(() => s.withIdleness(bad), RangeError);
  }
  assert.throws(() => s.withTimestampAssigner(42 as never), TypeError);
  assert.throws(() => WatermarkStrategy.forGenerator(null as never), TypeError);
  assert.throws(() => WatermarkStrategy.forBoundedOutOfOrderness(-1), /maxOutOfOrdernessMs must be a finite number >= 0/);
});
