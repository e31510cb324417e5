/**
 * The JobManager's side of a TaskManager process: starts it, and offers a WorkerGroupFactory
 * whose groups run there. Attempts use it exactly like local worker threads; events of a group
 * arrive as the worker's own would, and if the TaskManager dies every live group reports its
 * workers as exited, so the jobs fail over (and fail, with no TaskManager to deploy to).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deserializeError } from '../runtime/error-transport.ts';
import { systemScheduler } from '../core/time.ts';
import type { WorkerGroup, WorkerGroupEvents, WorkerGroupFactory } from '../runtime/worker-group.ts';
import type { JobModule } from './job-bundle.ts';
import { WEIR_PACKAGE_ROOT } from './job-module-store.ts';
import type { FromTaskManager, ToTaskManager } from './taskmanager-protocol.ts';
import { dynamicPropertyArgs } from './cluster-control.ts';

interface LiveGroup {
  readonly events: WorkerGroupEvents;
  readonly slots: number;
  readonly exited: Set<number>;
  terminated?: () => void;
}

export class TaskManagerConnection {
  readonly #child: ChildProcess;
  readonly #groups = new Map<string, LiveGroup>();
  #alive = true;
  readonly slots: number;
  readonly pid: number;

  private constructor(child: ChildProcess, slots: number, pid: number) {
    this.#child = child;
    this.slots = slots;
    this.pid = pid;
    child.on('message', (m: FromTaskManager) => this.#onMessage(m));
    child.on('exit', () => this.#onExit());
  }

  /**
   * Starts a TaskManager process from the entry file `entry` (entrypoints/taskmanager-main.ts)
   * with `slots` slots working in `dir`; its output goes to `logFd`.
   */
  static start(o: {
    entry: string;
    dir: string;
    slots: number;
    logFd: number;
    /** The cluster's configuration (cluster-control.ts), passed on as `-D key=value`. */
    config?: Readonly<Record<string, string>>;
    onExit?: (code: number | null) => void;
  }): Promise<TaskManagerConnection> {
    const child = fork(`${WEIR_PACKAGE_ROOT}/bin/node-ts.mjs`, [o.entry, '--dir', o.dir, '--slots', String(o.slots), ...dynamicPropertyArgs(o.config)], {
      serialization: 'advanced',
      stdio: ['ignore', o.logFd, o.logFd, 'ipc'],
    });
    return new Promise((resolve, reject) => {
      const early = (code: number | null) => reject(new Error(`the TaskManager process exited during start-up (code ${code})`));
      child.once('exit', early);
      child.once('error', reject);
      child.once('message', (m: FromTaskManager) => {
        if (m.type === 'start-failed') {
          child.off('exit', early);
          return reject(new Error(`the TaskManager did not start: ${m.message}`));
        }
        if (m.type !== 'registered') return reject(new Error(`the TaskManager sent ${m.type} before registering`));
        child.off('exit', early);
        const c = new TaskManagerConnection(child, m.slots, m.pid);
        if (o.onExit) child.once('exit', o.onExit);
        resolve(c);
      });
    });
  }

  get alive(): boolean {
    return this.#alive;
  }

  #send(m: ToTaskManager): void {
    if (this.#alive && this.#child.connected) this.#child.send(m);
  }

  /** Read per deployment rather than cached: a long-lived JobManager would otherwise keep every job's code. */
  #module(url: string): JobModule {
    const path = fileURLToPath(url);
    return { fileName: basename(path), source: readFileSync(path, 'utf8') };
  }

  /** Worker groups that run in the TaskManager. */
  readonly workers: WorkerGroupFactory = (spec, events) => {
    const deployment = randomBytes(8).toString('hex');
    const live: LiveGroup = { events, slots: spec.slots.length, exited: new Set() };
    this.#groups.set(deployment, live);
    if (!this.#alive) {
      queueMicrotask(() => events.error(0, new Error('the TaskManager process is not running')));
    } else {
      try {
        this.#send({ type: 'deploy', deployment, jobId: spec.slots[0]?.jobId ?? '', module: this.#module(spec.jobModule), spec });
      } catch (e) {
        queueMicrotask(() => events.error(0, e instanceof Error ? e : new Error(String(e))));
      }
    }
    const group: WorkerGroup = {
      post: (message) => this.#send({ type: 'post', deployment, message }),
      kill: async (slot) => this.#send({ type: 'kill', deployment, slot }),
      terminate: () => {
        if (!this.#groups.has(deployment)) return Promise.resolve();
        if (!this.#alive) {
          this.#groups.delete(deployment);
          return Promise.resolve();
        }
        return new Promise<void>((resolve) => {
          live.terminated = resolve;
          this.#send({ type: 'terminate', deployment });
        });
      },
    };
    return group;
  };

  #onMessage(m: FromTaskManager): void {
    if (m.type === 'registered' || m.type === 'start-failed') return;
    const g = this.#groups.get(m.deployment);
    if (!g) return;
    switch (m.type) {
      case 'message':
        g.events.message(m.slot, m.message);
        break;
      case 'error':
        g.events.error(m.slot, deserializeError(m.error));
        break;
      case 'deploy-failed':
        g.events.error(0, deserializeError(m.error));
        break;
      case 'exit':
        g.exited.add(m.slot);
        g.events.exit(m.slot, m.code);
        break;
      case 'terminated':
        this.#groups.delete(m.deployment);
        g.terminated?.();
        break;
    }
  }

  #onExit(): void {
    this.#alive = false;
    const groups = [...this.#groups.values()];
    this.#groups.clear();
    for (const g of groups) {
      for (let slot = 0; slot < g.slots; slot++) if (!g.exited.has(slot)) g.events.exit(slot, 1);
      g.terminated?.();
    }
  }

  /** Tells the TaskManager that a job ended, so it removes the modules it stored for the job. */
  releaseJob(jobId: string): void {
    this.#send({ type: 'release-job', jobId });
  }

  /** Asks the TaskManager to stop its workers and exit; resolves when it has. */
  shutdown(): Promise<void> {
    if (!this.#alive) return Promise.resolve();
    return new Promise((resolve) => {
      const kill = systemScheduler.schedule(10_000, () => this.#child.kill('SIGKILL'));
      this.#child.once('exit', () => {
        kill.cancel();
        resolve();
      });
      this.#send({ type: 'shutdown' });
    });
  }
}
