import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, Configuration, SavepointRestoreSettings, StreamExecutionEnvironment } from '../../src/index.ts';
import { setLaunchContext } from '../../src/api/execution-context.ts';

test('none(): no restore, no path, non-restored state not allowed', () => {
  const s = SavepointRestoreSettings.none();
  assert.equal(s.restoreSavepoint(), false);
  assert.equal(s.getRestorePath(), undefined);
  assert.equal(s.allowNonRestoredState(), false);
  assert.equal(s.toString(), 'SavepointRestoreSettings.none()');
  assert.equal(SavepointRestoreSettings.none(), s);
});

test('forPath(path) and forPath(path, true) carry the path and the flag', () => {
  const a = SavepointRestoreSettings.forPath('/tmp/savepoint-1');
  assert.equal(a.restoreSavepoint(), true);
  assert.equal(a.getRestorePath(), '/tmp/savepoint-1');
  assert.equal(a.allowNonRestoredState(), false);
  assert.match(a.toString(), /forPath\(restorePath='\/tmp\/savepoint-1', allowNonRestoredState=false\)/);
  const b = SavepointRestoreSettings.forPath('file:///tmp/sp', true);
  assert.equal(b.getRestorePath(), 'file:///tmp/sp');
  assert.equal(b.allowNonRestoredState(), true);
  assert.ok(b.equals(SavepointRestoreSettings.forPath('file:///tmp/sp', true)));
  assert.ok(!b.equals(SavepointRestoreSettings.forPath('file:///tmp/sp')));
  assert.ok(!b.equals(SavepointRestoreSettings.none()));
});

test('settings are immutable and cannot be constructed directly', () => {
  const s = SavepointRestoreSettings.forPath('/tmp/sp');
  assert.ok(Object.isFrozen(s));
  assert.throws(() => {
    (s as unknown as Record<string, unknown>)['restoreSavepoint'] = () => false;
  }, TypeError);
  assert.equal(s.restoreSavepoint(), true);
});

test('forPath rejects an empty or non-string path, and a non-boolean flag, naming forPath', () => {
  for (const bad of ['', undefined, null, 42, {}]) {
    assert.throws(() => SavepointRestoreSettings.forPath(bad as never), {
      name: 'TypeError',
      message: /SavepointRestoreSettings\.forPath: .*non-empty string/,
    });
  }
  assert.throws(() => SavepointRestoreSettings.forPath('/tmp/sp', 'yes' as never), /SavepointRestoreSettings\.forPath: allowNonRestoredState/);
});

test('the configuration keys default to no path and false', () => {
  const c = new Configuration();
  assert.equal(c.get('execution.savepoint.path'), undefined);
  assert.equal(c.get('execution.savepoint.ignore-unclaimed-state'), false);
  assert.equal(StreamExecutionEnvironment.getExecutionEnvironment().getSavepointRestoreSettings(), SavepointRestoreSettings.none());
});

test('setSavepointRestoreSettings writes both keys and getSavepointRestoreSettings reads them back', () => {
  const env = StreamExecutionEnvironment.getExecutionEnvironment();
  assert.equal(env.setSavepointRestoreSettings(SavepointRestoreSettings.forPath('/tmp/sp-2', true)), env);
  const o = env.getConfiguration().toObject();
  assert.equal(o['execution.savepoint.path'], '/tmp/sp-2');
  assert.equal(o['execution.savepoint.ignore-unclaimed-state'], true);
  const back = env.getSavepointRestoreSettings();
  assert.ok(back.equals(SavepointRestoreSettings.forPath('/tmp/sp-2', true)), back.toString());

  env.setSavepointRestoreSettings(SavepointRestoreSettings.none());
  assert.equal(env.getConfiguration().get('execution.savepoint.path'), undefined);
  assert.equal(env.getConfiguration().get('execution.savepoint.ignore-unclaimed-state'), false);
  assert.equal(env.getSavepointRestoreSettings().restoreSavepoint(), false);

  assert.throws(() => env.setSavepointRestoreSettings({ getRestorePath: () => '/x' } as never), /setSavepointRestoreSettings: expected/);
});

test('the keys given to getExecutionEnvironment or configure() show up in getSavepointRestoreSettings', () => {
  const a = StreamExecutionEnvironment.getExecutionEnvironment({
    'execution.savepoint.path': '/tmp/sp-3',
    'execution.savepoint.ignore-unclaimed-state': 'true',
  });
  assert.ok(a.getSavepointRestoreSettings().equals(SavepointRestoreSettings.forPath('/tmp/sp-3', true)));

  const b = StreamExecutionEnvironment.getExecutionEnvironment();
  b.configure({ 'execution.savepoint.path': '/tmp/sp-4' });
  assert.ok(b.getSavepointRestoreSettings().equals(SavepointRestoreSettings.forPath('/tmp/sp-4', false)));
  b.configure({ 'execution.savepoint.ignore-unclaimed-state': 'FALSE' });
  assert.equal(b.getSavepointRestoreSettings().allowNonRestoredState(), false);
  b.configure({ 'execution.savepoint.ignore-unclaimed-state': true });
  assert.equal(b.getSavepointRestoreSettings().allowNonRestoredState(), true);

  // A flag without a path restores nothing (as in Flink).
  const c = StreamExecutionEnvironment.getExecutionEnvironment({ 'execution.savepoint.ignore-unclaimed-state': true });
  assert.equal(c.getSavepointRestoreSettings(), SavepointRestoreSettings.none());
});

test('bad values are rejected naming the key', () => {
  for (const bad of ['yes', '1', 1, null, '']) {
    assert.throws(() => new Configuration({ 'execution.savepoint.ignore-unclaimed-state': bad }), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.match(e.message, /execution\.savepoint\.ignore-unclaimed-state must be true or false/);
      return true;
    });
  }
  assert.throws(
    () => StreamExecutionEnvironment.getExecutionEnvironment().configure({ 'execution.savepoint.path': '' }),
    /execution\.savepoint\.path must be a path/,
  );
  assert.throws(() => new Configuration({ 'execution.savepoint.path': 7 }), /execution\.savepoint\.path must be a path/);
});

test('launcher overrides (weir run -s/-n) reach the environment, and setters in the job code win over them', () => {
  const restore = setLaunchContext({
    jobModule: 'file:///nowhere/job.ts',
    jobPath: '/nowhere/job.ts',
    args: [],
    overrides: { 'execution.savepoint.path': '/tmp/from-cli', 'execution.savepoint.ignore-unclaimed-state': 'true' },
  });
  try {
    const fromCli = StreamExecutionEnvironment.getExecutionEnvironment({ 'execution.savepoint.path': '/tmp/from-options' });
    assert.ok(fromCli.getSavepointRestoreSettings().equals(SavepointRestoreSettings.forPath('/tmp/from-cli', true)));
    fromCli.setSavepointRestoreSettings(SavepointRestoreSettings.forPath('/tmp/from-code'));
    assert.ok(fromCli.getSavepointRestoreSettings().equals(SavepointRestoreSettings.forPath('/tmp/from-code', false)));
  } finally {
    restore();
  }
});
