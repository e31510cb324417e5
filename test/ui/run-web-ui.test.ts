/**
 * `weir run --web-ui`: an embedded run served with the REST API and the web UI on 127.0.0.1,
 * over real HTTP against the real CLI process. The job is cancelled through the API the page
 * uses, and the run ends with the job's outcome.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../../src/cli/cli-support.ts';
import { runVerb } from '../../src/cli/run-command.ts';
import { ensureUiBuilt } from './ui-support.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const WEIR = fileURLToPath(new URL('../../bin/weir.mjs', import.meta.url));
const JOB = fileURLToPath(new URL('../fixtures/web-ui-job.ts', import.meta.url));

test('weir run --web-port 0 serves the UI and the API of the embedded job, prints the address, and ends with the job', async () => {
  await ensureUiBuilt();
  const child = spawn(process.execPath, [WEIR, 'run', '--web-port', '0', '-p', '1', JOB, 'embedded with a UI', '0'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    const deadline = Date.now() + 30_000;
    const printed = /weir: web UI at (http:\/\/127\.0\.0\.1:\d+)\/ \(job ([0-9a-f]{32})\)/;
    while (!printed.test(stderr)) {
      assert.ok(Date.now() < deadline, `the address is printed: ${stderr}`);
      assert.equal(child.exitCode, null, `the run is still going: ${stderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const m = printed.exec(stderr)!;
    const [, base, jobId] = m;
    const jobs = (await (await fetch(`${base}/jobs/overview`)).json()) as { jobs: { jid: string; name: string; state: string }[] };
    assert.deepEqual(
      jobs.jobs.map((j) => [j.jid, j.name, j.state]),
      [[jobId, 'embedded with a UI', 'RUNNING']],
    );
    const root = await fetch(`${base}/`, { redirect: 'manual' });
    assert.equal(root.headers.get('location'), '/web/');
    const page = await fetch(`${base}/web/`);
    assert.equal(page.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.match(await page.text(), /<script type="module"[^>]+src="\/web\/assets\//);
    const cancel = await fetch(`${base}/jobs/${jobId}?mode=cancel`, { method: 'PATCH' });
    assert.equal(cancel.status, 202);
    assert.equal(await exited, 1, 'a cancelled job is a failed run');
    assert.match(stderr, new RegExp(`weir: job ${jobId} was cancelled`));
    await assert.rejects(fetch(`${base}/overview`), 'the server stopped with the job');
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});

/** Runs `weir run <args>` to its end; its exit code and stderr. */
function weirRun(args: string[]): Promise<{ status: number | null; stderr: string }> {
  const child = spawn(process.execPath, [WEIR, 'run', ...args], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return new Promise((resolve) => child.once('exit', (status) => resolve({ status, stderr })));
}

test('--web-ui refuses --inline, -d and -m, and a bad --web-port (the verb parsed in this process)', async () => {
  for (const args of [['--web-ui', '--inline'], ['--web-ui', '-d'], ['--web-port', '0', '-m', '127.0.0.1:1']]) {
    await assert.rejects(runVerb().parseAsync([...args, JOB], { from: 'user' }), (e: unknown) => {
      assert.ok(e instanceof UsageError, `${args.join(' ')}: ${String(e)}`);
      assert.match(e.message, /^--web-ui runs the job in this process on threads; it cannot be combined with --inline, -d or -m/);
      return true;
    });
  }
  await assert.rejects(runVerb().parseAsync(['--web-port', '70000', JOB], { from: 'user' }), (e: unknown) => e instanceof UsageError && /^--web-port needs a port number from 0 to 65535, got "70000"$/.test(e.message));
});

test('a --web-port in use fails the run before the job starts', async () => {
  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  const port = (taken.address() as { port: number }).port;
  try {
    const { status, stderr } = await weirRun(['--web-port', String(port), JOB, 'never runs']);
    assert.equal(status, 1, stderr);
    assert.match(stderr, new RegExp(`weir: cannot serve the web UI on 127\\.0\\.0\\.1:${port}: .*EADDRINUSE.* \\(choose another port with --web-port, or 0 for a free one\\)`));
    assert.doesNotMatch(stderr, /web UI at/);
  } finally {
    taken.close();
  }
});
