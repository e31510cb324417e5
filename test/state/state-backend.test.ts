/**
 * Every registered state backend passes the state backend contract (and with it the keyed and
 * operator state contracts); the registry resolves configuration names and the API objects.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HashMapStateBackend as HashMapStateBackendOption } from '../../src/api/checkpoint-config.ts';
import { ConfigError, Configuration } from '../../src/api/configuration.ts';
import { StreamExecutionEnvironment } from '../../src/api/environment.ts';
import {
  knownStateBackendNames,
  resolveStateBackend,
  stateBackendFactories,
  stateBackendFactory,
} from '../../src/state/state-backend-registry.ts';
import { runStateBackendContract } from './state-backend.contract.ts';

for (const factory of stateBackendFactories()) {
  // A RocksDB keyed backend opens an instance of its own, so its randomized model check runs fewer
  // times (rocksdb-keyed-state-backend.test.ts checks it further against its own model).
  runStateBackendContract(`state backend '${factory.name}'`, () => factory.create(new Configuration()), factory.name === 'rocksdb' ? { modelRuns: 20 } : {});
}

test('registry: hashmap is registered and is the default', () => {
  assert.ok(knownStateBackendNames().includes('hashmap'));
  assert.equal(resolveStateBackend(new Configuration()).name, 'hashmap');
  assert.equal(resolveStateBackend(new Configuration({ 'state.backend.type': 'hashmap' })).name, 'hashmap');
});

test('registry: every name and alias resolves to its factory', () => {
  for (const f of stateBackendFactories()) {
    for (const n of [f.name, ...(f.aliases ?? [])]) assert.equal(stateBackendFactory(n), f);
  }
});

test('registry: an unknown name is a ConfigError naming the key and the known names', () => {
  const config = new Configuration({ 'state.backend.type': 'nosuch' });
  assert.throws(
    () => resolveStateBackend(config),
    (e: unknown) => {
      assert.ok(e instanceof ConfigError, String(e));
      assert.match(e.message, /state\.backend\.type/);
      assert.match(e.message, /nosuch/);
      for (const n of knownStateBackendNames()) assert.ok(e.message.includes(n), e.message);
      return true;
    },
  );
});

test('env.setStateBackend(new HashMapStateBackend()) resolves to the hashmap backend', () => {
  const env = StreamExecutionEnvironment.getExecutionEnvironment();
  env.setStateBackend(new HashMapStateBackendOption());
  assert.equal(resolveStateBackend(env.getConfiguration()).name, 'hashmap');
});

test('a job whose state.backend.type names no backend is refused at submission with the ConfigError', async () => {
  const { StreamExecutionEnvironment: Env } = await import('weir');
  const env = Env.getExecutionEnvironment({ 'weir.execution.mode': 'inline', 'state.backend.type': 'nosuch' });
  env.fromSequence(1, 3).print();
  await assert.rejects(env.execute('unknown backend'), (e: unknown) => {
    assert.ok(e instanceof Error && e.name === 'ConfigError', String(e));
    assert.match(e.message, /state\.backend\.type: unknown state backend "nosuch"; known: hashmap/);
    return true;
  });
});

test('env.enableChangelogStateBackend(true) on the heap backend is refused at submission with the ConfigError; on RocksDB it is accepted', async () => {
  const { StreamExecutionEnvironment: Env } = await import('weir');
  const env = Env.getExecutionEnvironment({ 'weir.execution.mode': 'inline' });
  env.enableChangelogStateBackend(true);
  assert.equal(env.isChangelogStateBackendEnabled(), true);
  const seen: number[] = [];
  env.fromSequence(1, 3).addSink((n: number) => void seen.push(n));
  await assert.rejects(env.execute('changelog on heap'), (e: unknown) => {
    assert.ok(e instanceof Error && e.name === 'ConfigError', String(e));
    assert.match(e.message, /state\.backend\.changelog\.enabled: the change log is kept by the RocksDB state backend only/);
    return true;
  });
  assert.deepEqual(seen, [], 'nothing ran');
  assert.equal(resolveStateBackend(new Configuration({ 'state.backend.type': 'rocksdb', 'state.backend.changelog.enabled': true })).name, 'rocksdb');
});
