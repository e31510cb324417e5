/**
 * Where a local cluster keeps its files, and what it tells clients about itself. One directory
 * per cluster (default `<os tmpdir>/weir-cluster`, or `WEIR_CLUSTER_DIR`, or `--dir`):
 *
 *   cluster.json           pid, REST address and slots of the running cluster (absent when stopped)
 *   log/jobmanager.log     the JobManager's log
 *   log/jobmanager.out     what jobs print (print(), console output of user functions)
 *   log/taskmanager.log    the TaskManager's log
 *   jobs/                  job modules received by the JobManager
 *   taskmanager/           job modules received by the TaskManager
 */
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export interface ClusterInfo {
  /** Process id of the JobManager. */
  readonly pid: number;
  readonly taskManagerPid: number;
  /** e.g. http://127.0.0.1:8081 */
  readonly restAddress: string;
  readonly slots: number;
  readonly startTime: number;
  readonly dir: string;
}

export function clusterDir(explicit?: string): string {
  return resolve(explicit ?? process.env['WEIR_CLUSTER_DIR'] ?? join(tmpdir(), 'weir-cluster'));
}

export const clusterFiles = (dir: string) => ({
  info: join(dir, 'cluster.json'),
  logDir: join(dir, 'log'),
  jobManagerLog: join(dir, 'log', 'jobmanager.log'),
  jobManagerOut: join(dir, 'log', 'jobmanager.out'),
  taskManagerLog: join(dir, 'log', 'taskmanager.log'),
  jobs: join(dir, 'jobs'),
  taskManager: join(dir, 'taskmanager'),
});

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The cluster recorded in `dir`, if its JobManager is still alive (a stale record is removed). */
export function readClusterInfo(dir: string): ClusterInfo | undefined {
  const file = clusterFiles(dir).info;
  if (!existsSync(file)) return undefined;
  let info: ClusterInfo;
  try {
    info = JSON.parse(readFileSync(file, 'utf8')) as ClusterInfo;
  } catch {
    return undefined;
  }
  if (isAlive(info.pid)) return info;
  rmSync(file, { force: true });
  return undefined;
}

export function writeClusterInfo(info: ClusterInfo): void {
  const file = clusterFiles(info.dir).info;
  writeFileSync(`${file}.tmp`, JSON.stringify(info, null, 2));
  renameSync(`${file}.tmp`, file);
}

export function removeClusterInfo(dir: string): void {
  rmSync(clusterFiles(dir).info, { force: true });
}
