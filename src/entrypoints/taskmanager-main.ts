/**
 * A TaskManager process: hosts the slot workers of the jobs its JobManager deploys. It keeps
 * no job state of its own: modules arrive with each deployment and are stored under its
 * directory, workers run as threads of this process, and every worker event goes back to the
 * JobManager, which decides about failover. When the JobManager goes away, so does this process.
 * Its stdout and stderr go to log/taskmanager.log, where its logger writes JSON lines (each
 * deployment's lines carry the job's id).
 *
 * The metric reporters the cluster's configuration asks for (`metrics.reporter.*`) start before
 * the process registers, serving this TaskManager's metrics (metrics/taskmanager-metrics.ts);
 * a bad configuration or no free port is sent as `start-failed`, naming the key, and the process
 * exits. They stop when the process does.
 *
 *   taskmanager-main.ts --dir <working directory> --slots <n> [-D key=value]...
 */
import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { storeJobModule } from '../cluster/job-module-store.ts';
import type { FromTaskManager, ToTaskManager } from '../cluster/taskmanager-protocol.ts';
import { readDynamicProperties } from '../cluster/cluster-control.ts';
import { createLogger, jobLogger } from '../core/logger.ts';
import { startMetricReporters, type MetricReporters } from '../metrics/prometheus-reporter.ts';
import { TaskManagerMetrics } from '../metrics/taskmanager-metrics.ts';
import { clusterScopeFormats } from '../runtime/metrics/configured-scopes.ts';
import { serializeError } from '../runtime/error-transport.ts';
import { spawnLocalWorkers, type WorkerGroup } from '../runtime/worker-group.ts';

function arg(name: string): string {
  const i = process.argv.indexOf(name);
  const v = i >= 0 ? process.argv[i + 1] : undefined;
  if (v === undefined) throw new Error(`taskmanager: missing ${name}`);
  return v;
}

const dir = arg('--dir');
const slots = Number(arg('--slots'));
const groups = new Map<string, WorkerGroup>();
/** The job of each live deployment, so a job's modules are removed only once none of its workers runs. */
const jobOf = new Map<string, string>();
/** Jobs released while one of their deployments was still terminating. */
const released = new Set<string>();

function send(m: FromTaskManager): void {
  if (process.connected) process.send!(m);
}

const logger = createLogger({ name: 'taskmanager' });

function deploy(m: Extract<ToTaskManager, { type: 'deploy' }>): void {
  let url: string;
  try {
    // Stored by content: attempts of a job share one copy, a changed module gets a new one.
    const digest = createHash('sha256').update(m.module.source).digest('hex').slice(0, 16);
    url = storeJobModule(join(dir, 'jobs', m.jobId, digest), m.module.fileName, m.module.source);
  } catch (e) {
    send({ type: 'deploy-failed', deployment: m.deployment, error: serializeError(e) });
    return;
  }
  const d = m.deployment;
  jobLogger(logger, m.jobId).info({ deployment: d }, `deploying ${m.spec.slots.length} slot(s) of job ${m.jobId} (${d})`);
  const group = spawnLocalWorkers(
    { ...m.spec, jobModule: url },
    {
      message: (slot, message) => {
        if (message.type === 'metrics') metrics.report(d, slot, message.subtasks);
        send({ type: 'message', deployment: d, slot, message });
      },
      error: (slot, error) => send({ type: 'error', deployment: d, slot, error: serializeError(error) }),
      exit: (slot, code) => send({ type: 'exit', deployment: d, slot, code }),
    },
  );
  groups.set(d, group);
  jobOf.set(d, m.jobId);
}

/** Removes a job's stored modules once it is released and none of its deployments is live. */
function removeJobFiles(jobId: string): void {
  if ([...jobOf.values()].includes(jobId)) return;
  released.delete(jobId);
  try {
    rmSync(join(dir, 'jobs', jobId), { recursive: true, force: true });
  } catch (e) {
    jobLogger(logger, jobId).warn(`could not remove the modules of job ${jobId}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

process.on('message', (m: ToTaskManager) => {
  switch (m.type) {
    case 'deploy':
      deploy(m);
      break;
    case 'post':
      groups.get(m.deployment)?.post(m.message);
      break;
    case 'kill':
      void groups.get(m.deployment)?.kill(m.slot);
      break;
    case 'terminate': {
      const g = groups.get(m.deployment);
      groups.delete(m.deployment);
      void (g ? g.terminate() : Promise.resolve()).then(() => {
        metrics.drop(m.deployment);
        const job = jobOf.get(m.deployment);
        jobOf.delete(m.deployment);
        if (job !== undefined && released.has(job)) removeJobFiles(job);
        send({ type: 'terminated', deployment: m.deployment });
      });
      break;
    }
    case 'release-job':
      released.add(m.jobId);
      removeJobFiles(m.jobId);
      break;
    case 'shutdown':
      void shutdown();
      break;
  }
});

let stopping = false;
/** Stops the workers and the reporters, then the process (also while it is still starting). */
async function shutdown(): Promise<void> {
  if (stopping) return;
  stopping = true;
  const all = [...groups.values()];
  groups.clear();
  await Promise.all(all.map((g) => g.terminate()));
  await reporters?.close();
  logger.info('stopped');
  process.exit(0);
}

// The JobManager owns this process: without it there is nobody to report to.
process.on('disconnect', () => void shutdown());

/** Tells the JobManager why start-up failed and exits once the message is out, so it reports this cause rather than a bare exit. */
function failStart(message: string): Promise<never> {
  logger.fatal(message);
  const failed: FromTaskManager = { type: 'start-failed', message };
  if (process.connected) process.send!(failed, () => process.exit(1));
  else process.exit(1);
  return new Promise<never>(() => {});
}

/** Replaced by one with the configured scope formats (`metrics.scope.tm`) once the configuration is read. */
let metrics = new TaskManagerMetrics();
let reporters: MetricReporters | undefined;
reporters = await (async () => {
  const config = readDynamicProperties(process.argv);
  metrics = new TaskManagerMetrics(undefined, undefined, clusterScopeFormats(config));
  return startMetricReporters(config, () => metrics.snapshot());
})().catch((e: unknown) => failStart(e instanceof Error ? e.message : String(e)));
for (const r of reporters.reporters) logger.info(`metric reporter ${r.name}: Prometheus endpoint on port ${r.port}`);
logger.info(`started with ${slots} slot(s), pid ${process.pid}`);
send({ type: 'registered', slots, pid: process.pid });
