/** An unbounded job whose map counts its records in a user counter ("mapped"); runs until cancelled. */
import { RichMapFunction, StreamExecutionEnvironment, type Counter } from 'weir';
import { ClickSource } from '../../../examples/click-source.ts';

class CountingMap extends RichMapFunction<{ user: string; url: string }, string> {
  #mapped!: Counter;
  override open(): void {
    this.#mapped = this.getRuntimeContext().getMetricGroup().addGroup('user').counter('mapped');
  }
  map(e: { user: string; url: string }): string {
    this.#mapped.inc();
    return e.url;
  }
}

const env = StreamExecutionEnvironment.getExecutionEnvironment();
env.addSource(new ClickSource({ intervalMs: 1, seed: 3 })).map(new CountingMap()).name('counting map').addSink(() => {});
await env.execute('user metrics');
