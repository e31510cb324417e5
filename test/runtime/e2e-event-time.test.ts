/**
 * End to end: event time. Watermarks are the minimum over a task's inputs, event-time timers
 * fire in timestamp order and all fire at end of input, idle inputs stop holding event time
 * back, processing-time timers fire while a job runs, and side outputs reach their streams.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  KeyedProcessFunction,
  OutputTag,
  ProcessFunction,
  StreamExecutionEnvironment,
  WatermarkStrategy,
  type Collector,
  type KeyedProcessContext,
  type OnTimerContext,
  type ProcessContext,
  type SourceContext,
  type SourceFunction,
} from 'weir';
import { runJob } from 'weir/testing';
import { A_TS, B_TS, DELAY, KEYS, LATE, SENTINEL } from '../jobs/event-time-data.ts';

const JOB = 'test/jobs/event-time.ts';

type El = ['el', 'A' | 'B', string, number, number | undefined, number, number, number];
type Timer = ['timer', string, number, number, number, string, number];

/** Observations by kind, each in the order they happened (by their sequence number). */
function split(collected: unknown[]): { els: El[]; timers: Timer[] } {
  const rows = [...(collected as unknown[][])].sort((a, b) => (a.at(-1) as number) - (b.at(-1) as number));
  const els = rows.filter((r) => (r as unknown[])[0] === 'el') as El[];
  const timers = rows.filter((r) => (r as unknown[])[0] === 'timer') as Timer[];
  assert.equal(els.length + timers.length, rows.length);
  return { els, timers };
}

