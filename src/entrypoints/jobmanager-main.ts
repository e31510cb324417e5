/**
 * The JobManager process of a local cluster: the Dispatcher (one job master per job), the REST
 * API, and the TaskManager process it starts and talks to. `weir start-cluster` runs it in the
 * background with stderr going to log/jobmanager.log, where its logger writes JSON lines;
 * stdout (log/jobmanager.out) keeps what jobs print. SIGTERM (`weir stop-cluster`) cancels the
 * running jobs, stops the TaskManager and removes cluster.json before the process exits.
 *
 * The cluster's configuration comes as `-D key=value` arguments and is handed on to the
 * TaskManager. The metric reporters it asks for (`metrics.reporter.*`) start first, serving the
 * JobManager and job scopes (ClusterMetrics.jobManagerScope), so the JobManager takes the first
 * free port of a range and the TaskManager, which starts its own for its scopes, the next; a
 * bad configuration in either process ends the start with a fatal line naming the key. They
 * stop at shutdown, after the REST server.
 *
 *   jobmanager-main.ts --dir <cluster dir> --host <address> --port <port> --slots <n> [-D key=value]...
 */
import { mkdirSync, openSync } from 'node:fs';
import { readDynamicProperties } from '../cluster/cluster-control.ts';
import { clusterFiles, removeClusterInfo, writeClusterInfo } from '../cluster/cluster-files.ts';
import { Dispatcher } from '../cluster/dispatcher.ts';
import { TaskManagerConnection } from '../cluster/taskmanager-connection.ts';
import { createLogger } from '../core/logger.ts';
import { ClusterMetrics } from '../metrics/cluster-metrics.ts';
import { startMetricReporters, type MetricReporters } from '../metrics/prometheus-reporter.ts';
import { clusterScopeFormats } from '../runtime/metrics/configured-scopes.ts';
import { startRestServer } from '../rest/rest-server.ts';
import { TASKMANAGER_ENTRY } from './process-entries.ts';

function arg(name: string): string {
  const i = process.argv.indexOf(name);
  const v = i >= 0 ? process.argv[i + 1] : undefined;
  if (v === undefined) throw new Error(`jobmanager: missing ${name}`);
  return v;
}

const logger = createLogger({ name: 'jobmanager' });

const dir = arg('--dir');
const host = arg('--host');
const port = Number(arg('--port'));
const slots = Number(arg('--slots'));
const files = clusterFiles(dir);
mkdirSync(files.logDir, { recursive: true });
mkdirSync(files.jobs, { recursive: true });
mkdirSync(files.taskManager, { recursive: true });

/** Start-up failed: says why on the log (which start-cluster shows) and exits. */
function failStart(message: string): never {
  logger.fatal(message);
  process.exit(1);
}

let config: Record<string, string>;
try {
  config = readDynamicProperties(process.argv);
} catch (e) {
  failStart(`bad configuration argument: ${e instanceof Error ? e.message : String(e)}`);
}

/** Set once the Dispatcher exists; the reporters answer scrapes before that with the process figures only. */
let metrics: ClusterMetrics | undefined;
let reporters: MetricReporters;
try {
  reporters = await startMetricReporters(config, () => metrics?.jobManagerScope() ?? []);
} catch (e) {
  failStart(`cannot start the metric reporters: ${e instanceof Error ? e.message : String(e)}`);
}
for (const r of reporters.reporters) logger.info(`metric reporter ${r.name}: Prometheus endpoint on port ${r.port}`);

let stopping = false;
let taskManager: TaskManagerConnection;
try {
  taskManager = await TaskManagerConnection.start({
    entry: TASKMANAGER_ENTRY,
    dir: files.taskManager,
    slots,
    logFd: openSync(files.taskManagerLog, 'a'),
    config,
    onExit: (code) => {
      if (!stopping) logger.error(`the TaskManager process exited unexpectedly (code ${code}); running jobs fail over and fail without it`);
    },
  });
} catch (e) {
  await reporters.close();
  failStart(e instanceof Error ? e.message : String(e));
}
logger.info(`TaskManager started (pid ${taskManager.pid}, ${slots} slot(s))`);

const dispatcher = new Dispatcher({
  slots,
  jobsDir: files.jobs,
  workers: taskManager.workers,
  logger,
  onJobEnded: (jobId) => taskManager.releaseJob(jobId),
});
let server: { port: number; close(): Promise<void> };
try {
  server = await startRestServer(dispatcher, { host, port, logger: logger.child({ component: 'rest' }) });
} catch (e) {
  await taskManager.shutdown();
  await reporters.close();
  failStart(`cannot start the REST server on ${host}:${port}: ${e instanceof Error ? e.message : String(e)}`);
}
// The scope formats were checked with the reporters' configuration above.
metrics = new ClusterMetrics(dispatcher, undefined, clusterScopeFormats(config));
const restAddress = `http://${host.includes(':') ? `[${host}]` : host}:${server.port}`;
writeClusterInfo({ pid: process.pid, taskManagerPid: taskManager.pid, restAddress, slots, startTime: Date.now(), dir });
logger.info(`REST API at ${restAddress}`);

async function stop(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info(`${signal}: stopping`);
  try {
    await dispatcher.shutdown();
    await server.close();
    await reporters.close();
    await taskManager.shutdown();
  } finally {
    removeClusterInfo(dir);
    logger.info('stopped');
    process.exit(0);
  }
}
process.on('SIGTERM', () => void stop('SIGTERM'));
process.on('SIGINT', () => void stop('SIGINT'));
