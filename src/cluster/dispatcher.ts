/**
 * The job registry of a weir cluster (Flink's Dispatcher): it accepts job modules, runs each as a
 * LocalJob on worker threads within a fixed number of slots, keeps every job it ran (running and
 * finished) and runs the asynchronous operations on them — savepoints, stop-with-savepoint and
 * manual checkpoints — that clients poll by trigger id. The REST server (rest-server.ts) is a thin
 * HTTP layer over this class; everything a cluster decides lives here.
 *
 * How a submission becomes a job. The module's source is written to
 * `<jobsDir>/<submission id>/<fileName>` next to a `package.json` of type module and a
 * `node_modules/weir` link to this weir package, so that its bare `import 'weir'` resolves to the
 * same copy of weir the cluster runs (one execution registry, one module graph). The dispatcher
 * then imports it the way `weir run` does (setLaunchContext), with a dispatcher-owned
 * PipelineExecutor installed. The module's first `env.execute()` reaches that executor, which
 * validates the pipeline, builds the graph, checks the free slots and starts a LocalJob; the
 * submission is done as soon as that job runs. The module's own `await env.execute()` keeps
 * waiting inside this process for the job's end, as it would under `weir run`.
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
import { isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Configuration, isConfigKey, type ConfigValues } from '../api/configuration.ts';
import { executionRegistry, setLaunchContext, type Pipeline, type PipelineExecutor } from '../api/execution-context.ts';
import { TERMINAL_JOB_STATUSES, type JobClient, type JobStatus } from '../api/job-client.ts';
import type { CheckpointStatsSnapshot } from '../checkpoint/checkpoint-stats.ts';
import type { JobGraph } from '../graph/job-graph.ts';
import { slotCount } from '../runtime/deployment.ts';
import { prepareJobGraph } from '../runtime/embedded-executor.ts';
import { LocalJob } from '../runtime/local-job.ts';
import type { WorkerGroupFactory } from '../runtime/worker-group.ts';
import { storeJobModule } from './job-module-store.ts';
import '../runtime/install-embedded-executor.ts';

// ---- public types ------------------------------------------------------------------------------

/** A job as a client submits it: the job module's source (self-contained but for weir) and how to run it. */
export interface JobSubmission {
  /**
   * The module, an ES module importing only 'weir', 'weir/testing' and node builtins (the CLI
   * bundles everything else into it). `fileName` is a bare file name ending in .mjs, .js, .ts or
   * .mts; the extension decides how the module is loaded.
   */
  readonly jobModule: { readonly fileName: string; readonly source: string };
  /** What the job sees as process.argv.slice(2), in every worker too. */
  readonly programArgs?: readonly string[];
  /** Imposed as parallelism.default (code that sets a parallelism wins), like `weir run -p`. */
  readonly parallelism?: number;
  /** Savepoint or retained checkpoint to start from: an absolute path or a file:// URI. */
  readonly savepointPath?: string;
  /** Skip snapshot state that maps to no operator of the job (`weir run -n`). */
  readonly allowNonRestoredState?: boolean;
  /** Configuration by Flink's keys (restart-strategy.* included), like `weir run -D`. */
  readonly config?: Readonly<Record<string, string>>;
}

export interface DispatcherOptions {
  /** Slots of the cluster: the sum of the slots of its non-terminal jobs never exceeds this. */
  readonly slots: number;
  /** Where submitted job modules are written, one directory per submission. */
  readonly jobsDir: string;
  /** Where the worker threads of the jobs run; this process by default. */
  readonly workers?: WorkerGroupFactory;
  /** Configuration every job gets, below the submission's own options. */
  readonly config?: Readonly<Record<string, string>>;
  /** One line per lifecycle event (submitted, finished, failed, cancelled, savepoint, ...). */
  readonly log?: (line: string) => void;
  /** Called once per job when it is terminal and its worker threads are gone. */
  readonly onJobEnded?: (jobId: string) => void;
}

