/**
 * The job registry of a weir cluster (Flink's Dispatcher): it accepts job modules, runs each as a
 * LocalJob on worker threads within a fixed number of slots, keeps every job it ran (running and
 * finished) and runs the asynchronous operations on them — savepoints, stop-with-savepoint and
 * manual checkpoints — that clients poll by trigger id. The REST API (src/rest/) is a thin HTTP
 * layer over this class; everything a cluster decides lives here or in the files it composes:
 *
 *   job-submission.ts       the submission's fields and their checks
 *   job-module-store.ts     where a submitted module is written (next to a `weir` link)
 *   job-module-launcher.ts  importing the module with the dispatcher's executor in place
 *   job-table.ts            the jobs, and the status and timestamps clients see
 *   slot-pool.ts            which slots are free
 *   job-operations.ts       savepoint, stop and checkpoint operations by trigger id
 *   dispatcher-errors.ts    why a request is refused
 *   api/job-status.ts       the job statuses and their legal transitions
 *
 * Limits, by design:
 * - Submissions are serialised: the launch context (overrides, job module, process.argv) and the
 *   executor are process-global while a module is imported, so two imports must not overlap.
 *   A module that never reaches execute() and never returns holds the queue.
 * - Only the first execute() of a submitted module becomes a cluster job. After the submission
 *   the previous executor is back in place, so a later execute() of the same module (after its
 *   first job ended) would reach whatever executor the cluster process has then; job modules
 *   submitted to a cluster must call execute() once.
 * - Cluster jobs always run in threads mode (one worker thread per slot): an inline job would
 *   run its tasks on the thread that serves the REST API.
 * - The module's top-level code runs in the cluster's process, before and after execute(): it
 *   must not exit the process, and the module stays in the process's module cache (ES modules
 *   cannot be unloaded), which a long-lived cluster pays for with a little memory per job.
 */
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Pipeline } from '../api/execution-context.ts';
import { isTerminalJobStatus } from '../api/job-status.ts';
import type { CheckpointStatsSnapshot, CheckpointSummaries } from '../checkpoint/checkpoint-stats.ts';
import { jobLogger, silentLogger, type Logger } from '../core/logger.ts';
import { slotCount } from '../runtime/deployment.ts';
import { prepareJobGraph } from '../runtime/embedded-executor.ts';
import { LocalJob } from '../runtime/local-job.ts';
import type { MetricSnapshot, SubtaskMetrics } from '../runtime/metrics/metric-snapshot.ts';
import type { WorkerGroupFactory } from '../runtime/worker-group.ts';
import { DispatcherShutDownError, JobStateError, SubmissionError } from './dispatcher-errors.ts';
import { launchJobModule } from './job-module-launcher.ts';
import { storeJobModule } from './job-module-store.ts';
import { JobOperations, type OperationStatus } from './job-operations.ts';
import { submissionOverrides, validateConfig, validateSubmission, type JobSubmission } from './job-submission.ts';
import { JobTable, verticesOf, type JobInfo, type JobRecord } from './job-table.ts';
import { SlotPool } from './slot-pool.ts';
import '../runtime/install-embedded-executor.ts';
import { systemScheduler, type Clock } from '../core/time.ts';

export * from './dispatcher-errors.ts';
export type { OperationStatus } from './job-operations.ts';
export { validateSubmission, type JobSubmission } from './job-submission.ts';
export type { JobInfo, VertexInfo } from './job-table.ts';

