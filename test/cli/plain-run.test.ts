/**
 * A plain `weir run` is read without commander (src/cli/plain-run.ts): for every command line it
 * reads, it must give exactly the options the verb's own parsing gives (run-command.ts); every
 * other command line it leaves to the verb, which then reports what is wrong as always.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { plainRunOptions } from '../../src/cli/plain-run.ts';
import { runVerb } from '../../src/cli/run-command.ts';
import type { RunOptions } from '../../src/cli/run-job.ts';

const JOB = 'test/cli/jobs/start-up-parallelism.ts';

/** The options the commander verb reads from `args`, or the error it throws. */
async function verbOptions(args: string[]): Promise<RunOptions> {
  let seen: RunOptions | undefined;
  await runVerb(false, async (o) => {
    seen = structuredClone(o);
    return 0;
  }).parseAsync(args, { from: 'user' });
  assert.ok(seen, `the verb did not run for ${args.join(' ')}`);
  return seen;
}

describe('weir run read without commander', () => {
  it('reads plain command lines as the verb does', async () => {
    for (const args of [
      [JOB],
      [JOB, '-p', '5', '--inline', '--', '-x'],
      ['-p', '1', JOB, '3'],
      ['-p1', JOB],
      ['--parallelism=2', JOB],
      ['--parallelism', '64', JOB],
      ['--inline', JOB, 'a', 'b'],
      ['-D', 'parallelism.default=1', JOB],
      ['-Dpipeline.auto-watermark-interval=5', '-p', '2', '-p', '3', JOB],
      ['-p', '1', '-D', 'parallelism.default=2', JOB],
      ['-n', '-s', 'relative/savepoint', JOB],
      ['--fromSavepoint', 'file:///tmp/sp', '--allowNonRestoredState', JOB],
      ['-s/tmp/sp', '-D', 'execution.savepoint.path=/tmp/other', JOB],
      ['--fromSavepoint=/tmp/sp', JOB],
      ['-D', 'execution.savepoint.ignore-unclaimed-state=false', '-n', JOB],
      ['no-such-job.ts', '--help'],
    ]) {
      const plain = plainRunOptions(args, false);
      assert.ok(plain, `read: ${args.join(' ')}`);
      assert.deepEqual(plain, await verbOptions(args), args.join(' '));
    }
    assert.equal(plainRunOptions(['-s', 'sp', JOB], false)?.config['execution.savepoint.path'], resolve('sp'));
    assert.equal(plainRunOptions([JOB], true)?.typeScriptLoaded, true);
  });

  it('leaves the verb everything else: help, clusters, the web UI, unknown options, bad values, no job', () => {
    for (const args of [
      [],
      ['-h'],
      ['--help', JOB],
      ['-d', JOB],
      ['--detached', JOB],
      ['-m', '127.0.0.1:8081', JOB],
      ['--jobmanager=host:1', JOB],
      ['--web-ui', JOB],
      ['--web-port', '0', JOB],
      ['--unknown', JOB],
      ['-x', JOB],
      ['-nd', JOB],
      ['--', JOB],
      ['-', JOB],
      ['--inline=yes', JOB],
      ['-p'],
      ['-p', JOB],
      ['-p', 'zero', JOB],
      ['-p', '0', JOB],
      ['-p', '1.5', JOB],
      ['-p', '-1', JOB],
      ['-p=2', JOB],
      ['--parallelism=', JOB],
      ['-D', 'no.such.key=1', JOB],
      ['-D', 'novalue', JOB],
      ['-D', '=1', JOB],
      ['-s', '-n', JOB],
      ['-s', '', JOB],
      ['-p', '1'],
    ]) {
      assert.equal(plainRunOptions(args, false), undefined, args.join(' '));
    }
  });
});
