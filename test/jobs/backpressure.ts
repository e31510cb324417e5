/**
 * E2E fixture: a fast parallel source and a slow parallel sink on worker threads. The sink
 * samples its worker's memory (V8 heap plus array buffers, where batches received from other
 * threads wait) while records flow and, when its input ends, writes a report to
 * `<outDir>/sink-<subtask>.json`:
 *
 *   { subtask, count, baseline, peak, rssBaseline, rssPeak, samples }
 *
 *   args[0]: total records (default 2,000,000)
 *   args[1]: directory for the reports (required)
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RichSinkFunction, StreamExecutionEnvironment } from 'weir';

const total = Number(process.argv[2] ?? 2_000_000);
const outDir = process.argv[3];
if (!outDir) throw new Error('backpressure fixture: give a report directory as the second argument');

/** This thread's V8 heap in use plus its array buffers (off-heap bytes of received batches). */
function isolateMemory(): number {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

class SlowSink extends RichSinkFunction<[number, string]> {
  #count = 0;
  #baseline = 0;
  #peak = 0;
  #rssBaseline = 0;
  #rssPeak = 0;
  #samples = 0;

  override open(): void {
    this.#baseline = this.#peak = isolateMemory();
    this.#rssBaseline = this.#rssPeak = process.memoryUsage.rss();
  }

  invoke(): void | Promise<void> {
    const n = ++this.#count;
    if (n % 1000 !== 0) return;
    this.#samples++;
    this.#peak = Math.max(this.#peak, isolateMemory());
    this.#rssPeak = Math.max(this.#rssPeak, process.memoryUsage.rss());
    // The slow part: a short pause every 1000 records, much slower than the source.
    return new Promise((resolve) => setTimeout(resolve, 1));
  }

  finish(): void {
    const subtask = this.getRuntimeContext().getIndexOfThisSubtask();
    const report = {
      subtask,
      count: this.#count,
      baseline: this.#baseline,
      peak: this.#peak,
      rssBaseline: this.#rssBaseline,
      rssPeak: this.#rssPeak,
      samples: this.#samples,
    };
    writeFileSync(join(outDir!, `sink-${subtask}.json`), JSON.stringify(report));
  }
}

const env = StreamExecutionEnvironment.getExecutionEnvironment();
env
  .fromSequence(1, total)
  .name('fast-source')
  .map((i): [number, string] => [i, 'payload'])
  .name('to-record')
  .rebalance()
  .addSink(new SlowSink())
  .name('slow-sink');

await env.execute('backpressure');