export interface DispatcherOptions {
  /** Slots of the cluster: the sum of the slots of its non-terminal jobs never exceeds this. */
  readonly slots: number;
  /** Where submitted job modules are written, one directory per submission. */
  readonly jobsDir: string;
  /** Where the worker threads of the jobs run; this process by default. */
  readonly workers?: WorkerGroupFactory;
  /** Configuration every job gets, below the submission's own options. */
  readonly config?: Readonly<Record<string, string>>;
  /**
   * Lifecycle events (submitted, finished, failed, cancelled, savepoint, ...) and every failed
   * attempt with its cause at info, failed operations and corrupt checkpoints skipped on restore
   * at warn; each job's lines carry its id (`job`). Silent by default.
   */
  readonly logger?: Logger;
  /** Timestamps of status changes and failures; the system clock by default. */
  readonly clock?: Clock;
  /** Called once per job when it is terminal and its worker threads are gone. */
  readonly onJobEnded?: (jobId: string) => void;
}

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));
const asError = (e: unknown): Error => (e instanceof Error ? e : new Error(String(e)));

/** The checkpoint id of a checkpoint directory `.../chk-<n>`. */
function checkpointIdOf(dir: string): number {
  const m = /chk-(\d+)[\\/]*$/.exec(dir);
  if (!m) throw new Error(`cannot read a checkpoint id from the checkpoint directory ${dir}`);
  return Number(m[1]);
}

export class Dispatcher {
  readonly #jobsDir: string;
  readonly #workers: WorkerGroupFactory | undefined;
  readonly #onJobEnded: ((jobId: string) => void) | undefined;
  readonly #config: Readonly<Record<string, string>>;
  readonly #logger: Logger;
  readonly #table: JobTable;
  readonly #clock: Clock;
  readonly #pool: SlotPool;
  /** Submissions run one after another; this is the tail of the queue. */
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;

