/**
 * The seed's SavepointExample: visits per user counted in ValueState, on a job prepared for
 * savepoints. A checkpoint is taken automatically (every second here) and restored by weir after
 * a failure; a savepoint is taken only when you ask for one, belongs to you, and is what you start
 * a changed, upgraded or rescaled job from, or what you stop a job with to resume it later.
 *
 *   weir start-cluster
 *   weir run -d examples/savepoint.ts [maxEvents] [intervalMs]   # prints the job id
 *   weir savepoint <jobId> /tmp/weir-savepoints                  # a savepoint; the job runs on
 *   weir stop --savepointPath /tmp/weir-savepoints <jobId>       # a savepoint, then the job ends
 *   weir run -d -s <savepoint path> examples/savepoint.ts        # the counts go on where they stopped
 *
 * (docs/savepoints.md walks through the whole flow.) State in a savepoint is matched to
 * operators by uid: give every operator one, so that the state still finds its operator after
 * the pipeline changed. Without arguments it runs like the seed: one click a second, unbounded.
 */
import { CheckpointingMode, HashMapStateBackend, StreamExecutionEnvironment, WatermarkStrategy } from 'weir';
import { ClickSource } from './click-source.ts';
import type { Event } from './event.ts';
import { UserVisitCountFunction } from './user-visit-count-function.ts';

const [maxEvents, intervalMs] = process.argv.slice(2).map(Number);

// Parallelism 1 as in the seed, given as a default rather than set: `weir run -p N` wins over it,
// so a job resumed from a savepoint can run at another parallelism.
const env = StreamExecutionEnvironment.getExecutionEnvironment({ 'parallelism.default': 1 });

// Checkpoints (automatic, for failures) every second, exactly-once, on the local file system.
env.enableCheckpointing(1000);
const checkpointConfig = env.getCheckpointConfig();
checkpointConfig.setCheckpointingMode(CheckpointingMode.EXACTLY_ONCE);
checkpointConfig.setCheckpointStorage('file:///tmp/flink-checkpoints');

// State on the heap.
env.setStateBackend(new HashMapStateBackend());

// Where savepoints go when `weir savepoint` or `weir stop` names no directory; the same as
// `state.savepoints.dir` (or `execution.checkpointing.savepoint-dir`) in the configuration.
env.setDefaultSavepointDirectory('file:///tmp/flink-savepoints');

// Every operator gets a uid: the savepoint finds each operator's state by it.
const stream = env
  .addSource(new ClickSource({ maxEvents: maxEvents || Infinity, intervalMs: intervalMs ?? 1000 }))
  .uid('source-id')
  .assignTimestampsAndWatermarks(WatermarkStrategy.forMonotonousTimestamps<Event>().withTimestampAssigner((e) => e.timestamp))
  .uid('watermark-assigner-id');

stream
  .keyBy((data) => data.user)
  .process(new UserVisitCountFunction())
  .uid('visit-count-processor-id')
  .print('用户访问统计')
  .uid('print-sink-id');

await env.execute('Savepoint Example');
