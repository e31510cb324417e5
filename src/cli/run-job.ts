/**
 * What `weir run` does once its command line is read: on a cluster when one is named (-m),
 * recorded or answering at the default address — the job is bundled and submitted, `-d` returns
 * once it runs — and otherwise on the embedded default in this process, which imports the job
 * module and exits with its outcome. With `--web-ui` it runs in this process on a cluster of its
 * own that serves the REST API and the web UI while the job runs (run-web-ui.ts).
 *
 * Apart from the verb's command-line parsing (run-command.ts, with commander) so that a plain
 * `weir run` can reach it without loading commander and the other verbs (plain-run.ts).
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { executionRegistry, setLaunchContext } from '../api/execution-context.ts';
import { reportFailure, UsageError, withProgress, type ExitCode } from './cli-support.ts';
import { uriScheme } from '../core/location.ts';
import { findCluster } from './cluster-address.ts';
import { expectedSlots } from './slot-count.ts';
import { moduleFormatHint } from './job-format.ts';
import { ownLoader, registerJobLoader } from './job-loader.ts';
import { isPrebuiltJob } from '../runtime/worker/prebuilt-job.mjs';

export const RUN_USAGE = `Usage: weir run [options] <job.ts|job.js> [args...]

Runs a job: on the cluster named with -m, recorded by \`weir start-cluster\`, or answering at
127.0.0.1:8081; with none of those, on the embedded default in this process.

Options:
  -d, --detached            Submit to the cluster, print the job id and return (needs a cluster)
  -m, --jobmanager <host:port>
                            The cluster to submit to
  -p, --parallelism <n>     Default parallelism of the job (code that sets one wins)
  -s, --fromSavepoint <path>
                            Start from a savepoint or retained checkpoint (a directory, its
                            _metadata file, or a file:// URI; relative paths resolve against the
                            current directory). A job's checkpoint directory, or a checkpoint
                            directory with one job in it, resumes from its newest complete and
                            valid checkpoint. Sets execution.savepoint.path
  -n, --allowNonRestoredState
                            Skip snapshot state that maps to no operator of the job instead of
                            failing. Sets execution.savepoint.ignore-unclaimed-state=true
  -D <key>=<value>          Set a configuration option, e.g. -D pipeline.auto-watermark-interval=100
  --inline                  Run every subtask on one thread of this process (embedded only;
                            deterministic, for debugging)
  --web-ui                  Run the job in this process on a cluster of its own and serve the
                            REST API and the web UI on 127.0.0.1 while it runs (docs/web-ui.md);
                            prints the address
  --web-port <port>         The port of --web-ui (default 8081; 0 picks a free one); implies
                            --web-ui
  -h, --help                Show this help`;

export interface RunOptions {
  /** A TypeScript loader covers the whole process already (see job-loader.ts). */
  typeScriptLoaded: boolean;
  parallelism: number | undefined;
  inline: boolean;
  detached: boolean;
  jobManager: string | undefined;
  webUi: boolean;
  webPort: number;
  config: Record<string, string>;
  job: string;
  args: string[];
}

/**
 * A path as absolute, so that the job sees the same snapshot whatever its working directory;
 * URIs (file://…) pass through as given. Whether a snapshot is there is the runtime's to check.
 */
export function savepointPath(value: string): string {
  return uriScheme(value) !== undefined ? value : resolve(value);
}