  constructor(o: DispatcherOptions) {
    this.#clock = o.clock ?? systemScheduler;
    this.#table = new JobTable(this.#clock);
    this.#pool = new SlotPool(o.slots, () => this.#table.all());
    this.#jobsDir = resolve(o.jobsDir);
    this.#workers = o.workers;
    this.#onJobEnded = o.onJobEnded;
    this.#config = { ...o.config };
    validateConfig(this.#config, 'cluster configuration');
    this.#logger = o.logger ?? silentLogger;
  }

  /** Slots of the cluster. */
  get slots(): number {
    return this.#pool.total;
  }

  /** The cluster's configuration: what every job's configuration starts from. */
  get config(): Readonly<Record<string, string>> {
    return this.#config;
  }

  /** Slots not held by a job that is still running (or still stopping its threads). */
  get freeSlots(): number {
    return this.#pool.free;
  }

  // ---- submission ------------------------------------------------------------------------------

  /**
   * Runs a job module and resolves with the job id as soon as its first execute() started the
   * job. Rejects with a SubmissionError when the fields are bad, the module throws or returns
   * without calling execute(), the pipeline or graph is invalid, the restore path is bad, or
   * (InsufficientSlotsError) the job needs more slots than are free.
   */
  submit(s: JobSubmission): Promise<string> {
    if (this.#closed) return Promise.reject(new DispatcherShutDownError());
    try {
      validateSubmission(s);
    } catch (e) {
      return Promise.reject(e);
    }
    const run = this.#queue.then(() => this.#submitNow(s));
    this.#queue = run.catch(() => {});
    return run;
  }

  async #submitNow(s: JobSubmission): Promise<string> {
    if (this.#closed) throw new DispatcherShutDownError();
    const dir = join(this.#jobsDir, randomBytes(16).toString('hex'));
    let path: string;
    try {
      path = fileURLToPath(storeJobModule(dir, s.jobModule.fileName, s.jobModule.source));
    } catch (e) {
      await rm(dir, { recursive: true, force: true }).catch(() => {});
      throw new Error(`cannot write the job module to ${dir}: ${message(e)}`, { cause: e });
    }
    try {
      const record = await launchJobModule({
        path,
        fileName: s.jobModule.fileName,
        args: s.programArgs ?? [],
        overrides: submissionOverrides(this.#config, s),
        start: (pipeline) => this.#start(pipeline, dir),
      });
      return record.job.jobId;
    } catch (e) {
      await rm(dir, { recursive: true, force: true }).catch(() => {});
      if (e instanceof SubmissionError || e instanceof DispatcherShutDownError) throw e;
      throw new SubmissionError(`${s.jobModule.fileName}: ${message(e)}`, { cause: e });
    }
  }

  /** Validates the pipeline, checks the slots and starts the job (the executor's work). */
  async #start(pipeline: Pipeline, dir: string): Promise<JobRecord> {
    // Threads mode even when the job's code asked for inline: inline tasks would run on the
    // thread that serves the cluster's API.
    if (pipeline.config.get('weir.execution.mode') !== 'threads') pipeline.config.set('weir.execution.mode', 'threads');
    const graph = prepareJobGraph(pipeline);
    const needed = slotCount(graph);
    this.#pool.require(needed);
    const job = new LocalJob(pipeline, graph, this.#workers === undefined ? { logger: this.#logger } : { workers: this.#workers, logger: this.#logger });
    const logger = jobLogger(this.#logger, job.jobId);
    await job.start(); // rejects on a bad restore path; nothing runs then
    const record: JobRecord = {
      job,
      client: job.client(),
      dir,
      slots: needed,
      vertices: verticesOf(graph),
      timestamps: { INITIALIZING: job.startTime },
      failure: undefined,
      released: false,
      done: Promise.resolve(),
      operations: new JobOperations(job.jobId, (kind, triggerId, e) => logger.warn(`job ${job.jobId}: ${kind} ${triggerId} failed: ${e.message}`)),
    };
    this.#table.add(record);
    logger.info(`job ${job.jobId} "${pipeline.jobName}" submitted (${needed} slot${needed === 1 ? '' : 's'}, ${this.freeSlots} free)`);
    record.done = record.client.getJobExecutionResult().then(
      () => this.#ended(record, logger),
      (e: unknown) => this.#ended(record, logger, asError(e)),
    );
    return record;
  }

  /** The job's result settled: it is terminal and its threads are gone. */
  async #ended(record: JobRecord, logger: Logger, error?: Error): Promise<void> {
    const job = record.job;
    if (job.status === 'FAILED' && error) record.failure = { error, timestamp: job.endTime ?? this.#clock.now() };
    record.released = true;
    this.#table.observe(record);
    const name = `job ${job.jobId} "${job.pipeline.jobName}"`;
    if (job.status === 'FAILED') logger.warn(`${name} failed: ${error?.message ?? 'unknown cause'}`);
    else logger.info(`${name} ${job.status === 'CANCELED' ? 'was cancelled' : 'finished'}`);
    this.#onJobEnded?.(job.jobId);
    await rm(record.dir, { recursive: true, force: true }).catch(() => {});
  }

  // ---- queries ---------------------------------------------------------------------------------

  /** Every job started here, running and finished, in submission order. */
  jobs(): JobInfo[] {
    return this.#table.all().map((r) => this.#table.info(r));
  }

  /** @throws UnknownJobError */
  job(id: string): JobInfo {
    return this.#table.info(this.#table.get(id));
  }

  /** Counts, summary, latest and history with Flink's fields; undefined when the job has no checkpointing. */
  async checkpointStats(id: string): Promise<CheckpointStatsSnapshot | undefined> {
    return this.#table.get(id).client.getCheckpointStats();
  }

  /**
   * The latest metrics each subtask of the job's current attempt reported (tasks report every
   * second while they run), ordered by vertex index and subtask; empty before the first report.
   */
  subtaskMetrics(id: string): SubtaskMetrics[] {
    return this.#table.get(id).job.getMetrics();
  }

  /** The job's own metrics on the JobManager now (uptime, numRestarts, checkpoint figures), with Flink's names. */
  jobMetrics(id: string): MetricSnapshot[] {
    return this.#table.get(id).job.jobMetrics();
  }

  /** The job's checkpoint summaries with percentiles; undefined when the job has no checkpointing. */
  checkpointSummaries(id: string): CheckpointSummaries | undefined {
    return this.#table.get(id).job.checkpointSummaries();
  }

  // ---- control ---------------------------------------------------------------------------------

  /**
   * Cancels the job; resolves when its threads are gone. Cancelling a cancelled job is a no-op;
   * a finished or failed job cannot be cancelled (JobStateError), as in Flink.
   */
  async cancel(id: string): Promise<void> {
    const r = this.#table.get(id);
    const status = r.job.status;
    if (status === 'FINISHED' || status === 'FAILED') {
      throw new JobStateError(`job ${id} cannot be cancelled: it has already ${status === 'FINISHED' ? 'finished' : 'failed'}`, id, status);
    }
    await r.job.cancel();
    await r.done;
  }

  /**
   * Takes a savepoint (into `targetDirectory`, else the job's state.savepoints.dir) and, with
   * `cancelJob`, cancels the job once it is complete. Returns the trigger id at once; the
   * outcome is savepointStatus(id, triggerId). JobStateError when the job is already terminal.
   */
  triggerSavepoint(id: string, o: { targetDirectory?: string | undefined; cancelJob?: boolean | undefined } = {}): string {
    const r = this.#running(id, 'a savepoint');
    return r.operations.track('savepoint', async () => {
      const location = await r.job.triggerSavepoint(o.targetDirectory);
      this.#logger.info({ job: id }, `job ${id}: savepoint at ${location}`);
      if (o.cancelJob) await this.cancel(id);
      return location;
    });
  }

  /**
   * Stops the job with a savepoint (Flink's stop-with-savepoint): with `drain`, sources end and
   * event-time timers fire before the final savepoint. The job ends FINISHED. Returns the
   * trigger id; the outcome is savepointStatus(id, triggerId).
   */
  stop(id: string, o: { targetDirectory?: string | undefined; drain?: boolean | undefined } = {}): string {
    const r = this.#running(id, 'a stop with savepoint');
    return r.operations.track('savepoint', async () => {
      const location = await r.job.stopWithSavepoint(o.targetDirectory, o.drain ?? false);
      this.#logger.info({ job: id }, `job ${id}: stopped with savepoint at ${location}${o.drain ? ' (drained)' : ''}`);
      return location;
    });
  }

  /** The outcome of a triggerSavepoint or stop: the savepoint's location, or why it failed. */
  savepointStatus(id: string, triggerId: string): OperationStatus<string> {
    return this.#table.get(id).operations.status(triggerId, 'savepoint');
  }

  /**
   * Takes a checkpoint now (the job needs checkpointing enabled). Returns the trigger id; the
   * outcome, the checkpoint's id, is checkpointStatus(id, triggerId).
   */
  triggerCheckpoint(id: string): string {
    const r = this.#running(id, 'a checkpoint');
    if (r.job.pipeline.config.get('execution.checkpointing.interval') === undefined) {
      throw new JobStateError(`job ${id} does not have checkpointing enabled (env.enableCheckpointing)`, id, r.job.status);
    }
    return r.operations.track('checkpoint', async () => checkpointIdOf(await r.job.triggerCheckpoint()));
  }

  /** The outcome of a triggerCheckpoint: the checkpoint id, or why it failed. */
  checkpointStatus(id: string, triggerId: string): OperationStatus<number> {
    return this.#table.get(id).operations.status(triggerId, 'checkpoint');
  }

  #running(id: string, what: string): JobRecord {
    const r = this.#table.get(id);
    const status = r.job.status;
    if (isTerminalJobStatus(status)) throw new JobStateError(`job ${id} is ${status}: ${what} needs a running job`, id, status);
    return r;
  }

  /**
   * Takes no more submissions, waits for the one under way, cancels every job that is not
   * terminal and resolves when all their threads are gone and their directories removed.
   */
  async shutdown(): Promise<void> {
    this.#closed = true;
    await this.#queue;
    const records = this.#table.all();
    await Promise.allSettled(records.map((r) => (isTerminalJobStatus(r.job.status) ? undefined : r.job.cancel())));
    await Promise.allSettled(records.map((r) => r.done));
  }
}

