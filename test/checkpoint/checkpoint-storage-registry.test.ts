import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError } from '../../src/api/configuration.ts';
import {
  checkpointReaderFor,
  createCheckpointStorage,
  FILE_SYSTEM_CHECKPOINT_STORAGE,
  locationScheme,
} from '../../src/checkpoint/checkpoint-storage-registry.ts';
import { FileSystemCheckpointStorage } from '../../src/checkpoint/filesystem/filesystem-checkpoint-storage.ts';

const JOB = '0123456789abcdef0123456789abcdef';

test('a plain path or a file:// URI gets the file-system storage, rooted at the same directory', () => {
  const dir = mkdtempSync(join(tmpdir(), 'weir-registry-'));
  const fromPath = createCheckpointStorage(dir, JOB);
  const fromUri = createCheckpointStorage(pathToFileURL(dir).href, JOB);
  assert.ok(fromPath instanceof FileSystemCheckpointStorage);
  assert.ok(fromUri instanceof FileSystemCheckpointStorage);
  assert.equal(fromPath.jobDir, join(dir, JOB));
  assert.equal(fromUri.jobDir, fromPath.jobDir);
  assert.equal(checkpointReaderFor(dir), FILE_SYSTEM_CHECKPOINT_STORAGE.reader);
});

test('schemes: none for paths (and Windows drive letters), lowercase otherwise', () => {
  assert.equal(locationScheme('/tmp/x'), '');
  assert.equal(locationScheme('relative/dir'), '');
  assert.equal(locationScheme('C:\\checkpoints'), '');
  assert.equal(locationScheme('FILE:///tmp/x'), 'file');
  assert.equal(locationScheme('s3://bucket/path'), 's3');
});

test('a location no storage serves is a ConfigError naming the setting, the location and the known schemes', () => {
  assert.throws(
    () => createCheckpointStorage('s3://bucket/checkpoints', JOB),
    (e: unknown) =>
      e instanceof ConfigError &&
      e.message === "state.checkpoints.dir 's3://bucket/checkpoints': no checkpoint storage for the scheme 's3' (known: plain paths, file://)",
  );
  assert.throws(
    () => checkpointReaderFor('hdfs://nn/savepoint-1', 'execution.savepoint.path'),
    (e: unknown) => e instanceof ConfigError && e.message.startsWith("execution.savepoint.path 'hdfs://nn/savepoint-1': no checkpoint storage for the scheme 'hdfs'"),
  );
});