/** One job vertex (a chain of operators running as one task) as clients see it. */
export interface VertexInfo {
  /** 32 hex: the id of the chain's head operator, as in Flink where a JobVertexID is its head's hash. */
  readonly id: string;
  readonly index: number;
  readonly name: string;
  readonly parallelism: number;
  readonly maxParallelism: number;
  /** Network edges into the vertex: the producing vertex and the partitioner. */
  readonly inputs: readonly { readonly id: string; readonly partitioner: string }[];
}

/** A job of the dispatcher at the moment it was asked for. */
export interface JobInfo {
  readonly id: string;
  readonly name: string;
  readonly status: JobStatus;
  /** Submission time, ms since the epoch. */
  readonly startTime: number;
  /** When the job reached a terminal status; undefined while it has not. */
  readonly endTime: number | undefined;
  /**
   * When the job entered each status it has been seen in. Submission, RUNNING and the terminal
   * status are exact; a status in between (RESTARTING) is timed when the dispatcher first saw it.
   */
  readonly timestamps: Readonly<Partial<Record<JobStatus, number>>>;
  /** Slots the job holds while it is not terminal. */
  readonly slots: number;
  readonly vertices: readonly VertexInfo[];
  /** Why the job failed (its JobExecutionError, the user's error as cause); set once FAILED. */
  readonly failure: { readonly error: Error; readonly timestamp: number } | undefined;
  /** The job's effective configuration. */
  readonly config: Readonly<ConfigValues>;
  readonly numRestarts: number;
}

/** The state of a savepoint, stop or checkpoint operation, by trigger id. */
export type OperationStatus<T> =
  | { readonly status: 'IN_PROGRESS' }
  | { readonly status: 'COMPLETED'; readonly result: T }
  | { readonly status: 'COMPLETED'; readonly failure: Error };

// ---- errors ------------------------------------------------------------------------------------

/** No job with this id was ever submitted here. */
export class UnknownJobError extends Error {
  override readonly name = 'UnknownJobError';
  constructor(readonly jobId: string) {
    super(`unknown job ${jobId}`);
  }
}

/** No operation of this kind with this trigger id exists for the job. */
export class UnknownTriggerError extends Error {
  override readonly name = 'UnknownTriggerError';
  constructor(
    readonly jobId: string,
    readonly triggerId: string,
    kind: string,
  ) {
    super(`unknown ${kind} trigger ${triggerId} for job ${jobId}`);
  }
}

/** The job's status does not allow the request (a savepoint of a finished job, cancelling a failed one). */
export class JobStateError extends Error {
  override readonly name = 'JobStateError';
  constructor(
    message: string,
    readonly jobId: string,
    readonly status: JobStatus,
  ) {
    super(message);
  }
}

/** The submission was refused: bad fields, a module that throws or never executes, an invalid graph, a bad restore path. */
export class SubmissionError extends Error {
  override readonly name = 'SubmissionError';
}

/** The job needs more slots than are free. */
export class InsufficientSlotsError extends SubmissionError {
  constructor(
    readonly needed: number,
    readonly free: number,
    readonly total: number,
  ) {
    super(`job needs ${needed} slots but the cluster has ${free} free (${total} in all)`);
  }
}

/** The dispatcher has been shut down and takes no more jobs. */
export class DispatcherShutDownError extends Error {
  override readonly name = 'DispatcherShutDownError';
  constructor() {
    super('the dispatcher is shut down');
  }
}

// ---- internals ---------------------------------------------------------------------------------

interface Operation {
  readonly kind: 'savepoint' | 'checkpoint';
  state: 'IN_PROGRESS' | 'COMPLETED';
  /** Savepoint location, or checkpoint id. */
  result?: string | number;
  failure?: Error;
}

interface JobRecord {
  readonly job: LocalJob;
  readonly client: JobClient;
  /** The submission directory; removed once the job is over. */
  readonly dir: string;
  readonly slots: number;
  readonly vertices: readonly VertexInfo[];
  readonly timestamps: Partial<Record<JobStatus, number>>;
  failure: { error: Error; timestamp: number } | undefined;
  /** True once the job is terminal and its worker threads are gone: its slots are free again. */
  released: boolean;
  /** Settles when released and the submission directory is removed. */
  done: Promise<void>;
  readonly operations: Map<string, Operation>;
}

