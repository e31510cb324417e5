/**
 * An unbounded job whose map counts its records in a user counter (`user.mapped`) and reports,
 * as the string gauge `user.identifier`, what getMetricIdentifier('mapped') of that group returns
 * inside the running task; runs until cancelled.
 */
import { RichMapFunction, StreamExecutionEnvironment, type Counter } from 'weir';
import { ClickSource } from '../../../examples/click-source.ts';

class CountingMap extends RichMapFunction<{ user: string; url: string }, string> {
  #mapped!: Counter;
  override open(): void {
    const group = this.getRuntimeContext().getMetricGroup().addGroup('user');
    this.#mapped = group.counter('mapped');
    const identifier = group.getMetricIdentifier('mapped');
    group.gauge('identifier', () => identifier);
  }
  map(e: { user: string; url: string }): string {
    this.#mapped.inc();
    return e.url;
  }
}

const env = StreamExecutionEnvironment.getExecutionEnvironment();
env.addSource(new ClickSource({ intervalMs: 1, seed: 3 })).map(new CountingMap()).name('counting map').addSink(() => {});
await env.execute('scoped metrics');
