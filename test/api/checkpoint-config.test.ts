import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  CheckpointConfig,
  CheckpointingMode,
  ConfigError,
  Configuration,
  HashMapStateBackend,
  StreamExecutionEnvironment,
} from '../../src/index.ts';
import { parseDuration } from '../../src/api/configuration.ts';
import { validateCheckpointing } from '../../src/api/checkpoint-config.ts';

test("defaults are Flink's: disabled, exactly-once, 10 min timeout, no pause, 1 concurrent, 0 tolerable, 1 retained, aligned", () => {
  const c = StreamExecutionEnvironment.getExecutionEnvironment().getCheckpointConfig();
  assert.equal(c.isCheckpointingEnabled(), false);
  assert.equal(c.getCheckpointInterval(), -1);
  assert.equal(c.getCheckpointingMode(), 'EXACTLY_ONCE');
  assert.equal(c.getCheckpointTimeout(), 600_000);
  assert.equal(c.getMinPauseBetweenCheckpoints(), 0);
  assert.equal(c.getMaxConcurrentCheckpoints(), 1);
  assert.equal(c.getTolerableCheckpointFailureNumber(), 0);
  assert.equal(c.getExternalizedCheckpointRetention(), 'NO_EXTERNALIZED_CHECKPOINTS');
  assert.equal(c.getNumRetainedCheckpoints(), 1);
  assert.equal(c.isUnalignedCheckpointsEnabled(), false);
  assert.equal(c.getAlignedCheckpointTimeout(), 0);
  assert.equal(c.isForceUnalignedCheckpoints(), false);
});

test('the seed CheckpointConfigExample settings land on the configuration keys', () => {
  const env = StreamExecutionEnvironment.getExecutionEnvironment();
  env.enableCheckpointing(1000);
  const c = env.getCheckpointConfig();
  c.setCheckpointingMode(CheckpointingMode.EXACTLY_ONCE);
  c.setCheckpointTimeout(60000);
  c.setMinPauseBetweenCheckpoints(500);
  c.setMaxConcurrentCheckpoints(1);
  c.enableExternalizedCheckpoints(CheckpointConfig.ExternalizedCheckpointCleanup.RETAIN_ON_CANCELLATION);
  c.enableUnalignedCheckpoints();
  c.setTolerableCheckpointFailureNumber(0);
  env.setStateBackend(new HashMapStateBackend());
  c.setCheckpointStorage('file:///tmp/flink-checkpoints');
  const o = env.getConfiguration().toObject();
  assert.equal(o['execution.checkpointing.interval'], 1000);
  assert.equal(o['execution.checkpointing.timeout'], 60000);
  assert.equal(o['execution.checkpointing.min-pause'], 500);
  assert.equal(o['execution.checkpointing.externalized-checkpoint-retention'], 'RETAIN_ON_CANCELLATION');
  assert.equal(o['execution.checkpointing.unaligned.enabled'], true);
  assert.equal(o['execution.checkpointing.aligned-checkpoint-timeout'], 0, 'unaligned from the start');
  assert.equal(o['state.checkpoints.dir'], 'file:///tmp/flink-checkpoints');
  assert.equal(o['state.backend.type'], 'hashmap');
  validateCheckpointing(env.getConfiguration());
});

test('the same settings come from an options object with Flink keys, durations included', () => {
  const env = StreamExecutionEnvironment.getExecutionEnvironment({
    'execution.checkpointing.interval': '5 s',
    'execution.checkpointing.mode': 'at-least-once',
    'execution.checkpointing.timeout': '1 min',
    'state.checkpoints.num-retained': '3',
  });
  const c = env.getCheckpointConfig();
  assert.equal(c.getCheckpointInterval(), 5000);
  assert.equal(c.getCheckpointingMode(), 'AT_LEAST_ONCE');
  assert.equal(c.getCheckpointTimeout(), 60_000);
  assert.equal(c.getNumRetainedCheckpoints(), 3);
});

test('invalid values and combinations are rejected with a message naming the setting', () => {
  const c = new CheckpointConfig(new Configuration());
  assert.throws(() => c.setCheckpointInterval(5), /execution\.checkpointing\.interval must be at least 10 ms/);
  assert.throws(() => c.setMaxConcurrentCheckpoints(0), /max-concurrent-checkpoints/);
  assert.throws(() => c.setTolerableCheckpointFailureNumber(-1), /tolerable-failed-checkpoints/);
  assert.throws(() => c.setCheckpointTimeout(0), /execution\.checkpointing\.timeout/);
  assert.throws(() => c.setCheckpointingMode('SOMETIMES' as never), /execution\.checkpointing\.mode must be one of/);
  assert.throws(() => c.setCheckpointStorage('s3://bucket/x'), /only file:\/\//);
  assert.throws(() => new Configuration({ 'execution.checkpointing.intervall': 1000 }), /unknown configuration key "execution\.checkpointing\.intervall"/);
  const conf = new Configuration({ 'execution.checkpointing.interval': 1000, 'execution.checkpointing.min-pause': 100, 'execution.checkpointing.max-concurrent-checkpoints': 2 });
  assert.throws(() => validateCheckpointing(conf), (e: unknown) => e instanceof ConfigError && /min-pause/.test(e.message) && /max-concurrent/.test(e.message));
  const env = StreamExecutionEnvironment.getExecutionEnvironment({ 'weir.execution.mode': 'inline' });
  assert.throws(() => env.setStateBackend({} as never), /HashMapStateBackend/);
});

test('durations parse with units and reject garbage', () => {
  assert.equal(parseDuration('500 ms', 'k'), 500);
  assert.equal(parseDuration('2min', 'k'), 120_000);
  assert.equal(parseDuration('1 h', 'k'), 3_600_000);
  assert.equal(parseDuration(250, 'k'), 250);
  assert.throws(() => parseDuration('soon', 'my.key'), /my\.key must be a duration/);
  assert.throws(() => parseDuration(-1, 'my.key'), /my\.key/);
});