const FILE_NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]*\.(mjs|js|ts|mts)$/;

const hex32 = (): string => randomBytes(16).toString('hex');
const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));
const asError = (e: unknown): Error => (e instanceof Error ? e : new Error(String(e)));

/**
 * Checks a submission's fields (it may come from JSON) and throws a SubmissionError naming the
 * first bad field.
 */
export function validateSubmission(s: unknown): asserts s is JobSubmission {
  const fail = (text: string): never => {
    throw new SubmissionError(text);
  };
  if (typeof s !== 'object' || s === null || Array.isArray(s)) fail('a job submission must be an object');
  const o = s as Record<string, unknown>;
  const known = new Set(['jobModule', 'programArgs', 'parallelism', 'savepointPath', 'allowNonRestoredState', 'config']);
  for (const k of Object.keys(o)) if (!known.has(k)) fail(`unknown field "${k}" (known: ${[...known].join(', ')})`);
  const m = o['jobModule'];
  if (typeof m !== 'object' || m === null || Array.isArray(m)) fail('"jobModule" must be an object {fileName, source}');
  const { fileName, source } = m as Record<string, unknown>;
  if (typeof fileName !== 'string' || !FILE_NAME.test(fileName)) {
    fail(`"jobModule.fileName" must be a bare file name ending in .mjs, .js, .ts or .mts, got ${JSON.stringify(fileName)}`);
  }
  if (typeof source !== 'string') fail(`"jobModule.source" must be a string, got ${typeof source}`);
  const args = o['programArgs'];
  if (args !== undefined && (!Array.isArray(args) || args.some((a) => typeof a !== 'string'))) fail('"programArgs" must be an array of strings');
  const p = o['parallelism'];
  if (p !== undefined && (typeof p !== 'number' || !Number.isInteger(p) || p < 1 || p > 32768)) {
    fail(`"parallelism" must be an integer between 1 and 32768, got ${JSON.stringify(p)}`);
  }
  const sp = o['savepointPath'];
  if (sp !== undefined) {
    if (typeof sp !== 'string' || sp === '') fail('"savepointPath" must be a non-empty string');
    const uri = /^[a-zA-Z][a-zA-Z0-9+.-]+:/.test(sp as string);
    if (!uri && !isAbsolute(sp as string)) fail(`"savepointPath" must be an absolute path or a file:// URI, got ${JSON.stringify(sp)}`);
  }
  const allow = o['allowNonRestoredState'];
  if (allow !== undefined && typeof allow !== 'boolean') fail(`"allowNonRestoredState" must be true or false, got ${JSON.stringify(allow)}`);
  const config = o['config'];
  if (config !== undefined) {
    if (typeof config !== 'object' || config === null || Array.isArray(config)) fail('"config" must be an object of key: string value');
    validateConfig(config as Record<string, unknown>, '"config"');
  }
}

/** Keys must be configuration keys (or restart-strategy.*), values strings that the key accepts. */
function validateConfig(config: Readonly<Record<string, unknown>>, where: string): void {
  const probe = new Configuration();
  for (const [k, v] of Object.entries(config)) {
    if (typeof v !== 'string') throw new SubmissionError(`${where}: the value of "${k}" must be a string, got ${JSON.stringify(v)}`);
    if (k.startsWith('restart-strategy.')) continue; // validated as a group when the environment is created
    if (!isConfigKey(k)) throw new SubmissionError(`${where}: unknown configuration key "${k}"`);
    try {
      probe.setString(k, v);
    } catch (e) {
      throw new SubmissionError(`${where}: ${message(e)}`);
    }
  }
}

/** The checkpoint id of a checkpoint directory `.../chk-<n>`. */
function checkpointIdOf(dir: string): number {
  const m = /chk-(\d+)[\\/]*$/.exec(dir);
  if (!m) throw new Error(`cannot read a checkpoint id from the checkpoint directory ${dir}`);
  return Number(m[1]);
}

