/**
 * A job run by the embedded executor (Flink's JobMaster for one job): it deploys execution
 * attempts, runs the checkpoint coordinator against them, and on a failure cancels the attempt
 * and deploys a new one from the latest completed checkpoint, as long as the restart strategy
 * allows. It owns the job's status, its result and the output collected for executeAndCollect().
 *
 * Collected output is exactly-once across restarts: every batch carries the epoch (last
 * checkpoint id) of the subtask that produced it, and a restore from checkpoint c drops the
 * batches of epoch >= c, which the restored job produces again.
 */
import { asJobId, type JobId } from '../core/ids.ts';
import { consoleLog, type Log } from '../core/log.ts';
import { randomBytes } from 'node:crypto';
import { hostname, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { Pipeline } from '../api/execution-context.ts';
import { JobExecutionError, type JobClient, type JobExecutionResult, type JobStatus } from '../api/job-client.ts';
import { nextJobStatus } from '../api/job-status.ts';
import { restartStrategyInForce } from '../api/configuration.ts';
import { CheckpointCoordinator } from '../checkpoint/checkpoint-coordinator.ts';
import { checkpointOptionsFor, type AlignmentType } from '../checkpoint/checkpoint-options.ts';
import { checkpointAlignmentOf } from '../checkpoint/checkpoint-alignment.ts';
import { assertNever } from '../core/errors.ts';
import type { CheckpointStatsSnapshot, CheckpointSummaries } from '../checkpoint/checkpoint-stats.ts';
import { CompletedCheckpointStore } from '../checkpoint/completed-checkpoint-store.ts';
import type { CheckpointStorage } from '../checkpoint/checkpoint-storage.ts';
import { checkpointReaderFor, createCheckpointStorage } from '../checkpoint/checkpoint-storage-registry.ts';
import type { JobGraph } from '../graph/job-graph.ts';
import { RestoreAssignment, type RestoreSource } from './checkpoint/restore-assignment.ts';
import { rootCause } from './error-transport.ts';
import {
  currentLaunchContext,
  InlineAttempt,
  resolveJobModule,
  ThreadsAttempt,
  type ExecutionAttempt,
  type LaunchContext,
} from './execution-attempt.ts';
import { createRestartStrategy, FailureHistory, type RestartBackoffTimeStrategy } from './restart-strategy.ts';
import type { MetricSnapshot, SubtaskMetrics } from './metrics/metric-snapshot.ts';
import { MetricRegistry } from './metrics/metric-registry.ts';
import { registerJobMetrics } from './metrics/job-metrics.ts';
import { jobScopeFormats } from './metrics/configured-scopes.ts';
import { jobMetricGroup } from './metrics/task-metric-group.ts';
import type { SlotEvent } from './slot-event.ts';
import type { SlotCheckpointing } from './slot.ts';
import type { WorkerGroupFactory } from './worker-group.ts';
import { systemScheduler, type Scheduler } from '../core/time.ts';
import { resolveStateBackend } from '../state/state-backend-registry.ts';

/** The result of a finished job; `collected` holds executeAndCollect() output by collect id. */
export interface LocalJobResult extends JobExecutionResult {
  readonly collected: Map<string, unknown[]>;
}

/** Where checkpoints go when `state.checkpoints.dir` is not set. */
export function defaultCheckpointDir(): string {
  return join(tmpdir(), 'weir-checkpoints');
}

/**
 * The job's coordinator and storage. Every job has them: savepoints are taken with or without
 * periodic checkpoints (`enabled`), which only decides the periodic trigger and manual checkpoints.
 */
interface Checkpointing {
  readonly enabled: boolean;
  readonly coordinator: CheckpointCoordinator;
  readonly store: CompletedCheckpointStore;
  readonly storage: CheckpointStorage;
  readonly slot: SlotCheckpointing;
  /**
   * How ordinary checkpoints' barriers are handled (execution.checkpointing.mode and the unaligned
   * checkpoint settings, by checkpointAlignmentOf); savepoints are always aligned.
   */
  readonly alignment: AlignmentType;
  /** With `alignment` 'aligned' under unaligned checkpoints: when a subtask still aligning goes unaligned, ms after the trigger. */
  readonly alignedTimeoutMs?: number;
}

const jobsByClient = new WeakMap<JobClient, LocalJob>();

/** The job behind a client of the embedded executor (for failure-injection tests). */
export function localJobOf(client: JobClient): LocalJob | undefined {
  return jobsByClient.get(client);
}

/** How a LocalJob runs besides its pipeline and graph. */
export interface LocalJobOptions {
  readonly scheduler?: Scheduler;
  /** Where the worker threads of threads-mode attempts run; this process by default. */
  readonly workers?: WorkerGroupFactory;
  /**
   * The job's log: every failure of an attempt with its cause (info, as Flink logs a task's
   * switch to FAILED), a checkpoint skipped on restore because its files are corrupt (warn). Its
   * lines carry the job id. Warnings as plain lines on stderr by default (an embedded run).
   */
  readonly logger?: Log;
}

export class LocalJob {
  readonly jobId: JobId = asJobId(randomBytes(16).toString('hex'));
  readonly pipeline: Pipeline;
  readonly graph: JobGraph;
  readonly #scheduler: Scheduler;
  readonly #workers: WorkerGroupFactory | undefined;
  readonly #logger: Log;
  #status: JobStatus = 'INITIALIZING';
  readonly #start: number;
  #end: number | undefined;
  /** Per collect id, batches with the epoch they were produced in. */
  readonly #collected = new Map<string, { epoch: number; values: unknown[] }[]>();
  /** The latest metrics of each subtask, by "vertex/subtask" (kept across attempts, replaced by newer reports). */
  readonly #metrics = new Map<string, SubtaskMetrics>();
  /** The job's own metrics (uptime, restarts, checkpoints), read where they are asked for. */
  readonly #jobMetrics = new MetricRegistry();
  /** When the job last switched to RUNNING. */
  #runningSince: number | undefined;
  readonly #result: Promise<LocalJobResult>;
  #resolve!: (r: LocalJobResult) => void;
  #reject!: (e: Error) => void;
  #attempt: ExecutionAttempt | undefined;
  #attemptNumber = 0;
  #finishedSlots = 0;
  /** Subtasks of the running attempt whose input ended, waiting for the final checkpoint ("vertex/subtask"). */
  readonly #dataEnded = new Set<string>();
  /**
   * Once every subtask's input ended: the id of the last checkpoint triggered before that. The
   * first checkpoint after it that completes is the final one: every barrier of it passed every
   * task after its operators finished, so it holds the last committables of every sink.
   */
  #finalAfterId: number | undefined;
  #failingOver = false;
  #checkpointing: Checkpointing | undefined;
  /** A stop-with-savepoint in progress: told when the job fails over before it finished. */
  #stop: { readonly failed: (error: Error) => void } | undefined;
  #strategy!: RestartBackoffTimeStrategy;
  readonly #history = new FailureHistory();
  /** The checkpoint or savepoint the job was started from (-s), if any. */
  #initialRestore: RestoreSource | undefined;
  /** Checkpoint id the running attempt restored, if any. */
  #restoredId: number | undefined;
  readonly #unusable = new Set<number>();
  /** The module worker threads import; undefined in inline mode. */
  #threadsJobModule: string | undefined;
  readonly #launch: LaunchContext = currentLaunchContext();

  constructor(pipeline: Pipeline, graph: JobGraph, options: LocalJobOptions = {}) {
    this.pipeline = pipeline;
    this.graph = graph;
    this.#scheduler = options.scheduler ?? systemScheduler;
    this.#workers = options.workers;
    this.#logger = (options.logger ?? consoleLog).child({ job: this.jobId });
    this.#start = this.#scheduler.now();
    this.#result = new Promise<LocalJobResult>((res, rej) => {
      this.#resolve = res;
      this.#reject = rej;
    });
    this.#result.catch(() => {});
    const group = jobMetricGroup(this.#jobMetrics, this.#scheduler, { host: hostname(), jobId: this.jobId, jobName: pipeline.jobName }, jobScopeFormats(pipeline.config));
    registerJobMetrics(group, this.#scheduler, {
      status: () => this.#status,
      runningSince: () => this.#runningSince,
      numRestarts: () => this.#history.numRestarts,
      checkpointStats: () => (this.#checkpointing?.enabled ? this.#checkpointing.coordinator.stats : undefined),
    });
  }

  get status(): JobStatus {
    return this.#status;
  }

  /** When the job was submitted, ms since the epoch. */
  get startTime(): number {
    return this.#start;
  }

  /** When the job reached a terminal status; undefined while it has not. */
  get endTime(): number | undefined {
    return this.#end;
  }

  get numRestarts(): number {
    return this.#history.numRestarts;
  }

  #terminal(): boolean {
    return this.#status === 'FINISHED' || this.#status === 'FAILED' || this.#status === 'CANCELED';
  }

  /** Enters a terminal status and records when. */
  #enterTerminal(status: 'FINISHED' | 'FAILED' | 'CANCELED'): void {
    this.#status = nextJobStatus(this.#status, status);
    this.#end = this.#scheduler.now();
  }

  // ---- start ---------------------------------------------------------------------------------

  /** Validates the restore path and deploys the first attempt; rejects on bad input (nothing runs then). */
  async start(): Promise<void> {
    const config = this.pipeline.config;
    const restorePath = config.get('execution.savepoint.path');
    let first: RestoreAssignment | undefined;
    if (restorePath !== undefined) {
      const loaded = await checkpointReaderFor(restorePath, 'execution.savepoint.path').resolveRestorePath(restorePath);
      if (loaded.searched) {
        const passed = loaded.skipped.map((s) => `${basename(s.dir)}: ${s.problem}`).join('; ');
        this.#logger.warn(`restoring from ${loaded.dir}, the newest complete checkpoint in ${restorePath}${passed === '' ? '' : ` (passed over ${passed})`}`);
      }
      this.#initialRestore = { metadata: loaded.metadata, root: loaded.root, dir: loaded.dir };
      first = new RestoreAssignment(this.#initialRestore, this.graph, config.get('execution.savepoint.ignore-unclaimed-state'));
    }
    if (config.get('weir.execution.mode') !== 'inline') this.#threadsJobModule = resolveJobModule(this.#launch);
    const interval = config.get('execution.checkpointing.interval');
    this.#strategy = createRestartStrategy(restartStrategyInForce(config), this.#scheduler);
    this.#checkpointing = this.#createCheckpointing(interval);
    if (first !== undefined) {
      this.#checkpointing.coordinator.stats.restored(first.checkpointId, this.#scheduler.now(), first.dir, this.#initialRestore!.metadata.kind === 'savepoint');
    }
    await this.#deploy(first);
  }

  #createCheckpointing(intervalMs: number | undefined): Checkpointing {
    const config = this.pipeline.config;
    const baseDir = config.get('state.checkpoints.dir') ?? defaultCheckpointDir();
    const storage: CheckpointStorage = createCheckpointStorage(baseDir, this.jobId);
    const store = new CompletedCheckpointStore({
      numRetained: config.get('state.checkpoints.num-retained'),
      discard: (id) => storage.releaseCheckpoint(id),
    });
    const graph = this.graph;
    const tasks = graph.vertices.flatMap((v) => Array.from({ length: v.parallelism }, (_, subtask) => ({ vertex: v.index, subtask })));
    const operators = graph.nodes.map((n) => ({
      vertex: graph.vertexOfNode[n.index]!,
      operatorId: n.operatorId,
      uid: n.uid,
      name: n.name,
      parallelism: n.parallelism,
      maxParallelism: n.maxParallelism,
    }));
    const { alignment, alignedTimeoutMs } = checkpointAlignmentOf(config);
    const coordinator = new CheckpointCoordinator({
      jobId: this.jobId,
      scheduler: this.#scheduler,
      tasks,
      operators,
      intervalMs,
      timeoutMs: config.get('execution.checkpointing.timeout'),
      minPauseMs: config.get('execution.checkpointing.min-pause'),
      maxConcurrent: config.get('execution.checkpointing.max-concurrent-checkpoints'),
      tolerableFailures: config.get('execution.checkpointing.tolerable-failed-checkpoints'),
      startAfterId: this.#initialRestore?.metadata.checkpointId ?? 0,
      gateway: {
        triggerCheckpoint: (id, timestamp, options) => {
          const a = this.#attempt;
          if (a === undefined || this.#status !== 'RUNNING') throw new Error(`job is ${this.#status}`);
          a.triggerCheckpoint(id, timestamp, checkpointOptionsFor(options, alignment, alignedTimeoutMs));
        },
        notifyCheckpointComplete: (id) => this.#attempt?.notifyCheckpointComplete(id, this.#finalAfterId !== undefined && id > this.#finalAfterId),
        notifyCheckpointAborted: (id) => this.#attempt?.notifyCheckpointAborted(id),
        failJob: (error) => {
          const a = this.#attempt;
          if (a) void this.#onFailure(a, error, 'checkpointing');
        },
      },
      finalizer: {
        finalize: async (metadata) => ({ dir: await storage.writeMetadata(metadata) }),
        discard: (id) => storage.discardCheckpoint(id),
      },
      // Only checkpoints arrive here: savepoints are written to their own directories and are the user's.
      onCompleted: (c) => store.add(c),
      onCallbackError: (error, context) =>
        process.emitWarning(`checkpointing: ${context} failed: ${error instanceof Error ? error.message : String(error)}`, { code: 'WEIR_CHECKPOINT_CALLBACK' }),
    });
    return { enabled: intervalMs !== undefined, coordinator, store, storage, slot: { baseDir }, alignment, ...(alignedTimeoutMs !== undefined ? { alignedTimeoutMs } : {}) };
  }

  async #deploy(restore: RestoreAssignment | undefined): Promise<void> {
    const attemptNumber = this.#attemptNumber;
    this.#finishedSlots = 0;
    this.#dataEnded.clear();
    this.#finalAfterId = undefined;
    this.#restoredId = restore?.checkpointId;
    // Events of an attempt that has been replaced are ignored.
    let attempt!: ExecutionAttempt;
    const current = () => this.#attempt === attempt && !this.#terminal();
    const cp = this.#checkpointing;
    const events = (e: SlotEvent): void => {
      switch (e.type) {
        case 'print':
          if (current()) (e.stderr ? process.stderr : process.stdout).write(e.text);
          break;
        case 'collect':
          if (current()) this.#collect(e.collectId, e.values, e.epoch);
          break;
        case 'finished':
          // A slot of an attempt that is failing over may still finish its part; the job does not.
          if (current() && !this.#failingOver) this.#slotFinished();
          break;
        case 'data-ended':
          if (current()) this.#subtaskDataEnded(`${e.subtask.vertex}/${e.subtask.subtask}`);
          break;
        case 'failed':
          void this.#onFailure(attempt, e.error, e.task);
          break;
        case 'ack':
          if (current()) cp?.coordinator.acknowledge(e.ack);
          break;
        case 'decline':
          if (current()) cp?.coordinator.decline(e.checkpointId, e.subtask, e.error, e.reason);
          break;
        case 'metrics':
          if (this.#attempt === attempt) for (const m of e.subtasks) this.#metrics.set(`${m.vertex}/${m.subtask}`, m);
          break;
        default:
          assertNever(e, 'attempt event');
      }
    };
    const options = {
      jobId: this.jobId,
      launch: this.#launch,
      pipeline: this.pipeline,
      graph: this.graph,
      attemptNumber,
      mayRestart: this.#strategy.canRestart(),
      checkpointing: cp?.slot,
      restores: restore?.all(),
      events,
    };
    attempt = this.#threadsJobModule === undefined ? new InlineAttempt(options) : new ThreadsAttempt(options, this.#threadsJobModule, this.#workers);
    this.#attempt = attempt;
    await attempt.deploy();
    if (!current() || this.#failingOver) return;
    this.#status = nextJobStatus(this.#status, 'RUNNING');
    this.#runningSince = this.#scheduler.now();
    attempt.start();
    cp?.coordinator.startPeriodic();
  }

  // ---- output --------------------------------------------------------------------------------

  #collect(id: string, values: unknown[], epoch: number): void {
    let list = this.#collected.get(id);
    if (!list) {
      list = [];
      this.#collected.set(id, list);
    }
    list.push({ epoch, values });
  }

  /** Drops output that a restore from checkpoint `checkpointId` (0: from scratch) produces again. */
  #dropReplayedOutput(checkpointId: number): void {
    for (const [id, list] of this.#collected) this.#collected.set(id, list.filter((b) => b.epoch < checkpointId));
  }

  #collectedValues(): Map<string, unknown[]> {
    const out = new Map<string, unknown[]>();
    for (const [id, list] of this.#collected) {
      const values: unknown[] = [];
      for (const b of list) for (const v of b.values) values.push(v);
      out.set(id, values);
    }
    return out;
  }

  // ---- end -----------------------------------------------------------------------------------

  /**
   * A subtask's input ended (FLIP-147). Once every subtask's has, the job takes its final
   * checkpoint at once rather than at the next interval; the job ends when it completes.
   */
  #subtaskDataEnded(key: string): void {
    const cp = this.#checkpointing;
    this.#dataEnded.add(key);
    if (cp === undefined || this.#finalAfterId !== undefined) return;
    const tasks = this.graph.vertices.reduce((n, v) => n + v.parallelism, 0);
    if (this.#dataEnded.size < tasks) return;
    this.#finalAfterId = cp.coordinator.nextCheckpointId() - 1;
    this.#logger.info('every task reached the end of its input: taking the final checkpoint');
    // A trigger that fails (a checkpoint already pending, the coordinator shutting down) is
    // harmless: the periodic trigger takes the final checkpoint instead.
    cp.coordinator.triggerCheckpoint({}).catch(() => {});
  }

  #slotFinished(): void {
    if (++this.#finishedSlots < (this.#attempt?.slots ?? 1) || this.#terminal()) return;
    this.#enterTerminal('FINISHED');
    const netRuntime = this.#scheduler.now() - this.#start;
    const jobId = this.jobId;
    const result: LocalJobResult = {
      jobId,
      jobName: this.pipeline.jobName,
      netRuntime,
      collected: this.#collectedValues(),
      getJobID: () => jobId,
      getNetRuntime: () => netRuntime,
    };
    // Reported once the threads are gone and checkpoints cleaned up, so a next job never overlaps them.
    void this.#release('FINISHED').then(() => this.#resolve(result));
  }

  /**
   * Stops checkpointing and the attempt's threads; then keeps or deletes the job's checkpoints:
   * a finished job deletes them, a cancelled one keeps them with RETAIN_ON_CANCELLATION, a failed
   * one keeps them unless they are not externalized (Flink's rules).
   */
  async #release(outcome: 'FINISHED' | 'FAILED' | 'CANCELED'): Promise<void> {
    const cp = this.#checkpointing;
    cp?.coordinator.shutdown();
    const attempt = this.#attempt;
    if (attempt instanceof ThreadsAttempt) await attempt.release();
    else await attempt?.cancel();
    await resolveStateBackend(this.pipeline.config)
      .releaseJob?.(this.jobId)
      .catch(() => {});
    if (!cp) return;
    const retention = this.pipeline.config.get('execution.checkpointing.externalized-checkpoint-retention');
    const retain =
      outcome === 'CANCELED' ? retention === 'RETAIN_ON_CANCELLATION' : outcome === 'FAILED' ? retention !== 'NO_EXTERNALIZED_CHECKPOINTS' : false;
    await cp.store.shutdown(retain ? 'RETAIN' : 'DISCARD');
    if (!retain) await cp.storage.discardAll().catch(() => {});
  }

  #fail(error: JobExecutionError): void {
    if (this.#terminal()) return;
    this.#enterTerminal('FAILED');
    void this.#release('FAILED').then(() => this.#reject(error));
  }

  // ---- failover ------------------------------------------------------------------------------

  async #onFailure(attempt: ExecutionAttempt, error: Error, task: string): Promise<void> {
    if (attempt !== this.#attempt || this.#terminal() || this.#failingOver) return;
    this.#failingOver = true;
    this.#logger.info(`attempt ${this.#attemptNumber} failed in ${task}: ${rootCause(error).stack ?? rootCause(error).message}`);
    this.#history.record(error, this.#scheduler.now());
    this.#strategy.notifyFailure(error);
    const cp = this.#checkpointing;
    cp?.coordinator.stopPeriodic();
    cp?.coordinator.abortPending('JOB_FAILOVER_REGION');
    const name = `Job "${this.pipeline.jobName}" (${this.jobId})`;
    this.#stop?.failed(new Error(`${name} failed before it stopped: ${rootCause(error).message}`, { cause: error }));
    if (!this.#strategy.canRestart()) {
      const root = rootCause(error);
      const message =
        this.#history.numFailures === 1
          ? `${name} failed: ${task}: ${root.message}`
          : `${name} failed: ${this.#history.exhausted(this.#strategy).message}`;
      this.#fail(new JobExecutionError(message, this.jobId, 'FAILED', { cause: error }));
      return;
    }
    this.#status = nextJobStatus(this.#status, 'RESTARTING');
    await attempt.cancel();
    const delay = this.#strategy.getBackoffTime();
    if (delay > 0) await new Promise<void>((r) => this.#scheduler.schedule(delay, r));
    if (this.#terminal()) return;
    let restore: RestoreAssignment | undefined;
    try {
      restore = this.#chooseRestore(error);
    } catch (e) {
      this.#fail(new JobExecutionError(`${name} failed: ${e instanceof Error ? e.message : String(e)}`, this.jobId, 'FAILED', { cause: e }));
      return;
    }
    this.#dropReplayedOutput(restore?.checkpointId ?? 0);
    if (restore && cp) cp.coordinator.stats.restored(restore.checkpointId, this.#scheduler.now(), restore.dir);
    this.#history.markRestarted();
    this.#attemptNumber++;
    this.#failingOver = false;
    await this.#deploy(restore);
  }

  /**
   * The newest usable checkpoint: a checkpoint whose files proved corrupt on the last restore is
   * skipped for the one before it; with none completed, the checkpoint or savepoint the job was
   * started from; with neither, a fresh start.
   */
  #chooseRestore(error: Error): RestoreAssignment | undefined {
    if (this.#restoredId !== undefined && hasCause(error, 'CorruptCheckpointError')) {
      this.#logger.warn(`checkpoint ${this.#restoredId} cannot be restored (${rootCause(error).message}); trying the one before it`);
      this.#unusable.add(this.#restoredId);
    }
    const cp = this.#checkpointing;
    const retained = cp ? cp.store.all().filter((c) => c.metadata.kind === 'checkpoint' && !this.#unusable.has(c.checkpointId)) : [];
    const newest = retained[retained.length - 1];
    if (newest && cp) return new RestoreAssignment({ metadata: newest.metadata, root: cp.storage.jobDir, dir: newest.dir }, this.graph, false);
    const initial = this.#initialRestore;
    if (initial && !this.#unusable.has(initial.metadata.checkpointId)) return new RestoreAssignment(initial, this.graph, this.pipeline.config.get('execution.savepoint.ignore-unclaimed-state'));
    if (this.#unusable.size > 0) throw new Error(`no intact checkpoint is left to restore (unusable: ${[...this.#unusable].join(', ')})`);
    return undefined;
  }

  // ---- client --------------------------------------------------------------------------------

  async cancel(): Promise<void> {
    if (this.#terminal()) return;
    // Terminal at once, so nothing the stopping attempt still reports is taken for an outcome.
    this.#enterTerminal('CANCELED');
    await this.#release('CANCELED');
    this.#reject(new JobExecutionError(`Job "${this.pipeline.jobName}" (${this.jobId}) was cancelled`, this.jobId, 'CANCELED'));
  }

  /** A checkpoint now; `full` asks for one that does not depend on earlier ones (`weir checkpoint --full`). */
  async triggerCheckpoint(options: { readonly full?: boolean } = {}): Promise<string> {
    const cp = this.#checkpointing;
    if (!cp?.enabled) throw new Error(`${this.#name} does not have checkpointing enabled (env.enableCheckpointing)`);
    if (this.#status !== 'RUNNING') throw new Error(`${this.#name} is ${this.#status}: a checkpoint needs a running job`);
    return (await cp.coordinator.triggerCheckpoint(options.full === true ? { full: true } : {})).dir;
  }

  /**
   * The latest metrics of every subtask that reported (running slots report every second, and
   * once more when they finish), in vertex and subtask order. Kept after the job ends.
   */
  getMetrics(): SubtaskMetrics[] {
    return [...this.#metrics.values()].sort((a, b) => a.vertex - b.vertex || a.subtask - b.subtask);
  }

  /** The checkpoint summaries with percentiles; undefined without checkpointing. */
  checkpointSummaries(): CheckpointSummaries | undefined {
    return this.#checkpointing?.enabled ? this.#checkpointing.coordinator.stats.summaries() : undefined;
  }

  /** The job's own metrics now (its JobManager scope: uptime, numRestarts, checkpoint figures). */
  jobMetrics(): MetricSnapshot[] {
    return this.#jobMetrics.snapshot();
  }

  /** Asks every slot of the running attempt to report its metrics now (they arrive as events). */
  requestMetrics(): void {
    this.#attempt?.requestMetrics();
  }

  get #name(): string {
    return `Job "${this.pipeline.jobName}" (${this.jobId})`;
  }

  /**
   * Takes a savepoint into a new directory under `targetDirectory`, else `state.savepoints.dir`
   * (also spelled `execution.checkpointing.savepoint-dir`); resolves with that directory.
   */
  triggerSavepoint(targetDirectory?: string): Promise<string> {
    return this.#savepoint(targetDirectory, undefined);
  }

  /**
   * Flink's stop: a savepoint after whose barrier the sources emit nothing, then the job ends
   * FINISHED without the end-of-input watermark (with `drain`, the sources emit the maximal
   * watermark before the barrier). Resolves with the savepoint directory once the job finished;
   * a failed savepoint rejects and the job keeps running, periodic checkpoints included.
   */
  async stopWithSavepoint(targetDirectory: string | undefined, drain: boolean): Promise<string> {
    if (this.#stop !== undefined) throw new Error(`${this.#name} is already being stopped with a savepoint`);
    let failedBeforeEnd!: (error: Error) => void;
    const failover = new Promise<never>((_, reject) => (failedBeforeEnd = reject));
    failover.catch(() => {});
    this.#stop = { failed: (e) => failedBeforeEnd(e) };
    const cp = this.#checkpointing;
    // No periodic checkpoint starts while the job stops (it could not complete once sources end).
    cp?.coordinator.stopPeriodic();
    try {
      const dir = await Promise.race([this.#savepoint(targetDirectory, { drain }), failover]);
      try {
        await Promise.race([this.#result, failover]);
      } catch (e) {
        throw new Error(`${this.#name} took savepoint ${dir} but did not finish: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
      }
      return dir;
    } catch (e) {
      if (this.#status === 'RUNNING' && !this.#failingOver) cp?.coordinator.startPeriodic();
      throw e;
    } finally {
      this.#stop = undefined;
    }
  }

  async #savepoint(targetDirectory: string | undefined, stop: { drain: boolean } | undefined): Promise<string> {
    const config = this.pipeline.config;
    const target = targetDirectory ?? config.get('state.savepoints.dir');
    if (target === undefined || target === '') {
      throw new Error(
        `${this.#name}: no savepoint directory: give a target directory (weir savepoint <jobId> <dir>, JobClient.triggerSavepoint(dir)) ` +
          'or configure a default with state.savepoints.dir / execution.checkpointing.savepoint-dir (env.setDefaultSavepointDirectory(dir))',
      );
    }
    const cp = this.#checkpointing;
    if (!cp || this.#status !== 'RUNNING') throw new Error(`${this.#name} is ${this.#status}: a savepoint needs a running job`);
    const writer = await cp.storage.createSavepoint(target);
    try {
      return (await cp.coordinator.triggerCheckpoint({ savepoint: writer, ...(stop ? { stop } : {}) })).dir;
    } catch (e) {
      // Nothing of a failed savepoint stays behind (the coordinator discards it too, if it got that far).
      await writer.discard().catch(() => {});
      throw new Error(`${this.#name}: the savepoint failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
  }

  /** Kills the worker thread of one slot, as a crash would (threads mode only). */
  async killSlot(slot: number): Promise<void> {
    const a = this.#attempt;
    if (!(a instanceof ThreadsAttempt)) throw new Error('killSlot needs a job in threads mode');
    await a.killSlot(slot);
  }

  client(): JobClient {
    const client: JobClient = {
      getJobID: () => this.jobId,
      getJobStatus: async () => this.#status,
      cancel: () => this.cancel(),
      getJobExecutionResult: () => this.#result,
      triggerCheckpoint: () => this.triggerCheckpoint(),
      triggerSavepoint: (targetDirectory?: string) => this.triggerSavepoint(targetDirectory),
      stopWithSavepoint: (targetDirectory?: string, drain = false) => this.stopWithSavepoint(targetDirectory, drain),
      getCheckpointStats: async (): Promise<CheckpointStatsSnapshot | undefined> =>
        this.#checkpointing?.enabled ? this.#checkpointing.coordinator.stats.snapshot() : undefined,
      getNumRestarts: async () => this.#history.numRestarts,
    };
    jobsByClient.set(client, this);
    return client;
  }
}

/** By name: errors from worker threads arrive rebuilt as plain Errors with their names. */
function hasCause(e: unknown, name: string): boolean {
  for (let c: unknown = e, depth = 0; c instanceof Error && depth < 32; c = c.cause, depth++) if (c.name === name) return true;
  return false;
}