/** The event-time timers the job must fire: (key, ts) pairs, one per distinct pair. */
function expectedTimers(): string[] {
  const set = new Set<string>();
  for (const ts of [A_TS, B_TS]) {
    ts.forEach((t, i) => {
      const key = KEYS[i % KEYS.length]!;
      set.add(`${key}@${t + DELAY}`);
      set.add(`${key}@${LATE}`);
    });
  }
  return [...set].sort();
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function checkTimers(timers: Timer[]): void {
  assert.deepEqual(timers.map(([, k, ts]) => `${k}@${ts}`).sort(), expectedTimers(), 'every timer fires exactly once');
  const bySubtask = new Map<number, Timer[]>();
  for (const t of timers) bySubtask.set(t[4], [...(bySubtask.get(t[4]) ?? []), t]);
  for (const [subtask, list] of bySubtask) {
    for (let i = 1; i < list.length; i++) {
      assert.ok(list[i]![2] >= list[i - 1]![2], `subtask ${subtask}: timer ${list[i]![2]} fired after ${list[i - 1]![2]}`);
    }
  }
  for (const [, key, ts, wm, , domain] of timers) {
    assert.equal(domain, 'EVENT_TIME');
    assert.ok(ts <= wm, `timer ${key}@${ts} fired at watermark ${wm}`);
  }
  // LATE is beyond every finite watermark (the sentinels hold it at SENTINEL - 1): only the
  // end-of-input watermark fires those timers.
  for (const [, key, ts, wm] of timers) if (ts === LATE) assert.equal(wm, Infinity, `${key}@${ts}`);
  for (const [, , ts, wm] of timers) if (ts < SENTINEL) assert.ok(wm < SENTINEL, `timer ${ts} waited for end of input`);
}

for (const variant of ['union', 'connect'] as const) {
  describe(`event time through ${variant}`, () => {
    it('inline, parallelism 1: watermark is the min over the inputs; timers fire in order, all at end', async () => {
      const { collected } = await runJob(JOB, { args: [variant], mode: 'inline', parallelism: 1 });
      const { els, timers } = split(collected);
      assert.equal(els.length, A_TS.length + B_TS.length);
      const maxSeen = { A: -Infinity, B: -Infinity };
      let finiteWatermarks = 0;
      for (const [, src, key, ts, stamp, wm] of els) {
        assert.equal(stamp, ts, `ctx.timestamp() of ${src}/${key}@${ts}`);
        maxSeen[src] = Math.max(maxSeen[src], ts);
        // Each input's watermark trails its records (ts - 1) and never overtakes them on its
        // channel, so the operator's watermark is at most the min over inputs of what it saw, - 1.
        const bound = Math.min(maxSeen.A, maxSeen.B) - 1;
        assert.ok(wm <= bound, `${src}@${ts}: watermark ${wm} exceeds min over inputs (${maxSeen.A}, ${maxSeen.B}) - 1`);
        if (Number.isFinite(wm)) finiteWatermarks++;
      }
      assert.ok(finiteWatermarks > 0, 'the watermark never advanced while records were processed');
      checkTimers(timers);
    });

    it('threads, keyed parallelism 2: timers fire in order per subtask, all at end', async () => {
      const { collected } = await runJob(JOB, { args: [variant, '2'], mode: 'threads', parallelism: 2 });
      const { els, timers } = split(collected);
      assert.equal(els.length, A_TS.length + B_TS.length);
      for (const [, src, key, ts, stamp, wm] of els) {
        assert.equal(stamp, ts, `ctx.timestamp() of ${src}/${key}@${ts}`);
        assert.ok(wm < SENTINEL, `${src}@${ts}: watermark ${wm} passed the sentinels before all records arrived`);
      }
      assert.deepEqual(new Set(timers.map((t) => t[4])), new Set([0, 1]), 'both subtasks fired timers');
      checkTimers(timers);
    });
  });
}

// ---- idleness, processing time and side outputs: inline jobs built right here ------------------

/** Observes, per record, the watermark and whether the idle source had ended by then. */
class WatermarkProbe extends KeyedProcessFunction<string, { src: string; ts: number }, [string, number, number, boolean]> {
  constructor(readonly idleEnded: () => boolean) {
    super();
  }
  processElement(e: { src: string; ts: number }, ctx: KeyedProcessContext<string>, out: Collector<[string, number, number, boolean]>): void {
    out.collect([e.src, e.ts, ctx.timerService().currentWatermark(), this.idleEnded()]);
  }
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('idle inputs do not hold event time back', () => {
  it('a SourceFunction that marks itself idle: the active source alone advances the watermark', async () => {
    const activeDone = deferred();
    let idleEnded = false;
    const idle: SourceFunction<{ src: string; ts: number }> = {
      async run(ctx: SourceContext<{ src: string; ts: number }>) {
        for (const ts of [1, 2, 3]) await ctx.collectWithTimestamp({ src: 'idle', ts }, ts);
        ctx.emitWatermark(3);
        ctx.markAsTemporarilyIdle();
        await activeDone.promise;
        idleEnded = true;
      },
      cancel() {},
    };
    const active: SourceFunction<{ src: string; ts: number }> = {
      async run(ctx) {
        try {
          for (let ts = 10; ts <= 300; ts += 10) {
            await ctx.collectWithTimestamp({ src: 'active', ts }, ts);
            ctx.emitWatermark(ts);
            await sleep(1);
          }
        } finally {
          activeDone.resolve();
        }
      },
      cancel() {},
    };
    const env = StreamExecutionEnvironment.getExecutionEnvironment().setExecutionMode('inline').setParallelism(1);
    const rows = await env
      .addSource(idle, 'idle-source')
      .union(env.addSource(active, 'active-source'))
      .keyBy((e) => e.src)
      .process(new WatermarkProbe(() => idleEnded))
      .executeAndCollect('idle source');
    const whileIdleRan = rows.filter((r) => r[0] === 'active' && !r[3]).map((r) => r[2]);
    const maxWm = Math.max(...whileIdleRan);
    assert.ok(maxWm >= 200, `watermark reached only ${maxWm} while the idle source was still running`);
    assert.equal(rows.length, 33);
  });

  it('withIdleness: a quiet source is marked idle and the active one advances the watermark', async () => {
    const activeDone = deferred();
    let quietEnded = false;
    const quiet: SourceFunction<{ src: string; ts: number }> = {
      async run(ctx) {
        for (const ts of [1, 2, 3]) await ctx.collect({ src: 'quiet', ts });
        await activeDone.promise;
        quietEnded = true;
      },
      cancel() {},
    };
    const busy: SourceFunction<{ src: string; ts: number }> = {
      async run(ctx) {
        try {
          for (let i = 0; i < 60; i++) {
            await ctx.collect({ src: 'busy', ts: 100 + 10 * i });
            await sleep(4);
          }
        } finally {
          activeDone.resolve();
        }
      },
      cancel() {},
    };
    const strategy = WatermarkStrategy.forMonotonousTimestamps<{ src: string; ts: number }>()
      .withTimestampAssigner((e) => e.ts)
      .withIdleness(30);
    const env = StreamExecutionEnvironment.getExecutionEnvironment().setExecutionMode('inline').setParallelism(1);
    env.getConfig().setAutoWatermarkInterval(5);
    const rows = await env
      .addSource(quiet, 'quiet-source')
      .assignTimestampsAndWatermarks(strategy)
      .union(env.addSource(busy, 'busy-source').assignTimestampsAndWatermarks(strategy))
      .keyBy((e) => e.src)
      .process(new WatermarkProbe(() => quietEnded))
      .executeAndCollect('withIdleness');
    const whileQuietRan = rows.filter((r) => r[0] === 'busy' && !r[3]).map((r) => r[2]);
    const maxWm = Math.max(...whileQuietRan);
    assert.ok(maxWm > 3 && maxWm >= 200, `watermark reached only ${maxWm} while the quiet source was still running`);
  });
});

describe('processing-time timers', () => {
  it('fire while the job runs (now + 20 ms, source finishes after ~100 ms)', async () => {
    let sourceEnded = false;
    const source: SourceFunction<string> = {
      async run(ctx) {
        for (const k of ['a', 'b', 'a']) await ctx.collect(k);
        await sleep(100);
        sourceEnded = true;
      },
      cancel() {},
    };
    class ProcTimer extends KeyedProcessFunction<string, string, unknown[]> {
      processElement(k: string, ctx: KeyedProcessContext<string>, out: Collector<unknown[]>): void {
        const now = ctx.timerService().currentProcessingTime();
        ctx.timerService().registerProcessingTimeTimer(now + 20);
        out.collect(['el', k, now]);
      }
      override onTimer(ts: number, ctx: OnTimerContext<string>, out: Collector<unknown[]>): void {
        out.collect(['timer', ctx.getCurrentKey(), ts, ctx.timeDomain(), ctx.timerService().currentProcessingTime(), sourceEnded]);
      }
    }
    const env = StreamExecutionEnvironment.getExecutionEnvironment().setExecutionMode('inline').setParallelism(1);
    const rows = await env.addSource(source).keyBy((k) => k).process(new ProcTimer()).executeAndCollect('processing time');
    const timers = rows.filter((r) => r[0] === 'timer');
    assert.ok(timers.length >= 2, `expected timers for keys a and b, got ${JSON.stringify(rows)}`);
    assert.deepEqual([...new Set(timers.map((t) => t[1]))].sort(), ['a', 'b']);
    for (const [, key, ts, domain, firedAt, ended] of timers) {
      assert.equal(domain, 'PROCESSING_TIME');
      assert.ok((firedAt as number) >= (ts as number), `${key}: fired at ${firedAt}, before its time ${ts}`);
      assert.equal(ended, false, `${key}: fired only after the source ended`);
    }
  });
});

describe('side outputs', () => {
  const odd = new OutputTag<number>('odd');
  const big = new OutputTag<string>('big');

  it('ctx.output(tag) reaches getSideOutput(tag), main output keeps the rest', async () => {
    class Splitter extends ProcessFunction<number, number> {
      processElement(v: number, ctx: ProcessContext, out: Collector<number>): void {
        if (v % 2 === 1) ctx.output(odd, v);
        else out.collect(v);
        if (v > 95) ctx.output(big, `big:${v}`);
      }
    }
    const env = StreamExecutionEnvironment.getExecutionEnvironment().setExecutionMode('inline').setParallelism(2);
    const split = env.fromSequence(1, 100).process(new Splitter()).name('splitter');
    const rows = await split
      .map((v): [string, unknown] => ['main', v])
      .union(
        split.getSideOutput(odd).map((v): [string, unknown] => ['odd', v]),
        split.getSideOutput(big).map((v): [string, unknown] => ['big', v]),
      )
      .executeAndCollect('side outputs');
    const of = (tag: string) => rows.filter((r) => r[0] === tag).map((r) => r[1]);
    const nums = (xs: unknown[]) => (xs as number[]).sort((a, b) => a - b);
    assert.deepEqual(nums(of('main')), Array.from({ length: 50 }, (_, i) => 2 * (i + 1)));
    assert.deepEqual(nums(of('odd')), Array.from({ length: 50 }, (_, i) => 2 * i + 1));
    assert.deepEqual((of('big') as string[]).sort(), ['big:100', 'big:96', 'big:97', 'big:98', 'big:99']);
  });

  it('a keyed process function emits side outputs from processElement and onTimer', async () => {
    const late = new OutputTag<[string, number]>('fired');
    class Keyed extends KeyedProcessFunction<number, number, number> {
      processElement(v: number, ctx: KeyedProcessContext<number>, out: Collector<number>): void {
        ctx.timerService().registerEventTimeTimer(1_000);
        out.collect(v);
      }
      override onTimer(ts: number, ctx: OnTimerContext<number>): void {
        ctx.output(late, [`key${ctx.getCurrentKey()}`, ts]);
      }
    }
    const env = StreamExecutionEnvironment.getExecutionEnvironment().setExecutionMode('inline').setParallelism(1);
    const main = env.fromSequence(1, 30).keyBy((v) => v % 3).process(new Keyed());
    const rows = await main
      .map((v): unknown[] => ['main', v])
      .union(main.getSideOutput(late).map((t): unknown[] => ['fired', ...t]))
      .executeAndCollect('keyed side outputs');
    assert.equal(rows.filter((r) => r[0] === 'main').length, 30);
    assert.deepEqual(
      rows.filter((r) => r[0] === 'fired').map((r) => `${r[1]}@${r[2]}`).sort(),
      ['key0@1000', 'key1@1000', 'key2@1000'],
    );
  });
});