function verticesOf(graph: JobGraph): VertexInfo[] {
  const idOf = (vertex: number): string => graph.vertices[vertex]!.nodes[0]!.operatorId;
  return graph.vertices.map((v) => ({
    id: idOf(v.index),
    index: v.index,
    name: v.name,
    parallelism: v.parallelism,
    maxParallelism: v.maxParallelism,
    inputs: v.inputs.map((e) => ({ id: idOf(graph.vertexOfNode[e.source.index]!), partitioner: e.partitioner.kind })),
  }));
}

// ---- the dispatcher ----------------------------------------------------------------------------

export class Dispatcher {
  readonly #slots: number;
  readonly #jobsDir: string;
  readonly #workers: WorkerGroupFactory | undefined;
  readonly #onJobEnded: ((jobId: string) => void) | undefined;
  readonly #config: Readonly<Record<string, string>>;
  readonly #log: (line: string) => void;
  /** Every job ever started here, in submission order. */
  readonly #jobs = new Map<string, JobRecord>();
  /** Submissions run one after another; this is the tail of the queue. */
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;

  constructor(o: DispatcherOptions) {
    if (!Number.isInteger(o.slots) || o.slots < 1) throw new RangeError(`slots must be a positive integer, got ${o.slots}`);
    this.#slots = o.slots;
    this.#jobsDir = resolve(o.jobsDir);
    this.#workers = o.workers;
    this.#onJobEnded = o.onJobEnded;
    this.#config = { ...o.config };
    validateConfig(this.#config, 'cluster configuration');
    this.#log = o.log ?? (() => {});
  }

  /** Slots of the cluster. */
  get slots(): number {
    return this.#slots;
  }

  /** Slots not held by a job that is still running (or still stopping its threads). */
  get freeSlots(): number {
    let used = 0;
    for (const r of this.#jobs.values()) if (!r.released) used += r.slots;
    return this.#slots - used;
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
    const dir = join(this.#jobsDir, hex32());
    let path: string;
    try {
      path = fileURLToPath(storeJobModule(dir, s.jobModule.fileName, s.jobModule.source));
    } catch (e) {
      await rm(dir, { recursive: true, force: true }).catch(() => {});
      throw new Error(`cannot write the job module to ${dir}: ${message(e)}`, { cause: e });
    }
    try {
      const record = await this.#launch(s, path, dir);
      return record.job.jobId;
    } catch (e) {
      await rm(dir, { recursive: true, force: true }).catch(() => {});
      if (e instanceof SubmissionError || e instanceof DispatcherShutDownError) throw e;
      throw new SubmissionError(`${s.jobModule.fileName}: ${message(e)}`, { cause: e });
    }
  }

  /** Imports the module with the dispatcher's executor in place; resolves with the started job. */
  #launch(s: JobSubmission, path: string, dir: string): Promise<JobRecord> {
    const overrides: Record<string, unknown> = { ...this.#config, ...s.config };
    if (s.parallelism !== undefined) overrides['parallelism.default'] = s.parallelism;
    if (s.savepointPath !== undefined) overrides['execution.savepoint.path'] = s.savepointPath;
    if (s.allowNonRestoredState !== undefined) overrides['execution.savepoint.ignore-unclaimed-state'] = s.allowNonRestoredState;
    if (isConfigKey('weir.execution.mode')) overrides['weir.execution.mode'] = 'threads';
    const url = pathToFileURL(path).href;

    let started!: (r: JobRecord) => void;
    let failed!: (e: unknown) => void;
    const outcome = new Promise<JobRecord>((res, rej) => {
      started = res;
      failed = rej;
    });
    let claimed = false;
    const executor: PipelineExecutor = {
      execute: async (pipeline: Pipeline): Promise<JobClient> => {
        if (claimed) throw new Error('only the first env.execute() of a job module submitted to a cluster becomes a cluster job');
        claimed = true;
        try {
          const record = await this.#start(pipeline, dir);
          started(record);
          return record.client;
        } catch (e) {
          failed(e);
          throw e;
        }
      },
    };

    const registry = executionRegistry();
    const saved = { executor: registry.executor, executeCalls: registry.executeCalls };
    // Ordinal 0 for the module's first execute(): workers pick the call with the launcher's ordinal.
    registry.executeCalls = 0;
    registry.executor = executor;
    const restoreLaunch = setLaunchContext({ jobModule: url, jobPath: path, args: s.programArgs ?? [], overrides });
    // The import stays pending while the job runs (the module awaits execute()); a rejection
    // after the job started is the job's own end, reported through the job, not here.
    import(url).then(
      () => failed(new SubmissionError(`${s.jobModule.fileName} did not call env.execute(): a job module builds its pipeline and then awaits env.execute(name)`)),
      (e: unknown) => failed(e),
    );
    return outcome.finally(() => {
      registry.executor = saved.executor;
      registry.executeCalls = saved.executeCalls;
      restoreLaunch();
    });
  }

  /** Validates the pipeline, checks the slots and starts the job (the executor's work). */
  async #start(pipeline: Pipeline, dir: string): Promise<JobRecord> {
    // Threads mode even when the job's code asked for inline: inline tasks would run on the
    // thread that serves the cluster's API.
    if (pipeline.config.get('weir.execution.mode') !== 'threads') pipeline.config.set('weir.execution.mode', 'threads');
    const graph = prepareJobGraph(pipeline);
    const needed = slotCount(graph);
    const free = this.freeSlots;
    if (needed > free) throw new InsufficientSlotsError(needed, free, this.#slots);
    const job = new LocalJob(pipeline, graph, this.#workers === undefined ? { log: this.#log } : { workers: this.#workers, log: this.#log });
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
      operations: new Map(),
    };
    this.#observe(record);
    this.#jobs.set(job.jobId, record);
    this.#log(`job ${job.jobId} "${pipeline.jobName}" submitted (${needed} slot${needed === 1 ? '' : 's'}, ${this.freeSlots} free)`);
    record.done = record.client.getJobExecutionResult().then(
      () => this.#ended(record),
      (e: unknown) => this.#ended(record, asError(e)),
    );
    return record;
  }

  /** The job's result settled: it is terminal and its threads are gone. */
  async #ended(record: JobRecord, error?: Error): Promise<void> {
    const job = record.job;
    if (job.status === 'FAILED' && error) record.failure = { error, timestamp: job.endTime ?? Date.now() };
    record.released = true;
    this.#observe(record);
    const name = `job ${job.jobId} "${job.pipeline.jobName}"`;
    if (job.status === 'FAILED') this.#log(`${name} failed: ${error?.message ?? 'unknown cause'}`);
    else this.#log(`${name} ${job.status === 'CANCELED' ? 'was cancelled' : 'finished'}`);
    this.#onJobEnded?.(job.jobId);
    await rm(record.dir, { recursive: true, force: true }).catch(() => {});
  }

  /**
   * The status clients see. A LocalJob turns terminal before its threads are gone and before its
   * result (with a failure's cause) is out; until then the dispatcher reports FAILING or
   * CANCELLING (Flink's statuses for that phase), or RUNNING for a job whose tasks are finishing.
   * So a client that sees a terminal status also finds the failure cause, and the job's slots
   * are free.
   */
  #status(record: JobRecord): JobStatus {
    const status = record.job.status;
    if (record.released || !TERMINAL_JOB_STATUSES.has(status)) return status;
    return status === 'FAILED' ? 'FAILING' : status === 'CANCELED' ? 'CANCELLING' : 'RUNNING';
  }

  /** Records when the job was first seen in its current status (terminal: when it entered it). */
  #observe(record: JobRecord): void {
    const status = this.#status(record);
    if (record.timestamps[status] === undefined) {
      record.timestamps[status] = TERMINAL_JOB_STATUSES.has(status) ? (record.job.endTime ?? Date.now()) : Date.now();
    }
  }

