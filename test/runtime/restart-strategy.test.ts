import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  RestartStrategies,
  RESTART_STRATEGY_DEFAULTS,
  defaultRestartStrategy,
  parseDuration,
  resolveRestartStrategy,
  restartStrategyFromConfig,
  type RestartStrategyConfiguration,
} from '../../src/api/restart-strategies.ts';
import { ConfigError } from '../../src/api/configuration.ts';
import {
  FailureHistory,
  RecoverySuppressedError,
  createRestartStrategy,
  type RestartBackoffTimeStrategy,
} from '../../src/runtime/restart-strategy.ts';
import { ManualScheduler } from '../../src/core/time.ts';

const boom = new Error('boom');

/** Fails, then reports [canRestart, backoff] (backoff only when a restart is allowed). */
function fail(s: RestartBackoffTimeStrategy): [boolean, number | undefined] {
  s.notifyFailure(boom);
  const can = s.canRestart();
  return [can, can ? s.getBackoffTime() : undefined];
}

function throwsNaming(fn: () => unknown, ...names: string[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${String(e)}`);
    for (const n of names) assert.ok(e.message.includes(n), `"${e.message}" should name ${n}`);
    return true;
  });
}

describe('none', () => {
  test('never restarts', () => {
    const s = createRestartStrategy(RestartStrategies.noRestart(), new ManualScheduler());
    assert.equal(s.canRestart(), false); // not even before a failure: nothing to restart into
    assert.deepEqual(fail(s), [false, undefined]);
    assert.equal(String(s), 'NoRestartBackoffTimeStrategy');
  });
});

describe('fixed-delay', () => {
  test('3 attempts: three restarts with the fixed delay, then no more', () => {
    const clock = new ManualScheduler();
    const s = createRestartStrategy(RestartStrategies.fixedDelayRestart(3, 10_000), clock);
    assert.equal(s.canRestart(), true);
    const seen = [];
    for (let i = 0; i < 5; i++) {
      seen.push(fail(s));
      clock.advance(60_000); // time plays no part
    }
    assert.deepEqual(seen, [[true, 10_000], [true, 10_000], [true, 10_000], [false, undefined], [false, undefined]]);
    assert.equal(String(s), 'FixedDelayRestartBackoffTimeStrategy(maxNumberRestartAttempts=3, backoffTimeMS=10000)');
  });

  test('0 attempts fails at the first failure; Infinity never gives up', () => {
    assert.deepEqual(fail(createRestartStrategy(RestartStrategies.fixedDelayRestart(0, 0), new ManualScheduler())), [
      false,
      undefined,
    ]);
    const forever = createRestartStrategy(RestartStrategies.fixedDelayRestart(Infinity, 5), new ManualScheduler());
    for (let i = 0; i < 1000; i++) assert.deepEqual(fail(forever), [true, 5]);
  });
});

describe('failure-rate', () => {
  test('failures spaced out more than the interval keep restarting', () => {
    const clock = new ManualScheduler();
    const s = createRestartStrategy(RestartStrategies.failureRateRestart(2, 1000, 100), clock);
    for (let i = 0; i < 20; i++) {
      assert.deepEqual(fail(s), [true, 100]);
      clock.advance(501); // at most two failures in any 1000 ms
    }
  });

  test('a burst of more than max failures within the interval stops restarts', () => {
    const clock = new ManualScheduler();
    const s = createRestartStrategy(RestartStrategies.failureRateRestart(3, 10_000, 0), clock);
    assert.deepEqual(fail(s), [true, 0]);
    clock.advance(100);
    assert.deepEqual(fail(s), [true, 0]);
    clock.advance(100);
    assert.deepEqual(fail(s), [true, 0]);
    clock.advance(100);
    assert.deepEqual(fail(s), [false, undefined]); // 4 failures within 10 s
  });

  test('the window slides: the boundary is inclusive and old failures drop out', () => {
    const clock = new ManualScheduler();
    const s = createRestartStrategy(RestartStrategies.failureRateRestart(1, 1000, 0), clock);
    assert.equal(fail(s)[0], true); // t=0
    clock.advance(1000);
    assert.equal(fail(s)[0], false); // t=1000: the failure at t=0 is exactly one interval ago, still inside
    clock.advance(1);
    // Asked again later, the first failure has left the window: one failure in the last 1000 ms.
    assert.equal(s.canRestart(), true);
    clock.advance(1001);
    assert.equal(fail(s)[0], true); // t=2002: only this failure is in the window
  });

  test('with max 1, one failure per interval is tolerated', () => {
    const clock = new ManualScheduler();
    const s = createRestartStrategy(RestartStrategies.failureRateRestart(1, 1, 0), clock);
    for (let i = 0; i < 3; i++) {
      assert.equal(fail(s)[0], true);
      clock.advance(2);
    }
    assert.equal(s.canRestart(), true);
  });

  test('description', () => {
    const s = createRestartStrategy(RestartStrategies.failureRateRestart(3, 60_000, 1000), new ManualScheduler());
    assert.equal(
      String(s),
      'FailureRateRestartBackoffTimeStrategy(maxFailuresPerInterval=3, failuresIntervalMS=60000, backoffTimeMS=1000)',
    );
  });
});

describe('exponential-delay', () => {
  const noJitter = (over: Partial<Extract<RestartStrategyConfiguration, { kind: 'exponential-delay' }>> = {}) =>
    ({ ...RESTART_STRATEGY_DEFAULTS['exponential-delay'], jitterFactor: 0, ...over }) as RestartStrategyConfiguration;

  /** Fails right when each restart is due (the job dies at once), returning the backoffs. */
  function backoffs(s: RestartBackoffTimeStrategy, clock: ManualScheduler, n: number): number[] {
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      s.notifyFailure(boom);
      assert.equal(s.canRestart(), true);
      const b = s.getBackoffTime();
      out.push(b);
      clock.advance(b);
    }
    return out;
  }

  test('backoff starts at initial, multiplies per failure and is capped at max', () => {
    const clock = new ManualScheduler();
    const s = createRestartStrategy(noJitter(), clock);
    assert.deepEqual(backoffs(s, clock, 14), [
      1000, 1500, 2250, 3375, 5062, 7593, 11390, 17085, 25628, 38443, 57665, 60000, 60000, 60000,
    ]);
  });

  test('the backoff stays finite however many attempts there were', () => {
    const clock = new ManualScheduler();
    const s = createRestartStrategy(noJitter({ backoffMultiplier: 10, maxBackoffMs: 5000 }), clock);
    const b = backoffs(s, clock, 2000);
    assert.deepEqual(b.slice(0, 3), [1000, 5000, 5000]);
    assert.ok(b.every((x) => x === 1000 || x === 5000));
  });

  test('jitter moves the backoff by up to ±jitterFactor × backoff, within [initial, max]', () => {
    const withRandom = (r: number) => {
      const clock = new ManualScheduler();
      const s = createRestartStrategy(RestartStrategies.exponentialDelayRestart(1000, 10_000, 1.5, 3_600_000, 0.1), clock, () => r);
      return backoffs(s, clock, 8);
    };
    // Bases: 1000, 1500, 2250, 3375, 5062, 7593, 10000 (capped), 10000.
    assert.deepEqual(withRandom(0), [1000, 1350, 2025, 3038, 4556, 6834, 9000, 9000]); // the first can't go below initial
    assert.deepEqual(withRandom(1), [1100, 1650, 2475, 3712, 5568, 8352, 10000, 10000]); // nor any above max
    assert.deepEqual(withRandom(0.5), [1000, 1500, 2250, 3375, 5062, 7593, 10000, 10000]); // the middle is no jitter
    const clock = new ManualScheduler();
    const randomS = createRestartStrategy(RestartStrategies.exponentialDelayRestart(1000, 10_000, 1.5, 3_600_000, 0.1), clock);
    for (const b of backoffs(randomS, clock, 50)) assert.ok(b >= 1000 && b <= 10_000);
  });

  test('resets to initial once the job ran the reset threshold after its restart', () => {
    const clock = new ManualScheduler();
    const s = createRestartStrategy(noJitter({ resetBackoffThresholdMs: 10_000 }), clock);
    assert.deepEqual(backoffs(s, clock, 3), [1000, 1500, 2250]);
    // The clock is where the last restart was due; the job then runs 9999 ms: no reset.
    clock.advance(9999);
    assert.deepEqual(backoffs(s, clock, 1), [3375]);
    clock.advance(10_000); // ran exactly the threshold
    assert.deepEqual(backoffs(s, clock, 2), [1000, 1500]);
  });

  test('attempts-before-reset-backoff limits the attempts since the last reset', () => {
    const clock = new ManualScheduler();
    const s = createRestartStrategy(noJitter({ attemptsBeforeResetBackoff: 3, resetBackoffThresholdMs: 10_000 }), clock);
    assert.deepEqual(backoffs(s, clock, 3), [1000, 1500, 2250]);
    clock.advance(10_000); // a reset starts the count over
    assert.deepEqual(backoffs(s, clock, 3), [1000, 1500, 2250]);
    clock.advance(9999);
    s.notifyFailure(boom); // the fourth attempt without a reset
    assert.equal(s.canRestart(), false);
  });

  test('failures before the pending restart is due join it', () => {
    const clock = new ManualScheduler();
    const s = createRestartStrategy(noJitter({ attemptsBeforeResetBackoff: 1 }), clock);
    s.notifyFailure(boom);
    assert.equal(s.getBackoffTime(), 1000);
    clock.advance(400);
    s.notifyFailure(new Error('another task of the same job'));
    assert.equal(s.canRestart(), true); // still one attempt
    assert.equal(s.getBackoffTime(), 600); // what is left of the wait
    clock.advance(600);
    s.notifyFailure(boom); // the restarted job fails: a second attempt
    assert.equal(s.canRestart(), false);
  });

  test('getBackoffTime before any failure is a usage error', () => {
    const s = createRestartStrategy(noJitter(), new ManualScheduler());
    assert.equal(s.canRestart(), true);
    assert.throws(() => s.getBackoffTime(), /before any failure/);
  });

  test('description names every parameter', () => {
    const s = createRestartStrategy(RestartStrategies.exponentialDelayRestart(), new ManualScheduler());
    assert.equal(
      String(s),
      'ExponentialDelayRestartBackoffTimeStrategy(initialBackoffMS=1000, maxBackoffMS=60000, backoffMultiplier=1.5, ' +
        'resetBackoffThresholdMS=3600000, jitterFactor=0.1, attemptsBeforeResetBackoff=Infinity, currentRestartAttempt=0)',
    );
  });
});

describe('RestartStrategies', () => {
  test('builders produce the configurations, exponential with Flink defaults', () => {
    assert.deepEqual(RestartStrategies.noRestart(), { kind: 'none' });
    assert.deepEqual(RestartStrategies.fixedDelayRestart(3, 500), { kind: 'fixed-delay', attempts: 3, delayMs: 500 });
    assert.deepEqual(RestartStrategies.failureRateRestart(2, 60_000, 10), {
      kind: 'failure-rate',
      maxFailuresPerInterval: 2,
      failureRateIntervalMs: 60_000,
      delayMs: 10,
    });
    assert.deepEqual(RestartStrategies.exponentialDelayRestart(), {
      kind: 'exponential-delay',
      initialBackoffMs: 1000,
      maxBackoffMs: 60_000,
      backoffMultiplier: 1.5,
      resetBackoffThresholdMs: 3_600_000,
      jitterFactor: 0.1,
      attemptsBeforeResetBackoff: Infinity,
    });
    assert.ok(Object.isFrozen(RestartStrategies.fixedDelayRestart(1, 1)));
  });

  test('bad arguments are rejected naming the parameter', () => {
    throwsNaming(() => RestartStrategies.fixedDelayRestart(-1, 0), 'restartAttempts', '-1');
    throwsNaming(() => RestartStrategies.fixedDelayRestart(1.5, 0), 'restartAttempts');
    throwsNaming(() => RestartStrategies.fixedDelayRestart(1, -5), 'delayBetweenAttemptsMs');
    throwsNaming(() => RestartStrategies.fixedDelayRestart(1, NaN), 'delayBetweenAttemptsMs', 'NaN');
    throwsNaming(() => RestartStrategies.failureRateRestart(0, 1000, 0), 'failureRate');
    throwsNaming(() => RestartStrategies.failureRateRestart(1, 0, 0), 'failureIntervalMs');
    throwsNaming(() => RestartStrategies.failureRateRestart(1, 1000, -1), 'delayIntervalMs');
    throwsNaming(() => RestartStrategies.exponentialDelayRestart(0), 'initialBackoffMs');
    throwsNaming(() => RestartStrategies.exponentialDelayRestart(2000, 1000), 'initialBackoffMs', 'maxBackoffMs');
    throwsNaming(() => RestartStrategies.exponentialDelayRestart(1000, 2000, 0.5), 'backoffMultiplier');
    throwsNaming(() => RestartStrategies.exponentialDelayRestart(1000, 2000, 2, 0), 'resetBackoffThresholdMs');
    throwsNaming(() => RestartStrategies.exponentialDelayRestart(1000, 2000, 2, 1, 1.1), 'jitterFactor');
    throwsNaming(() => RestartStrategies.exponentialDelayRestart(1000, 2000, 2, 1, -0.1), 'jitterFactor');
  });

  test('createRestartStrategy checks hand-written configurations too', () => {
    const clock = new ManualScheduler();
    throwsNaming(() => createRestartStrategy({ kind: 'fixed-delay', attempts: -2, delayMs: 0 }, clock), 'attempts');
    throwsNaming(
      () => createRestartStrategy({ ...RESTART_STRATEGY_DEFAULTS['exponential-delay'], attemptsBeforeResetBackoff: 0 }, clock),
      'attemptsBeforeResetBackoff',
    );
    throwsNaming(() => createRestartStrategy({ kind: 'sometimes' } as never, clock), 'sometimes');
  });
});

describe('configuration', () => {
  test('absent type: undefined; other keys are left alone', () => {
    assert.equal(restartStrategyFromConfig({}), undefined);
    assert.equal(restartStrategyFromConfig({ 'parallelism.default': 4, 'restart-strategy.fixed-delay.attempts': 3 }), undefined);
  });

  test('type aliases, case-insensitive', () => {
    for (const t of ['none', 'off', 'disable', 'NONE']) {
      assert.deepEqual(restartStrategyFromConfig({ 'restart-strategy.type': t }), { kind: 'none' });
    }
    for (const [t, kind] of [
      ['fixed-delay', 'fixed-delay'],
      ['fixeddelay', 'fixed-delay'],
      ['failure-rate', 'failure-rate'],
      ['failurerate', 'failure-rate'],
      ['exponential-delay', 'exponential-delay'],
      ['exponentialdelay', 'exponential-delay'],
      ['Fixed-Delay', 'fixed-delay'],
    ] as const) {
      assert.equal(restartStrategyFromConfig({ 'restart-strategy.type': t })?.kind, kind);
    }
    throwsNaming(() => restartStrategyFromConfig({ 'restart-strategy.type': 'sometimes' }), 'restart-strategy.type', 'sometimes');
    throwsNaming(() => restartStrategyFromConfig({ 'restart-strategy.type': 3 }), 'restart-strategy.type');
  });

  test("Flink's defaults for each type", () => {
    assert.deepEqual(restartStrategyFromConfig({ 'restart-strategy.type': 'fixed-delay' }), {
      kind: 'fixed-delay',
      attempts: 1,
      delayMs: 1000,
    });
    assert.deepEqual(restartStrategyFromConfig({ 'restart-strategy.type': 'failure-rate' }), {
      kind: 'failure-rate',
      maxFailuresPerInterval: 1,
      failureRateIntervalMs: 60_000,
      delayMs: 1000,
    });
    assert.deepEqual(
      restartStrategyFromConfig({ 'restart-strategy.type': 'exponential-delay' }),
      RestartStrategies.exponentialDelayRestart(),
    );
  });

  test('every key, with durations as numbers and strings and numbers as strings', () => {
    assert.deepEqual(
      restartStrategyFromConfig({
        'restart-strategy.type': 'fixed-delay',
        'restart-strategy.fixed-delay.attempts': '3',
        'restart-strategy.fixed-delay.delay': '10 s',
      }),
      { kind: 'fixed-delay', attempts: 3, delayMs: 10_000 },
    );
    assert.deepEqual(
      restartStrategyFromConfig({
        'restart-strategy.type': 'failure-rate',
        'restart-strategy.failure-rate.max-failures-per-interval': 5,
        'restart-strategy.failure-rate.failure-rate-interval': '5 min',
        'restart-strategy.failure-rate.delay': 250,
      }),
      { kind: 'failure-rate', maxFailuresPerInterval: 5, failureRateIntervalMs: 300_000, delayMs: 250 },
    );
    assert.deepEqual(
      restartStrategyFromConfig({
        'restart-strategy.type': 'exponential-delay',
        'restart-strategy.exponential-delay.initial-backoff': '500 ms',
        'restart-strategy.exponential-delay.max-backoff': '2 min',
        'restart-strategy.exponential-delay.backoff-multiplier': '2.0',
        'restart-strategy.exponential-delay.reset-backoff-threshold': '1 h',
        'restart-strategy.exponential-delay.jitter-factor': 0,
        'restart-strategy.exponential-delay.attempts-before-reset-backoff': 10,
      }),
      {
        kind: 'exponential-delay',
        initialBackoffMs: 500,
        maxBackoffMs: 120_000,
        backoffMultiplier: 2,
        resetBackoffThresholdMs: 3_600_000,
        jitterFactor: 0,
        attemptsBeforeResetBackoff: 10,
      },
    );
  });

  test('unknown restart-strategy keys are an error naming the key', () => {
    throwsNaming(
      () => restartStrategyFromConfig({ 'restart-strategy.type': 'fixed-delay', 'restart-strategy.fixed-delay.attempt': 3 }),
      'restart-strategy.fixed-delay.attempt',
      'restart-strategy.fixed-delay.attempts', // the list of known keys
    );
    throwsNaming(() => restartStrategyFromConfig({ 'restart-strategy.foo': 1 }), 'restart-strategy.foo');
  });

  test('bad values are an error naming the key, in any section', () => {
    const bad: [Record<string, unknown>, string][] = [
      [{ 'restart-strategy.fixed-delay.attempts': -1 }, 'restart-strategy.fixed-delay.attempts'],
      [{ 'restart-strategy.fixed-delay.attempts': 'many' }, 'restart-strategy.fixed-delay.attempts'],
      [{ 'restart-strategy.fixed-delay.delay': '-1 s' }, 'restart-strategy.fixed-delay.delay'],
      [{ 'restart-strategy.fixed-delay.delay': '10 fortnights' }, 'restart-strategy.fixed-delay.delay'],
      [{ 'restart-strategy.failure-rate.max-failures-per-interval': 0 }, 'restart-strategy.failure-rate.max-failures-per-interval'],
      [{ 'restart-strategy.failure-rate.failure-rate-interval': 0 }, 'restart-strategy.failure-rate.failure-rate-interval'],
      [{ 'restart-strategy.exponential-delay.backoff-multiplier': 0.9 }, 'restart-strategy.exponential-delay.backoff-multiplier'],
      [{ 'restart-strategy.exponential-delay.jitter-factor': 2 }, 'restart-strategy.exponential-delay.jitter-factor'],
      [
        { 'restart-strategy.exponential-delay.attempts-before-reset-backoff': 0 },
        'restart-strategy.exponential-delay.attempts-before-reset-backoff',
      ],
    ];
    for (const [options, key] of bad) {
      for (const type of ['fixed-delay', 'failure-rate', 'exponential-delay']) {
        throwsNaming(() => restartStrategyFromConfig({ 'restart-strategy.type': type, ...options }), key);
      }
    }
    throwsNaming(
      () =>
        restartStrategyFromConfig({
          'restart-strategy.type': 'exponential-delay',
          'restart-strategy.exponential-delay.initial-backoff': '2 min',
        }),
      'restart-strategy.exponential-delay.initial-backoff',
      'restart-strategy.exponential-delay.max-backoff',
    );
  });

  test('parseDuration', () => {
    assert.equal(parseDuration(1234, 'k'), 1234);
    assert.equal(parseDuration('1234', 'k'), 1234);
    assert.equal(parseDuration('500 ms', 'k'), 500);
    assert.equal(parseDuration('10 s', 'k'), 10_000);
    assert.equal(parseDuration('10s', 'k'), 10_000);
    assert.equal(parseDuration('1 min', 'k'), 60_000);
    assert.equal(parseDuration('2 minutes', 'k'), 120_000);
    assert.equal(parseDuration('1 h', 'k'), 3_600_000);
    assert.equal(parseDuration('1 d', 'k'), 86_400_000);
    assert.equal(parseDuration('1.5 s', 'k'), 1500);
    assert.equal(parseDuration(' 3 SECONDS ', 'k'), 3000);
    for (const bad of [-1, Infinity, NaN, '', 's', '-3 s', '1 fortnight', '1 s 2', null, true, {}]) {
      throwsNaming(() => parseDuration(bad, 'some.key'), 'some.key');
    }
  });

  test('defaultRestartStrategy: exponential-delay with checkpointing, none without', () => {
    assert.deepEqual(defaultRestartStrategy(false), { kind: 'none' });
    assert.deepEqual(defaultRestartStrategy(true), RestartStrategies.exponentialDelayRestart());
    // As in Flink, the default exponential-delay strategy takes its section's keys.
    const tuned = defaultRestartStrategy(true, { 'restart-strategy.exponential-delay.max-backoff': '5 min' });
    assert.equal(tuned.kind === 'exponential-delay' && tuned.maxBackoffMs, 300_000);
  });

  test('resolveRestartStrategy: configured, else the default', () => {
    assert.deepEqual(resolveRestartStrategy({ 'restart-strategy.type': 'none' }, true), { kind: 'none' });
    assert.equal(resolveRestartStrategy({}, true).kind, 'exponential-delay');
    assert.equal(resolveRestartStrategy({}, false).kind, 'none');
  });
});

describe('FailureHistory', () => {
  test('records failures with their root cause and counts restarts', () => {
    const h = new FailureHistory();
    assert.equal(h.numRestarts, 0);
    const userError = new TypeError('x is not a function');
    h.record(new Error('Task "map (1/2)" failed', { cause: userError }), 1000);
    h.markRestarted();
    h.record(new Error('plain'), 2000);
    assert.equal(h.numRestarts, 1);
    assert.equal(h.numFailures, 2);
    const [first, second] = h.entries();
    assert.equal(first?.timestamp, 1000);
    assert.equal(first?.message, 'Task "map (1/2)" failed');
    assert.equal(first?.rootCause, 'TypeError: x is not a function');
    assert.equal(first?.stack, userError.stack);
    assert.equal(second?.rootCause, 'Error: plain');
  });

  test('exhausted: names the strategy and the failures, lists the earlier ones, caused by the last', () => {
    const clock = new ManualScheduler(Date.UTC(2024, 0, 1));
    const strategy = createRestartStrategy(RestartStrategies.fixedDelayRestart(2, 100), clock);
    const h = new FailureHistory();
    const errors = [new Error('first'), new RangeError('second'), new Error('wrapped', { cause: new TypeError('third') })];
    for (const e of errors) {
      strategy.notifyFailure(e);
      h.record(e, clock.now());
      if (!strategy.canRestart()) break;
      clock.advance(strategy.getBackoffTime());
      h.markRestarted();
      clock.advance(1000);
    }
    const err = h.exhausted(strategy);
    assert.ok(err instanceof RecoverySuppressedError);
    assert.equal(err.cause, errors[2]);
    assert.equal(err.numFailures, 3);
    assert.equal(err.numRestarts, 2);
    assert.match(err.message, /^Recovery is suppressed by FixedDelayRestartBackoffTimeStrategy\(maxNumberRestartAttempts=2, backoffTimeMS=100\)/);
    assert.match(err.message, /failed 3 times and was restarted 2 times/);
    assert.match(err.message, /last failure at 2024-01-01T00:00:02\.200Z: wrapped \(root cause: TypeError: third\)/);
    assert.match(err.message, /#1 at 2024-01-01T00:00:00\.000Z: Error: first/);
    assert.match(err.message, /#2 at 2024-01-01T00:00:01\.100Z: RangeError: second/);
  });

  test('keeps a bounded history while counting every failure', () => {
    const h = new FailureHistory(3);
    for (let i = 1; i <= 10; i++) h.record(new Error(`failure ${i}`), i);
    assert.deepEqual(
      h.entries().map((e) => e.message),
      ['failure 8', 'failure 9', 'failure 10'],
    );
    const err = h.exhausted(createRestartStrategy(RestartStrategies.noRestart(), new ManualScheduler()));
    assert.match(err.message, /failed 10 times/);
    assert.match(err.message, /7 older failures not kept/);
    assert.match(err.message, /#8 at .*failure 8\n {2}#9 at .*failure 9$/);
    assert.equal((err.cause as Error).message, 'failure 10');
  });

  test('a single failure under no restart', () => {
    const h = new FailureHistory();
    h.record(new Error('only'), 0);
    const err = h.exhausted(createRestartStrategy(RestartStrategies.noRestart(), new ManualScheduler()));
    assert.equal(
      err.message,
      'Recovery is suppressed by NoRestartBackoffTimeStrategy: the job failed 1 time and was restarted 0 times; ' +
        'last failure at 1970-01-01T00:00:00.000Z: Error: only',
    );
  });
});
