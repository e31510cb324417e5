/**
 * The seed's StateConsistencyExample: a keyed visit count whose state is covered by
 * exactly-once checkpoints, with a fixed-delay restart strategy.
 *
 *   weir run examples/state-consistency.ts [maxEvents] [intervalMs] [hashmap|rocksdb]
 *
 * The third argument picks the state backend (the seed's two: HashMapStateBackend, the default,
 * or EmbeddedRocksDBStateBackend with incremental checkpoints); the job is the same on both.
 */
import {
  CheckpointConfig,
  CheckpointingMode,
  EmbeddedRocksDBStateBackend,
  HashMapStateBackend,
  KeyedProcessFunction,
  RestartStrategies,
  StreamExecutionEnvironment,
  ValueStateDescriptor,
  WatermarkStrategy,
  type Collector,
  type KeyedProcessContext,
  type ValueState,
} from 'weir';
import { ClickSource } from './click-source.ts';
import type { Event } from './event.ts';

/** Counts visits per user in ValueState; with checkpoints the count survives failures exactly once. */
export class ConsistentStateProcessFunction extends KeyedProcessFunction<string, Event, string> {
  private visitCountState!: ValueState<number>;

  override open(): void {
    this.visitCountState = this.getRuntimeContext().getState(new ValueStateDescriptor<number>('visit-count'));
  }

  processElement(value: Event, _ctx: KeyedProcessContext<string>, out: Collector<string>): void {
    const count = (this.visitCountState.value() ?? 0) + 1;
    this.visitCountState.update(count);
    out.collect(`${value.user} 访问次数: ${count} (时间戳: ${value.timestamp})`);
  }
}

const [maxEvents, intervalMs] = process.argv.slice(2, 4).map(Number);
const backend = process.argv[4] ?? 'hashmap';
if (backend !== 'hashmap' && backend !== 'rocksdb') throw new Error(`state backend must be hashmap or rocksdb, got ${backend}`);

const env = StreamExecutionEnvironment.getExecutionEnvironment();
env.setParallelism(1);
env.enableCheckpointing(1000);

const checkpointConfig = env.getCheckpointConfig();
// Exactly-once: after a failure the result is as if it never happened.
// For at-least-once: checkpointConfig.setCheckpointingMode(CheckpointingMode.AT_LEAST_ONCE);
checkpointConfig.setCheckpointingMode(CheckpointingMode.EXACTLY_ONCE);
checkpointConfig.setCheckpointTimeout(60000);
checkpointConfig.setMinPauseBetweenCheckpoints(500);
checkpointConfig.setMaxConcurrentCheckpoints(1);
checkpointConfig.enableExternalizedCheckpoints(CheckpointConfig.ExternalizedCheckpointCleanup.RETAIN_ON_CANCELLATION);

// HashMapStateBackend keeps state on the heap; EmbeddedRocksDBStateBackend(true) on local disk,
// with incremental checkpoints.
env.setStateBackend(backend === 'rocksdb' ? new EmbeddedRocksDBStateBackend(true) : new HashMapStateBackend());
checkpointConfig.setCheckpointStorage('file:///tmp/flink-checkpoints');
env.setRestartStrategy(RestartStrategies.fixedDelayRestart(3, 10_000));

// Every operator has a uid, so its state in checkpoints and savepoints keeps its name when the pipeline changes.
const stream = env
  .addSource(new ClickSource({ maxEvents: maxEvents || Infinity, intervalMs: intervalMs ?? 1000 }))
  .uid('click-source')
  .assignTimestampsAndWatermarks(WatermarkStrategy.forMonotonousTimestamps<Event>().withTimestampAssigner((e) => e.timestamp))
  .uid('watermarks');

stream
  .keyBy((data) => data.user)
  .process(new ConsistentStateProcessFunction())
  .uid('visit-count')
  .print('一致性状态统计')
  .uid('print-sink');

await env.execute('State Consistency Example');
