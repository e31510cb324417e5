/**
 * The seed's CheckpointConfigExample: every checkpoint setting in one place, on the ClickSource
 * pipeline.
 *
 *   weir run examples/checkpoint-config.ts [maxEvents] [intervalMs]
 */
import {
  CheckpointConfig,
  CheckpointingMode,
  HashMapStateBackend,
  RestartStrategies,
  StreamExecutionEnvironment,
  WatermarkStrategy,
} from 'weir';
import { ClickSource } from './click-source.ts';
import type { Event } from './event.ts';

const [maxEvents, intervalMs] = process.argv.slice(2).map(Number);

const env = StreamExecutionEnvironment.getExecutionEnvironment();
env.setParallelism(1);

// 1. Checkpoint every second.
env.enableCheckpointing(1000);
const checkpointConfig = env.getCheckpointConfig();
// 3. Consistency level: exactly-once (the default) or at-least-once.
checkpointConfig.setCheckpointingMode(CheckpointingMode.EXACTLY_ONCE);
// 4. A checkpoint not done within a minute is discarded.
checkpointConfig.setCheckpointTimeout(60000);
// 5. At least 500 ms between the end of one checkpoint and the start of the next.
checkpointConfig.setMinPauseBetweenCheckpoints(500);
// 6. At most one checkpoint in flight.
checkpointConfig.setMaxConcurrentCheckpoints(1);
// 7. Keep checkpoints when the job is cancelled.
checkpointConfig.enableExternalizedCheckpoints(CheckpointConfig.ExternalizedCheckpointCleanup.RETAIN_ON_CANCELLATION);
// 8. Unaligned checkpoints: barriers overtake buffered data, so checkpoints stay quick under
// backpressure. Needs exactly-once mode and one checkpoint at a time (set above).
checkpointConfig.enableUnalignedCheckpoints();
// 9. Any checkpoint failure fails the job.
checkpointConfig.setTolerableCheckpointFailureNumber(0);
// 10. State on the heap.
env.setStateBackend(new HashMapStateBackend());
// 11. Checkpoints go to the local filesystem.
checkpointConfig.setCheckpointStorage('file:///tmp/flink-checkpoints');
// 12. On failure: up to 3 restarts, 10 seconds apart.
env.setRestartStrategy(RestartStrategies.fixedDelayRestart(3, 10_000));

// 13. The pipeline: clicks with event time, keyed by user, mapped to a line, written out. Each
// operator has a uid, so its state in checkpoints and savepoints keeps its name when the
// pipeline changes.
const stream = env
  .addSource(new ClickSource({ maxEvents: maxEvents || Infinity, intervalMs: intervalMs ?? 1000 }))
  .uid('click-source')
  .assignTimestampsAndWatermarks(WatermarkStrategy.forMonotonousTimestamps<Event>().withTimestampAssigner((e) => e.timestamp))
  .uid('watermarks');

stream
  .keyBy((data) => data.user)
  .map((data) => `${data.user} 访问了 ${data.url}`)
  .uid('format-visit')
  .addSink({
    invoke(value: string) {
      console.log(`输出: ${value}`);
    },
  })
  .uid('console-sink');

await env.execute('Checkpoint Config Example');
