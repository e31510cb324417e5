/**
 * Cluster fixture: a throttled source into a map that throws after 800 records (over 1.6 s, so
 * its subtask reports metrics first) in each of its first two attempts, under a fixed-delay
 * restart strategy (2 restarts, 1.5 s apart), with checkpoints every 100 ms. The job restarts
 * twice, spending 1.5 s in RESTARTING each time, then runs until cancelled. Imports only 'weir', so its source can be submitted as it is.
 */
import { RestartStrategies, RichMapFunction, RichParallelSourceFunction, StreamExecutionEnvironment } from 'weir';
import type { SourceContext } from 'weir';

class Ticks extends RichParallelSourceFunction<number> {
  private running = true;
  async run(ctx: SourceContext<number>): Promise<void> {
    for (let n = 0; this.running; n++) {
      await ctx.collect(n);
      await new Promise((r) => setTimeout(r, 2));
    }
  }
  cancel(): void {
    this.running = false;
  }
}

class Flaky extends RichMapFunction<number, number> {
  private seen = 0;
  map(n: number): number {
    if (++this.seen > 800 && this.getRuntimeContext().getAttemptNumber() < 2) throw new Error(`attempt ${this.getRuntimeContext().getAttemptNumber()} gives up`);
    return n;
  }
}

const env = StreamExecutionEnvironment.getExecutionEnvironment();
env.enableCheckpointing(100);
env.setRestartStrategy(RestartStrategies.fixedDelayRestart(2, 1500));
env.addSource(new Ticks()).uid('ticks').name('ticks').map(new Flaky()).uid('flaky').name('flaky map').addSink(() => {}).uid('discard').name('discard');
await env.execute('flaky');
