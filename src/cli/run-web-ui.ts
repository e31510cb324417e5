/**
 * `weir run --web-ui`: the job runs on a cluster of its own inside this process (a Dispatcher
 * with worker-thread slots) whose REST API and web UI listen on 127.0.0.1, so an embedded run
 * can be watched and acted on (checkpoints, savepoints, cancel) in a browser the way a cluster
 * job is. The job is bundled and submitted as `weir run` submits to a cluster; the process
 * prints the UI's address on stderr, follows the job to its end, and then stops serving and
 * exits with its outcome. Ctrl-C cancels the job.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Dispatcher, InsufficientSlotsError, type JobSubmission } from '../cluster/dispatcher.ts';
import { bundleJob } from '../cluster/job-bundle.ts';
import { RestClient } from '../rest/rest-client.ts';
import { startRestServer, type RestServer } from '../rest/rest-server.ts';
import type { ExitCode } from './cli-support.ts';

export interface WebUiRun {
  /** The job module's absolute path. */
  readonly path: string;
  readonly args: readonly string[];
  readonly parallelism: number | undefined;
  /** -D options, execution.savepoint.path and ignore-unclaimed-state included. */
  readonly config: Readonly<Record<string, string>>;
  /** The port of the REST API and UI; 0 picks a free one. */
  readonly port: number;
}

/** Runs the job of `o` on an in-process cluster that serves the web UI; resolves with the exit code. */
export async function runWithWebUi(o: WebUiRun): Promise<ExitCode> {
  const config: Record<string, string> = { ...o.config };
  const savepointPath = config['execution.savepoint.path'];
  const allowNonRestoredState = config['execution.savepoint.ignore-unclaimed-state'] === 'true';
  delete config['execution.savepoint.path'];
  delete config['execution.savepoint.ignore-unclaimed-state'];
  const submission: JobSubmission = {
    jobModule: await bundleJob(o.path),
    programArgs: [...o.args],
    ...(o.parallelism !== undefined ? { parallelism: o.parallelism } : {}),
    ...(savepointPath !== undefined ? { savepointPath } : {}),
    allowNonRestoredState,
    config,
  };

  const jobsDir = mkdtempSync(join(tmpdir(), 'weir-web-ui-'));
  let dispatcher: Dispatcher | undefined;
  let server: RestServer | undefined;
  const stop = async () => {
    await dispatcher?.shutdown();
    await server?.close();
    rmSync(jobsDir, { recursive: true, force: true });
  };
  let interrupted = false;
  const onSignal = () => {
    if (interrupted) return;
    interrupted = true;
    console.error('weir: interrupted, cancelling the job');
    void stop().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    // As many slots as the job needs: the machine's cores, or more when the job asks for more
    // (the module is then imported a second time, on a cluster with enough slots). The server
    // listens before the job starts, so a port in use fails the run before any of it runs.
    let slots = Math.max(o.parallelism ?? 1, availableParallelism());
    let port = o.port;
    let jobId: string | undefined;
    for (let attempt = 0; jobId === undefined; attempt++) {
      dispatcher = new Dispatcher({ slots, jobsDir: join(jobsDir, String(attempt)) });
      try {
        server = await startRestServer(dispatcher, { port });
      } catch (e) {
        throw new Error(`cannot serve the web UI on 127.0.0.1:${port}: ${e instanceof Error ? e.message : String(e)}${port !== 0 ? ' (choose another port with --web-port, or 0 for a free one)' : ''}`, { cause: e });
      }
      port = server.port;
      try {
        jobId = await dispatcher.submit(submission);
      } catch (e) {
        if (!(e instanceof InsufficientSlotsError) || attempt > 0) throw e;
        await dispatcher.shutdown();
        await server.close();
        slots = e.needed;
      }
    }
    const base = `http://127.0.0.1:${port}`;
    console.error(`weir: web UI at ${base}/ (job ${jobId}); it stops when the job ends, Ctrl-C cancels the job`);
    const end = await new RestClient(base).awaitJobEnd(jobId);
    if (end.state === 'FINISHED') {
      console.error(`weir: job ${jobId} finished in ${end.duration} ms`);
      return 0;
    }
    console.error(`weir: job ${jobId} ${end.state === 'CANCELED' ? 'was cancelled' : 'failed'}${end.rootException ? `: ${end.rootException}` : ''}`);
    return 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (!interrupted) await stop();
  }
}