/** Runs the job `o` names, on a cluster or embedded. */
export async function runCommand(o: RunOptions): Promise<ExitCode> {
  const path = resolve(o.job);
  if (!existsSync(path)) {
    const relative = path === o.job ? '' : ` (a relative path is taken from the current directory, ${process.cwd()})`;
    throw new UsageError(`job file not found: ${path}${relative}; name the job's .ts, .mts, .js or .mjs file`, RUN_USAGE);
  }
  if (o.webUi) {
    const { runWithWebUi } = await import('./run-web-ui.ts');
    return runWithWebUi({ path, args: o.args, parallelism: o.parallelism, config: o.config, port: o.webPort });
  }
  const overrides: Record<string, unknown> = { ...o.config };
  if (o.parallelism !== undefined) overrides['parallelism.default'] = o.parallelism;
  if (o.inline) overrides['weir.execution.mode'] = 'inline';
  // The compiled engine imports the job prebuilt to plain JavaScript where it can, so that no
  // thread needs module loader hooks; otherwise the hooks load the job's TypeScript.
  const prebuilt = ownLoader(o.typeScriptLoaded) ? await (await import('./job-prebuild.ts')).prebuiltJob(path) : undefined;
  const jobModule = prebuilt ?? pathToFileURL(path).href;
  // Where the job may run embedded on threads, its slot workers start now: they set themselves
  // up while this thread looks for a cluster and imports the job, and stop if a cluster runs it.
  let workers: typeof import('../runtime/worker-group.ts') | undefined;
  if (o.jobManager === undefined && !o.detached && overrides['weir.execution.mode'] !== 'inline') {
    workers = await import('../runtime/worker-group.ts');
    workers.prestartLocalWorkers(jobModule, o.args, expectedSlots(overrides));
  }
  const cluster = o.inline ? undefined : await findCluster(o.jobManager);
  if (cluster !== undefined) {
    workers?.releasePrestartedWorkers();
    return runOnCluster(o, path, cluster);
  }
  if (o.detached) {
    throw new Error('run -d needs a running cluster, and none was found: start one with `weir start-cluster`, or name one with -m host:port');
  }
  return runEmbedded(o, path, jobModule, overrides);
}

async function runOnCluster(o: RunOptions, path: string, address: string): Promise<ExitCode> {
  const [{ RestClient }, { bundleJob }] = await Promise.all([import('../rest/rest-client.ts'), import('../cluster/job-bundle.ts')]);
  const client = new RestClient(address);
  const jobModule = await bundleJob(path);
  const config: Record<string, string> = { ...o.config };
  delete config['execution.savepoint.path'];
  delete config['execution.savepoint.ignore-unclaimed-state'];
  const jobId = await withProgress(
    'submitting',
    client.submitJob({
      jobModule,
      programArgs: o.args,
      ...(o.parallelism !== undefined ? { parallelism: o.parallelism } : {}),
      ...(o.config['execution.savepoint.path'] !== undefined ? { savepointPath: o.config['execution.savepoint.path'] } : {}),
      allowNonRestoredState: o.config['execution.savepoint.ignore-unclaimed-state'] === 'true',
      config,
    }),
  );
  console.log(`Job has been submitted with JobID ${jobId}`);
  if (o.detached) return 0;
  const end = await client.awaitJobEnd(jobId);
  if (end.state === 'FINISHED') {
    console.log(`Program execution finished\nJob with JobID ${jobId} has finished.\nJob Runtime: ${end.duration} ms`);
    return 0;
  }
  console.error(`weir: job ${jobId} ${end.state === 'CANCELED' ? 'was cancelled' : 'failed'}${end.rootException ? `: ${end.rootException}` : ''}`);
  return 1;
}

async function runEmbedded(o: RunOptions, path: string, jobModule: string, overrides: Record<string, unknown>): Promise<ExitCode> {
  // The engine, only now: the job's `import 'weir'` would load it anyway, and the other verbs
  // never need it. A job that reaches the engine by another entry still finds the executor.
  await import('../runtime/install-embedded-executor.ts');
  const registry = executionRegistry();
  setLaunchContext({ jobModule, jobPath: path, args: o.args, overrides });
  try {
    // A prebuilt job carries source maps to its TypeScript: stack traces name the job's files.
    if (isPrebuiltJob(jobModule)) process.setSourceMapsEnabled(true);
    else await registerJobLoader(jobModule, o.typeScriptLoaded);
    await import(jobModule);
  } catch (e) {
    reportFailure(e);
    const hint = moduleFormatHint(path, e);
    if (hint !== undefined) console.error(`weir: ${hint}`);
    return 1;
  }
  if (registry.executeCalls === 0) {
    console.error(`weir: ${o.job} did not call env.execute(): a job module builds its pipeline and then awaits env.execute(name)`);
    return 1;
  }
  return 0;
}
