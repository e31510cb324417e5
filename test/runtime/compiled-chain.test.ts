/**
 * Chains of maps and filters are compiled into one function per output (src/runtime/node-output.ts).
 * These tests hold the compiled path to the behaviour of the record-at-a-time one: results,
 * timestamps, error attribution, sinks that return promises, keyed maps, side branches.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  JobExecutionError,
  RichMapFunction,
  StreamExecutionEnvironment,
  ValueStateDescriptor,
  WatermarkStrategy,
  type SinkContext,
  type SinkFunction,
  type ValueState,
} from 'weir';

const opts = { timeout: 20_000 };

function env(): StreamExecutionEnvironment {
  return StreamExecutionEnvironment.getExecutionEnvironment().setExecutionMode('inline').setParallelism(1);
}

describe('compiled chains', () => {
  it('map → filter → map → sink: every record, in order, transformed by each stage', opts, async () => {
    const e = env();
    const out = await e
      .fromSequence(1, 10_000)
      .map((x) => x * 3)
      .filter((x) => x % 2 === 0)
      .map((x) => `v${x}`)
      .executeAndCollect();
    const expected: string[] = [];
    for (let x = 1; x <= 10_000; x++) if ((x * 3) % 2 === 0) expected.push(`v${x * 3}`);
    assert.deepEqual(out, expected);
  });

  it('timestamps pass through maps and filters to the sink context', opts, async () => {
    const e = env();
    const seen: [number, number | undefined][] = [];
    const sink: SinkFunction<number> = {
      invoke(value: number, ctx: SinkContext) {
        seen.push([value, ctx.timestamp()]);
      },
    };
    e.fromElements(1, 2, 3, 4, 5, 6)
      .assignTimestampsAndWatermarks(WatermarkStrategy.forMonotonousTimestamps<number>().withTimestampAssigner((v) => v * 1000))
      .map((v) => v * 10)
      .filter((v) => v !== 30)
      .addSink(sink);
    await e.execute('timestamps');
    assert.deepEqual(seen, [
      [10, 1000],
      [20, 2000],
      [40, 4000],
      [50, 5000],
      [60, 6000],
    ]);
  });

  for (const where of ['first map', 'filter', 'second map'] as const) {
    it(`an error thrown in the ${where} names that operator`, opts, async () => {
      const e = env();
      const boom = (stage: string) => (x: number) => {
        if (stage === where && x === 77) throw new Error(`bad record ${x}`);
        return x;
      };
      e.fromSequence(1, 1000)
        .map(boom('first map'))
        .name('first map')
        .filter((x) => boom('filter')(x) > 0)
        .name('filter')
        .map(boom('second map'))
        .name('second map')
        .addSink({ invoke() {} });
      await assert.rejects(e.execute('errors'), (err: unknown) => {
        assert.ok(err instanceof JobExecutionError, String(err));
        const text = `${err.message} ${err.cause instanceof Error ? err.cause.message : ''}`;
        assert.match(text, new RegExp(`${where} \\(1/1\\) failed: bad record 77`));
        return true;
      });
    });
  }

  it('a sink returning promises is never invoked again before its promise settles', opts, async () => {
    const e = env();
    let inFlight = 0;
    let maxInFlight = 0;
    const got: number[] = [];
    const sink: SinkFunction<number> = {
      invoke(value: number) {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        return new Promise<void>((resolve) =>
          setImmediate(() => {
            got.push(value);
            inFlight--;
            resolve();
          }),
        );
      },
    };
    e.fromSequence(1, 2000)
      .map((x) => x + 1)
      .filter((x) => x % 5 !== 0)
      .addSink(sink);
    await e.execute('async sink');
    assert.equal(maxInFlight, 1);
    const expected: number[] = [];
    for (let x = 2; x <= 2001; x++) if (x % 5 !== 0) expected.push(x);
    assert.deepEqual(got, expected);
  });

  it('a map after keyBy keeps its keyed state per key (it sets the current key, so it is not compiled into the chain)', opts, async () => {
    class RunningCount extends RichMapFunction<number, [number, number]> {
      count!: ValueState<number>;
      override open(): void {
        this.count = this.getRuntimeContext().getState(new ValueStateDescriptor<number>('count'));
      }
      map(key: number): [number, number] {
        const c = (this.count.value() ?? 0) + 1;
        this.count.update(c);
        return [key, c];
      }
    }
    const e = env();
    const out = await e
      .fromSequence(1, 300)
      .map((x) => x % 3)
      .keyBy((k) => k)
      .map(new RunningCount())
      .filter(([, c]) => c % 50 === 0)
      .executeAndCollect();
    assert.deepEqual(
      out.sort((a, b) => a[0] - b[0] || a[1] - b[1]),
      [0, 1, 2].flatMap((k) => [50, 100].map((c) => [k, c])),
    );
  });

  it('a stream feeding two branches gives each branch every record', opts, async () => {
    const e = env();
    const a: number[] = [];
    const b: number[] = [];
    const mapped = e.fromSequence(1, 100).map((x) => x * 2);
    mapped.filter((x) => x % 4 === 0).addSink({ invoke: (v: number) => void a.push(v) });
    mapped.map((x) => -x).addSink({ invoke: (v: number) => void b.push(v) });
    await e.execute('branches');
    assert.deepEqual(a, Array.from({ length: 50 }, (_, i) => (i + 1) * 4));
    assert.deepEqual(b, Array.from({ length: 100 }, (_, i) => -(i + 1) * 2));
  });
});
