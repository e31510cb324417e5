/**
 * weir: stateful stream processing for TypeScript with Flink's fault-tolerance model.
 * This entry exports the public API and registers the embedded executor, which runs jobs in
 * this process (worker threads by default, or inline).
 */
import './runtime/install-embedded-executor.ts';

export * from './api/functions.ts';
export type * from './api/metrics.ts';
export * from './api/state.ts';
export * from './api/source.ts';
export * from './api/sink.ts';
export { TwoPhaseCommitSinkFunction, type TwoPhaseCommitSinkOptions } from './api/two-phase-commit-sink-function.ts';
export {
  GenericWriteAheadSink,
  CheckpointCommitter,
  NO_CHECKPOINT_ID,
  type CheckpointKey,
  type GenericWriteAheadSinkOptions,
} from './api/generic-write-ahead-sink.ts';
export * from './api/job-client.ts';
export { Configuration, ConfigError, type ConfigKey, type ExecutionMode } from './api/configuration.ts';
export { StreamExecutionEnvironment, ExecutionConfig } from './api/environment.ts';
export { SavepointRestoreSettings } from './api/savepoint-restore-settings.ts';
export {
  CheckpointConfig,
  CheckpointingMode,
  ExternalizedCheckpointRetention,
  EmbeddedRocksDBStateBackend,
  HashMapStateBackend,
  type StateBackend,
} from './api/checkpoint-config.ts';
export { RestartStrategies, type RestartStrategyConfiguration } from './api/restart-strategies.ts';
export { DataStream, KeyedStream, ConnectedStreams, DataStreamSink } from './api/data-stream.ts';
export {
  WatermarkStrategy,
  MIN_WATERMARK,
  MAX_WATERMARK,
  type TimestampAssigner,
  type WatermarkGenerator,
  type WatermarkOutput,
} from './api/watermark-strategy.ts';
export { registerType, SerializationError } from './core/record-codec.ts';
export { KeyError } from './core/key-group.ts';
export { GraphError } from './graph/job-graph.ts';
export { NumberSequenceSource } from './runtime/sources/builtin-sources.ts';