  // ---- queries ---------------------------------------------------------------------------------

  /** Every job started here, running and finished, in submission order. */
  jobs(): JobInfo[] {
    return [...this.#jobs.values()].map((r) => this.#info(r));
  }

  /** @throws UnknownJobError */
  job(id: string): JobInfo {
    return this.#info(this.#record(id));
  }

  /** Counts, summary, latest and history with Flink's fields; undefined when the job has no checkpointing. */
  async checkpointStats(id: string): Promise<CheckpointStatsSnapshot | undefined> {
    return this.#record(id).client.getCheckpointStats();
  }

  #record(id: string): JobRecord {
    const r = this.#jobs.get(id);
    if (!r) throw new UnknownJobError(id);
    return r;
  }

  #info(r: JobRecord): JobInfo {
    this.#observe(r);
    const job = r.job;
    return {
      id: job.jobId,
      name: job.pipeline.jobName,
      status: this.#status(r),
      startTime: job.startTime,
      endTime: r.released ? job.endTime : undefined,
      timestamps: { ...r.timestamps },
      slots: r.slots,
      vertices: r.vertices,
      failure: r.failure,
      config: job.pipeline.config.toObject(),
      numRestarts: job.numRestarts,
    };
  }

  // ---- control ---------------------------------------------------------------------------------

  /**
   * Cancels the job; resolves when its threads are gone. Cancelling a cancelled job is a no-op;
   * a finished or failed job cannot be cancelled (JobStateError), as in Flink.
   */
  async cancel(id: string): Promise<void> {
    const r = this.#record(id);
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
    return this.#track(r, 'savepoint', async () => {
      const location = await r.job.triggerSavepoint(o.targetDirectory);
      this.#log(`job ${id}: savepoint at ${location}`);
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
    return this.#track(r, 'savepoint', async () => {
      const location = await r.job.stopWithSavepoint(o.targetDirectory, o.drain ?? false);
      this.#log(`job ${id}: stopped with savepoint at ${location}${o.drain ? ' (drained)' : ''}`);
      return location;
    });
  }

  /** The outcome of a triggerSavepoint or stop: the savepoint's location, or why it failed. */
  savepointStatus(id: string, triggerId: string): OperationStatus<string> {
    return this.#operationStatus(id, triggerId, 'savepoint') as OperationStatus<string>;
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
    return this.#track(r, 'checkpoint', async () => checkpointIdOf(await r.job.triggerCheckpoint()));
  }

  /** The outcome of a triggerCheckpoint: the checkpoint id, or why it failed. */
  checkpointStatus(id: string, triggerId: string): OperationStatus<number> {
    return this.#operationStatus(id, triggerId, 'checkpoint') as OperationStatus<number>;
  }

  #running(id: string, what: string): JobRecord {
    const r = this.#record(id);
    const status = r.job.status;
    if (TERMINAL_JOB_STATUSES.has(status)) throw new JobStateError(`job ${id} is ${status}: ${what} needs a running job`, id, status);
    return r;
  }

  #track(r: JobRecord, kind: Operation['kind'], run: () => Promise<string | number>): string {
    const triggerId = hex32();
    const op: Operation = { kind, state: 'IN_PROGRESS' };
    r.operations.set(triggerId, op);
    run().then(
      (result) => {
        op.result = result;
        op.state = 'COMPLETED';
      },
      (e: unknown) => {
        op.failure = asError(e);
        op.state = 'COMPLETED';
        this.#log(`job ${r.job.jobId}: ${kind} ${triggerId} failed: ${message(e)}`);
      },
    );
    return triggerId;
  }

  #operationStatus(id: string, triggerId: string, kind: Operation['kind']): OperationStatus<string | number> {
    const op = this.#record(id).operations.get(triggerId);
    if (!op || op.kind !== kind) throw new UnknownTriggerError(id, triggerId, kind);
    if (op.state === 'IN_PROGRESS') return { status: 'IN_PROGRESS' };
    return op.failure ? { status: 'COMPLETED', failure: op.failure } : { status: 'COMPLETED', result: op.result! };
  }

  /**
   * Takes no more submissions, waits for the one under way, cancels every job that is not
   * terminal and resolves when all their threads are gone and their directories removed.
   */
  async shutdown(): Promise<void> {
    this.#closed = true;
    await this.#queue;
    const records = [...this.#jobs.values()];
    await Promise.allSettled(records.map((r) => (TERMINAL_JOB_STATUSES.has(r.job.status) ? undefined : r.job.cancel())));
    await Promise.allSettled(records.map((r) => r.done));
  }
}
