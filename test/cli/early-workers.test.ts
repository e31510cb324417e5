/**
 * Which `weir run` command lines start slot workers before the CLI loads (src/cli/early-workers.ts):
 * a plain embedded run in threads mode of a job file that exists, as many as the run expects
 * (-p, else -D parallelism.default, else one per core, at most one per core); none for anything
 * else, which `weir run` then handles as before.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { earlyWorkerCount } from '../../src/cli/early-workers.ts';

const JOB = 'test/cli/jobs/start-up-parallelism.ts';
const cores = availableParallelism();

describe('workers started before the CLI loads', () => {
  it('a threads-mode run of an existing job: the expected parallelism, capped at the cores', () => {
    assert.equal(earlyWorkerCount([JOB]), cores);
    assert.equal(earlyWorkerCount([JOB, '-p', '5', '--inline']), cores, 'words after the job are its own');
    assert.equal(earlyWorkerCount(['-p', '1', JOB]), 1);
    assert.equal(earlyWorkerCount(['-p1', JOB]), 1);
    assert.equal(earlyWorkerCount(['--parallelism=1', JOB]), 1);
    assert.equal(earlyWorkerCount(['--parallelism', '64', JOB]), cores);
    assert.equal(earlyWorkerCount(['-D', 'parallelism.default=1', JOB]), 1);
    assert.equal(earlyWorkerCount(['-p', '1', '-D', 'parallelism.default=2', JOB]), 1, '-p wins over -D');
    assert.equal(earlyWorkerCount(['-n', '-s', '/tmp/x', '-Dpipeline.auto-watermark-interval=5', '-p', '1', JOB]), 1);
  });

  it('none for inline, cluster, web UI, help, unknown options, a missing job or a bad value', () => {
    for (const args of [
      ['--inline', JOB],
      ['-D', 'weir.execution.mode=inline', JOB],
      ['-m', '127.0.0.1:8081', JOB],
      ['-d', JOB],
      ['--web-ui', JOB],
      ['--web-port', '0', JOB],
      ['-h'],
      ['--unknown', JOB],
      ['no-such-job.ts'],
      ['-p'],
      [],
    ]) {
      assert.equal(earlyWorkerCount(args), 0, args.join(' '));
    }
    assert.equal(earlyWorkerCount(['-p', 'zero', JOB]), cores, 'a value weir run rejects starts what a default run would; the run then fails as before');
  });
});
