import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, Configuration } from '../../src/api/configuration.ts';

test('values from strings are converted as Flink reads them', () => {
  const c = new Configuration({
    'parallelism.default': ' 3 ',
    'execution.checkpointing.mode': 'at-least-once',
    'execution.savepoint.ignore-unclaimed-state': 'TRUE',
    'execution.checkpointing.interval': '2 s',
    'state.checkpoints.num-retained': '5',
  });
  assert.equal(c.get('parallelism.default'), 3);
  assert.equal(c.get('execution.checkpointing.mode'), 'AT_LEAST_ONCE');
  assert.equal(c.get('execution.savepoint.ignore-unclaimed-state'), true);
  assert.equal(c.get('execution.checkpointing.interval'), 2000);
  assert.equal(c.get('state.checkpoints.num-retained'), 5);
});

test('an invalid value is a ConfigError naming the key, what it wants and what it got', () => {
  const cases: [string, unknown, RegExp][] = [
    ['parallelism.default', '0', /^parallelism\.default must be an integer between 1 and 32768, got "0"$/],
    ['parallelism.default', 2.5, /^parallelism\.default must be an integer between 1 and 32768, got 2\.5$/],
    ['pipeline.max-parallelism', '', /^pipeline\.max-parallelism must be an integer between 1 and 32768, got ""$/],
    ['pipeline.auto-watermark-interval', -1, /^pipeline\.auto-watermark-interval must be a non-negative integer, got -1$/],
    ['weir.execution.mode', 'fibers', /^weir\.execution\.mode must be "threads" or "inline", got "fibers"$/],
    ['execution.checkpointing.mode', 'SOMETIMES', /^execution\.checkpointing\.mode must be one of EXACTLY_ONCE, AT_LEAST_ONCE, got "SOMETIMES"$/],
    ['execution.savepoint.ignore-unclaimed-state', 'yes', /^execution\.savepoint\.ignore-unclaimed-state must be true or false, got "yes"$/],
    ['state.checkpoints.dir', '', /^state\.checkpoints\.dir must be a path or file:\/\/ URI, got ""$/],
    ['state.backend.type', 'Heap Map', /^state\.backend\.type must be the name of a state backend, e\.g\. "hashmap", got "Heap Map"$/],
    ['restart-strategy', 'fixed', /^restart-strategy must be a RestartStrategies configuration, got "fixed"$/],
    ['execution.checkpointing.interval', 5, /^execution\.checkpointing\.interval must be at least 10 ms, got 5 ms$/],
    ['no.such.key', 1, /^unknown configuration key "no\.such\.key" \(known: parallelism\.default, /],
  ];
  for (const [key, value, message] of cases) {
    assert.throws(
      () => new Configuration({ [key]: value }),
      (e: unknown) => e instanceof ConfigError && message.test(e.message),
      `${key} = ${JSON.stringify(value)}`,
    );
  }
});

test('a rejected value leaves the option as it was', () => {
  const c = new Configuration({ 'parallelism.default': 4 });
  assert.throws(() => c.setString('parallelism.default', 'many'), ConfigError);
  assert.equal(c.get('parallelism.default'), 4);
});
