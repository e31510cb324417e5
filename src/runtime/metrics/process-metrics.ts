/**
 * Figures of the Node.js process a group stands for (the JobManager's, a TaskManager's), the
 * counterparts of Flink's `Status.JVM.*` metrics, registered under `Status.Node`:
 *
 *   Status.Node.Memory.Heap.Used       bytes   V8 heap in use (the calling thread's isolate)
 *   Status.Node.Memory.Heap.Committed  bytes   V8 heap reserved
 *   Status.Node.Memory.Heap.Max        bytes   V8 heap size limit
 *   Status.Node.Memory.RSS             bytes   resident set size of the whole process
 *   Status.Node.Memory.External        bytes   memory of C++ objects bound to JS objects
 *   Status.Node.Memory.ArrayBuffers    bytes   ArrayBuffers and SharedArrayBuffers (in External)
 *   Status.Node.GarbageCollector.All.Count     collections since the figures started
 *   Status.Node.GarbageCollector.All.Time  ms  time spent in them
 *   Status.Node.EventLoop.Delay.Mean   ms      event-loop delay over the latest window (≥ 10 s)
 *   Status.Node.EventLoop.Delay.Max    ms
 *   Status.Node.EventLoop.Delay.P99    ms
 *   Status.Node.CPU.Time               ns      CPU time of the process, user and system (as Flink's)
 *
 * The observers behind them (a `gc` PerformanceObserver, `monitorEventLoopDelay`) are started
 * once per thread and shared by every group that registers the figures; they keep nothing alive.
 */
import { monitorEventLoopDelay, PerformanceObserver, type IntervalHistogram } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import type { MetricGroup } from '../../api/metrics.ts';
import type { Clock } from '../../core/time.ts';

/** The shortest window the event-loop delay figures cover, ms. */
const DELAY_WINDOW_MS = 10_000;

interface Observers {
  gcCount: number;
  gcMs: number;
  readonly delay: IntervalHistogram;
  /** Where the current delay window started (undefined until first read) and the last full window's figures. */
  windowStart: number | undefined;
  latest: DelayFigures | undefined;
}

let observers: Observers | undefined;

function started(): Observers {
  if (observers !== undefined) return observers;
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  const o: Observers = { gcCount: 0, gcMs: 0, delay, windowStart: undefined, latest: undefined };
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      o.gcCount++;
      o.gcMs += e.duration;
    }
  }).observe({ entryTypes: ['gc'] });
  observers = o;
  return o;
}

interface DelayFigures {
  readonly mean: number;
  readonly max: number;
  readonly p99: number;
}

/** Registers the process figures on `group` (under `Status.Node`). */
export function registerProcessMetrics(group: MetricGroup, clock: Clock): void {
  const o = started();
  const node = group.addGroup('Status').addGroup('Node');
  const memory = node.addGroup('Memory');
  const heap = memory.addGroup('Heap');
  heap.gauge('Used', () => process.memoryUsage().heapUsed);
  heap.gauge('Committed', () => process.memoryUsage().heapTotal);
  heap.gauge('Max', () => getHeapStatistics().heap_size_limit);
  memory.gauge('RSS', () => process.memoryUsage.rss());
  memory.gauge('External', () => process.memoryUsage().external);
  memory.gauge('ArrayBuffers', () => process.memoryUsage().arrayBuffers);
  const gc = node.addGroup('GarbageCollector').addGroup('All');
  gc.gauge('Count', () => o.gcCount);
  gc.gauge('Time', () => Math.round(o.gcMs));
  // The delay figures cover the latest full window (one per thread, whichever group reads);
  // until the first one ends, the time so far.
  const delay = (): DelayFigures => {
    const h = o.delay;
    const now = clock.now();
    o.windowStart ??= now;
    if (o.latest !== undefined && now - o.windowStart < DELAY_WINDOW_MS) return o.latest;
    const figures = h.count === 0 ? { mean: 0, max: 0, p99: 0 } : { mean: h.mean / 1e6, max: h.max / 1e6, p99: h.percentile(99) / 1e6 };
    if (now - o.windowStart >= DELAY_WINDOW_MS) {
      o.latest = figures;
      o.windowStart = now;
      h.reset();
    }
    return figures;
  };
  const loop = node.addGroup('EventLoop').addGroup('Delay');
  loop.gauge('Mean', () => delay().mean);
  loop.gauge('Max', () => delay().max);
  loop.gauge('P99', () => delay().p99);
  node.addGroup('CPU').gauge('Time', () => {
    const u = process.cpuUsage();
    return (u.user + u.system) * 1000;
  });
}
