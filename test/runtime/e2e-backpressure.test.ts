/**
 * End to end: a fast source feeding a slow sink is held back by credit-based flow control,
 * so what is in flight between them stays bounded by the network configuration instead of
 * growing with the input.
 */
import { describe, it } from 'node:test';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { Configuration, StreamExecutionEnvironment, type SinkFunction, type SourceFunction } from 'weir';
import { runJob } from 'weir/testing';

const defaults = new Configuration();
const BUFFER_RECORDS = defaults.get('weir.network.buffer-records');
const CREDITS = defaults.get('weir.network.credits-per-channel');

/**
 * Most records that can be between a source and its consumers: per channel, `CREDITS` batches
 * in flight (counting the one being consumed), one batch waiting for credit, and one being
 * staged — plus a small burst margin.
 */
function bound(channels: number): number {
  return BUFFER_RECORDS * (CREDITS + 2) * channels + 64;
}

function slowSink(onRecord: () => void): SinkFunction<number> {
  let n = 0;
  return {
    invoke(): Promise<void> {
      onRecord();
      n++;
      return new Promise((resolve) => (n % 1000 === 0 ? setTimeout(resolve, 1) : setImmediate(resolve)));
    },
  };
}

describe('backpressure (inline)', () => {
  for (const { label, sinkParallelism } of [
    { label: 'source → slow sink over one channel', sinkParallelism: 1 },
    { label: 'source → rebalance → two slow sinks', sinkParallelism: 2 },
  ]) {
    it(`${label}: emitted - consumed stays bounded`, async (t) => {
      const TOTAL = 200_000;
      let emitted = 0;
      let consumed = 0;
      let maxLag = 0;
      const source: SourceFunction<number> = {
        async run(ctx) {
          for (let i = 0; i < TOTAL; i++) {
            emitted++;
            await ctx.collect(i);
          }
        },
        cancel() {},
      };
      const env = StreamExecutionEnvironment.getExecutionEnvironment().setExecutionMode('inline').setParallelism(1);
      const stream = env.addSource(source, 'fast-source');
      const limit = bound(sinkParallelism);
      (sinkParallelism > 1 ? stream.rebalance() : stream)
        .addSink(
          slowSink(() => {
            consumed++;
            const lag = emitted - consumed;
            if (lag > maxLag) maxLag = lag;
            if (lag > limit) throw new Error(`lag ${lag} exceeds ${limit}`);
          }),
        )
        .name('slow-sink')
        .setParallelism(sinkParallelism)
        .disableChaining();
      await env.execute('backpressure');
      t.diagnostic(`max emitted - consumed: ${maxLag} (bound ${limit} for ${sinkParallelism} channel(s))`);
      assert.equal(consumed, TOTAL);
      assert.ok(maxLag <= limit, `max lag ${maxLag} > ${limit}`);
      // Non-vacuous: the source did run ahead of the sink, by at least a batch.
      assert.ok(maxLag >= BUFFER_RECORDS, `max lag ${maxLag}: source and sink ran in lockstep`);
    });
  }
});

describe('backpressure (threads)', () => {
  it('p=2: heap growth of each sink’s worker stays bounded while 2M records flow', async (t) => {
    const TOTAL = 2_000_000;
    const dir = mkdtempSync(join(tmpdir(), 'weir-backpressure-'));
    try {
      await runJob('test/jobs/backpressure.ts', { args: [String(TOTAL), dir], mode: 'threads', parallelism: 2 });
      const reports = [0, 1].map(
        (i) =>
          JSON.parse(readFileSync(join(dir, `sink-${i}.json`), 'utf8')) as {
            subtask: number;
            count: number;
            baseline: number;
            peak: number;
            rssBaseline: number;
            rssPeak: number;
            samples: number;
          },
      );
      assert.equal(reports[0]!.count + reports[1]!.count, TOTAL);
      for (const r of reports) {
        const growthMb = (r.peak - r.baseline) / 2 ** 20;
        const rssMb = (r.rssPeak - r.rssBaseline) / 2 ** 20;
        t.diagnostic(
          `sink ${r.subtask}: ${r.count} records, ${r.samples} samples, heap growth ${growthMb.toFixed(1)} MB, process rss growth ${rssMb.toFixed(1)} MB`,
        );
        assert.ok(r.count > TOTAL / 4, `rebalance gave sink ${r.subtask} only ${r.count} records`);
        assert.ok(growthMb < 100, `sink ${r.subtask}: its worker's heap grew by ${growthMb.toFixed(1)} MB`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
