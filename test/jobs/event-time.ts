/**
 * E2E fixture: event time through a job. Two bounded sources with per-record (punctuated)
 * watermarks are unioned or connected, keyed, and fed to a process function that registers
 * event-time timers. The job collects what the function observed:
 *
 *   ['el', source, key, ts, ctx.timestamp(), currentWatermark, subtask, seq]
 *   ['timer', key, ts, currentWatermark, subtask, timeDomain, seq]
 *
 * `seq` numbers the observations of one subtask in the order they happened (the collect sink
 * may run at a higher parallelism and so does not keep that order).
 *
 *   args[0]: 'union' | 'connect'
 *   args[1]: parallelism of the keyed operator (default: the environment's)
 */
import {
  KeyedCoProcessFunction,
  KeyedProcessFunction,
  StreamExecutionEnvironment,
  WatermarkStrategy,
  type Collector,
  type KeyedProcessContext,
  type OnTimerContext,
} from 'weir';

import { A_TS, B_TS, DELAY, KEYS, LATE, type Ev } from './event-time-data.ts';

const variant = process.argv[2] ?? 'union';
const keyedParallelism = process.argv[3] ? Number(process.argv[3]) : undefined;

/** A watermark right behind every record: event time advances with each one. */
const punctuated = WatermarkStrategy.forGenerator<Ev>(() => ({
  onEvent: (_e, ts, out) => out.emitWatermark(ts - 1),
  onPeriodicEmit: () => {},
})).withTimestampAssigner((e) => e.ts);

type Obs = readonly unknown[];

let seq = 0;

function observe(e: Ev, ctx: KeyedProcessContext<string>, out: Collector<Obs>, subtask: number): void {
  const timers = ctx.timerService();
  out.collect(['el', e.src, e.key, e.ts, ctx.timestamp(), timers.currentWatermark(), subtask, seq++]);
  timers.registerEventTimeTimer(e.ts + DELAY);
  timers.registerEventTimeTimer(LATE);
}

class TimerFunction extends KeyedProcessFunction<string, Ev, Obs> {
  processElement(e: Ev, ctx: KeyedProcessContext<string>, out: Collector<Obs>): void {
    observe(e, ctx, out, this.getRuntimeContext().getIndexOfThisSubtask());
  }
  override onTimer(ts: number, ctx: OnTimerContext<string>, out: Collector<Obs>): void {
    out.collect(['timer', ctx.getCurrentKey(), ts, ctx.timerService().currentWatermark(), this.getRuntimeContext().getIndexOfThisSubtask(), ctx.timeDomain(), seq++]);
  }
}

class CoTimerFunction extends KeyedCoProcessFunction<string, Ev, Ev, Obs> {
  processElement1(e: Ev, ctx: KeyedProcessContext<string>, out: Collector<Obs>): void {
    observe(e, ctx, out, this.getRuntimeContext().getIndexOfThisSubtask());
  }
  processElement2(e: Ev, ctx: KeyedProcessContext<string>, out: Collector<Obs>): void {
    observe(e, ctx, out, this.getRuntimeContext().getIndexOfThisSubtask());
  }
  override onTimer(ts: number, ctx: OnTimerContext<string>, out: Collector<Obs>): void {
    out.collect(['timer', ctx.getCurrentKey(), ts, ctx.timerService().currentWatermark(), this.getRuntimeContext().getIndexOfThisSubtask(), ctx.timeDomain(), seq++]);
  }
}

const env = StreamExecutionEnvironment.getExecutionEnvironment();
const events = (src: 'A' | 'B', ts: number[]) =>
  env
    .fromElements(...ts.map((t, i): Ev => ({ src, key: KEYS[i % KEYS.length]!, ts: t })))
    .name(`source-${src}`)
    .assignTimestampsAndWatermarks(punctuated)
    .name(`watermarks-${src}`)
    .setParallelism(1);

const a = events('A', A_TS);
const b = events('B', B_TS);
const processed =
  variant === 'union'
    ? a.union(b).keyBy((e) => e.key).process(new TimerFunction()).name('timers')
    : a.connect(b).keyBy((e) => e.key, (e) => e.key).process(new CoTimerFunction()).name('co-timers');
if (keyedParallelism !== undefined) processed.setParallelism(keyedParallelism);

await processed.map((o) => o).setParallelism(1).executeAndCollect(`event-time ${variant}`);
