/**
 * Starting and stopping a local cluster from the command line. The JobManager runs detached in
 * the background and records itself in cluster.json once its REST API listens; starting is
 * refused while a recorded JobManager is alive, so two start-cluster calls never make two
 * clusters on one directory.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { clusterFiles, isAlive, readClusterInfo, type ClusterInfo } from './cluster-files.ts';
import { WEIR_PACKAGE_ROOT } from './job-module-store.ts';
import { sleep, systemScheduler } from '../core/time.ts';

export interface StartOptions {
  /** The JobManager's entry file (entrypoints/jobmanager-main.ts): the cluster layer does not know where it is. */
  readonly entry: string;
  readonly dir: string;
  /** Slots of the TaskManager; default: the number of cores. */
  readonly slots?: number;
  readonly host?: string;
  /** REST port; 0 picks a free one. Default 8081. */
  readonly port?: number;
  /** How long to wait for the REST API, ms. */
  readonly timeoutMs?: number;
  /**
   * The cluster's configuration by Flink's keys (so far the processes read `metrics.*`: the
   * metric reporters each of them starts); handed to the JobManager, which hands it on to the
   * TaskManager, as `-D key=value` arguments.
   */
  readonly config?: Readonly<Record<string, string>>;
}

/** `config` as the `-D key=value` arguments of a cluster process. */
export function dynamicPropertyArgs(config: Readonly<Record<string, string>> = {}): string[] {
  return Object.entries(config).flatMap(([k, v]) => ['-D', `${k}=${v}`]);
}

/** The configuration a cluster process was started with: its `-D key=value` arguments (the last of a key wins). */
export function readDynamicProperties(argv: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] !== '-D') continue;
    const kv = argv[++i] ?? '';
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new Error(`-D needs key=value, got ${JSON.stringify(kv)}`);
    out[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  return out;
}

export class ClusterAlreadyRunningError extends Error {
  override readonly name = 'ClusterAlreadyRunningError';
  constructor(readonly info: ClusterInfo) {
    super(`a weir cluster is already running from ${info.dir} (JobManager pid ${info.pid}, REST API at ${info.restAddress}); stop it first with weir stop-cluster`);
  }
}

function logTail(file: string, lines = 15): string {
  if (!existsSync(file)) return '';
  return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
}

const clock = systemScheduler;

export async function startCluster(o: StartOptions): Promise<ClusterInfo> {
  const running = readClusterInfo(o.dir);
  if (running) throw new ClusterAlreadyRunningError(running);
  const files = clusterFiles(o.dir);
  mkdirSync(files.logDir, { recursive: true });
  const slots = o.slots ?? availableParallelism();
  const args = [
    `${WEIR_PACKAGE_ROOT}/bin/node-ts.mjs`,
    o.entry,
    '--dir', o.dir,
    '--host', o.host ?? '127.0.0.1',
    '--port', String(o.port ?? 8081),
    '--slots', String(slots),
    ...dynamicPropertyArgs(o.config),
  ];
  const child = spawn(process.execPath, args, {
    detached: true,
    stdio: ['ignore', openSync(files.jobManagerOut, 'a'), openSync(files.jobManagerLog, 'a')],
    cwd: o.dir,
  });
  const pid = child.pid!;
  let exitCode: number | null | undefined;
  child.once('exit', (code) => (exitCode = code ?? -1));
  child.unref();
  const deadline = clock.now() + (o.timeoutMs ?? 60_000);
  while (clock.now() < deadline) {
    const info = readClusterInfo(o.dir);
    if (info && info.pid === pid) return info;
    if (exitCode !== undefined || !isAlive(pid)) {
      throw new Error(`the JobManager exited during start-up; the end of ${files.jobManagerLog}:\n${logTail(files.jobManagerLog)}`);
    }
    await sleep(clock, 100);
  }
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    // gone already
  }
  throw new Error(`the cluster did not come up within ${Math.round((o.timeoutMs ?? 60_000) / 1000)} s; see ${files.jobManagerLog}`);
}

/** Stops the cluster of `dir`; resolves with what was stopped, or undefined when none ran. */
export async function stopCluster(dir: string, timeoutMs = 60_000): Promise<ClusterInfo | undefined> {
  const info = readClusterInfo(dir);
  if (!info) return undefined;
  process.kill(info.pid, 'SIGTERM');
  const deadline = clock.now() + timeoutMs;
  while (isAlive(info.pid)) {
    if (clock.now() > deadline) {
      process.kill(info.pid, 'SIGKILL');
      if (isAlive(info.taskManagerPid)) process.kill(info.taskManagerPid, 'SIGKILL');
      throw new Error(`the JobManager (pid ${info.pid}) did not stop within ${Math.round(timeoutMs / 1000)} s and was killed; see ${clusterFiles(dir).jobManagerLog}`);
    }
    await sleep(clock, 100);
  }
  return info;
}
