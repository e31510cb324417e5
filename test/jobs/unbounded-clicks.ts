/** An unbounded job (the seed's ClickSource, fast) for lifecycle tests: runs until cancelled. */
import { StreamExecutionEnvironment } from 'weir';
import { ClickSource } from '../../examples/click-source.ts';

const env = StreamExecutionEnvironment.getExecutionEnvironment();
env.addSource(new ClickSource({ intervalMs: 5, seed: 7 })).keyBy((e) => e.user).map((e) => e.url).addSink(() => {});
await env.execute('unbounded clicks');
