/**
 * E2E fixture: records that cannot cross threads go through keyBy at parallelism 2.
 *   args[0]: 'class' (an instance of a class never given to registerType) | 'function'
 */
import { StreamExecutionEnvironment } from 'weir';

/** Deliberately not registered with registerType. */
export class Unregistered {
  constructor(readonly id: number) {}
}

const kind = process.argv[2] ?? 'class';
const env = StreamExecutionEnvironment.getExecutionEnvironment();
env.setParallelism(2);
env
  .fromSequence(1, 100)
  .map((i): { id: number; payload: unknown } => ({ id: i, payload: kind === 'class' ? new Unregistered(i) : () => i }))
  .name('make-records')
  .keyBy((r) => r.id % 4)
  .map((r) => r.id)
  .name('after-keyBy')
  .addSink(() => {});
await env.execute(`unserializable ${kind}`);
