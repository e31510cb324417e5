/**
 * The JobManager process of a local cluster: the Dispatcher (one job master per job), the REST
 * API, and the TaskManager process it starts and talks to. `weir start-cluster` runs it in the
 * background with stderr going to log/jobmanager.log, where its logger writes JSON lines;
 * stdout (log/jobmanager.out) keeps what jobs print. SIGTERM (`weir stop-cluster`) cancels the
 * running jobs, stops the TaskManager and removes cluster.json before the process exits.
 *
 *   jobmanager-main.ts --dir <cluster dir> --host <address> --port <port> --slots <n>
 */
import { mkdirSync, openSync } from 'node:fs';
import { clusterFiles, removeClusterInfo, writeClusterInfo } from '../cluster/cluster-files.ts';
import { Dispatcher } from '../cluster/dispatcher.ts';
import { TaskManagerConnection } from '../cluster/taskmanager-connection.ts';
import { createLogger } from '../core/logger.ts';
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

let stopping = false;
const taskManager = await TaskManagerConnection.start({
  entry: TASKMANAGER_ENTRY,
  dir: files.taskManager,
  slots,
  logFd: openSync(files.taskManagerLog, 'a'),
  onExit: (code) => {
    if (!stopping) logger.error(`the TaskManager process exited unexpectedly (code ${code}); running jobs fail over and fail without it`);
  },
});
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
  logger.fatal(`cannot start the REST server on ${host}:${port}: ${e instanceof Error ? e.message : String(e)}`);
  await taskManager.shutdown();
  process.exit(1);
}
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
    await taskManager.shutdown();
  } finally {
    removeClusterInfo(dir);
    logger.info('stopped');
    process.exit(0);
  }
}
process.on('SIGTERM', () => void stop('SIGTERM'));
process.on('SIGINT', () => void stop('SIGINT'));
