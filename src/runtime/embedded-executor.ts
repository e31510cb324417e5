/**
 * Runs jobs inside the current process: the embedded default. In 'threads' mode each slot is a
 * worker thread (real parallelism); in 'inline' mode one slot on the calling thread hosts every
 * subtask through the same task and channel code, which makes runs deterministic for tests.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import { validateCheckpointing } from '../api/checkpoint-config.ts';
import { executionRegistry, type Pipeline, type PipelineExecutor } from '../api/execution-context.ts';
import { JobExecutionError, type JobClient, type JobExecutionResult, type JobStatus } from '../api/job-client.ts';
import { buildJobGraph, type JobGraph } from '../graph/job-graph.ts';
import { deserializeError, rootCause } from './error-transport.ts';
import { planChannels, slotCount } from './deployment.ts';
import { rebuildPipeline } from './pipeline-rebuild.ts';
import { decodeValue } from './record-codec.ts';
import { Slot } from './slot.ts';
import { systemScheduler } from './time.ts';
import type { FromWorker, ToWorker, WorkerData } from './worker/protocol.ts';

const BOOTSTRAP = new URL('./worker/worker-bootstrap.mjs', import.meta.url);

/** The result of a finished job; `collected` holds executeAndCollect() output by collect id. */
export interface LocalJobResult extends JobExecutionResult {
  readonly collected: Map<string, unknown[]>;
}

function resolveJobModule(): string {
  const registry = executionRegistry();
  const candidate = registry.jobModule ?? process.argv[1];
  if (!candidate) {
    throw new Error('threads mode needs the job as a module file: run it with `weir run job.ts`, or use inline mode (env.setExecutionMode("inline"))');
  }
  if (candidate.startsWith('file:')) return candidate;
  const path = resolve(candidate);
  if (!existsSync(path)) throw new Error(`the job module ${path} does not exist`);
  if (/\.test\.[cm]?[jt]s$/.test(path)) {
    throw new Error(
      `threads mode re-imports the job module in every worker, and ${path} is a test file: put the job in its own module and run it with runJob() from weir/testing, or use inline mode`,
    );
  }
  return pathToFileURL(path).href;
}

class LocalJob {
  readonly jobId = randomBytes(16).toString('hex');
  #status: JobStatus = 'INITIALIZING';
  readonly #start = Date.now();
  readonly #collected = new Map<string, unknown[]>();
  readonly #result: Promise<LocalJobResult>;
  #resolve!: (r: LocalJobResult) => void;
  #reject!: (e: Error) => void;
  #workers: Worker[] = [];
  #slot: Slot | undefined;
  #finishedSlots = 0;
  #slots = 0;

  constructor(
    readonly pipeline: Pipeline,
    readonly graph: JobGraph,
  ) {
    this.#result = new Promise<LocalJobResult>((res, rej) => {
      this.#resolve = res;
      this.#reject = rej;
    });
    this.#result.catch(() => {});
  }

  get status(): JobStatus {
    return this.#status;
  }

  #terminal(): boolean {
    return this.#status === 'FINISHED' || this.#status === 'FAILED' || this.#status === 'CANCELED';
  }

  #collect(id: string, values: unknown[]): void {
    const list = this.#collected.get(id);
    if (list) for (const v of values) list.push(v);
    else this.#collected.set(id, values.slice());
  }

  #print(text: string, stderr: boolean): void {
    (stderr ? process.stderr : process.stdout).write(text);
  }

  #slotFinished(): void {
    if (++this.#finishedSlots < this.#slots || this.#terminal()) return;
    this.#status = 'FINISHED';
    const netRuntime = Date.now() - this.#start;
    const jobId = this.jobId;
    const result: LocalJobResult = {
      jobId,
      jobName: this.pipeline.jobName,
      netRuntime,
      collected: this.#collected,
      getJobID: () => jobId,
      getNetRuntime: () => netRuntime,
    };
    // The result is reported once the worker threads are gone, so a next job never overlaps them.
    void this.#release().then(() => this.#resolve(result));
  }

  #failed(error: Error, task: string): void {
    if (this.#terminal()) return;
    this.#status = 'FAILED';
    void this.#release();
    const root = rootCause(error);
    this.#reject(
      new JobExecutionError(`Job "${this.pipeline.jobName}" (${this.jobId}) failed: ${task}: ${root.message}`, this.jobId, 'FAILED', { cause: error }),
    );
  }

  async #release(): Promise<void> {
    const workers = this.#workers;
    this.#workers = [];
    await Promise.all(workers.map((w) => w.terminate()));
  }

  async start(): Promise<void> {
    if (this.pipeline.config.get('weir.execution.mode') === 'inline') await this.#startInline();
    else await this.#startThreads();
  }

  async #startInline(): Promise<void> {
    this.#slots = 1;
    const jobModule = executionRegistry().jobModule;
    const graphs: JobGraph[] = [this.graph];
    if (jobModule !== undefined) {
      try {
        const sep = jobModule.includes('?') ? '&' : '?';
        for (let i = 1; i < slotCount(this.graph); i++) {
          const copy = await rebuildPipeline(`${jobModule}${sep}weir-slot=${i}`, { ordinal: this.pipeline.ordinal, ...this.graph }, `inline slot ${i}`);
          graphs.push(copy.graph);
        }
      } catch (e) {
        this.#failed(e instanceof Error ? e : new Error(String(e)), 'deployment');
        return;
      }
    }
    const slot = new Slot({
      jobId: this.jobId,
      graph: this.graph,
      graphFor: (i) => graphs[i],
      config: this.pipeline.config,
      scheduler: systemScheduler,
      attemptNumber: 0,
      hosts: () => true,
      ports: new Map(),
      reporter: {
        print: (t, e) => this.#print(t, e),
        collect: (id, v) => this.#collect(id, v),
        finished: () => this.#slotFinished(),
        failed: (e, task) => this.#failed(e, task),
      },
    });
    this.#slot = slot;
    try {
      await slot.deploy();
    } catch (e) {
      this.#failed(e instanceof Error ? e : new Error(String(e)), 'deployment');
      return;
    }
    this.#status = 'RUNNING';
    slot.start();
  }

  async #startThreads(): Promise<void> {
    const jobModule = resolveJobModule();
    const registry = executionRegistry();
    const n = slotCount(this.graph);
    this.#slots = n;
    const ports: Record<string, MessagePort>[] = Array.from({ length: n }, () => ({}));
    for (const spec of planChannels(this.graph)) {
      if (spec.producer === spec.consumer) continue;
      const { port1, port2 } = new MessageChannel();
      ports[spec.producer]![spec.id] = port1;
      ports[spec.consumer]![spec.id] = port2;
    }
    let ready = 0;
    const allReady = new Promise<void>((resolveReady) => {
      for (let slot = 0; slot < n; slot++) {
        const data: WorkerData = {
          jobId: this.jobId,
          jobModule,
          ordinal: this.pipeline.ordinal,
          slot,
          fingerprint: this.graph.fingerprint,
          description: this.graph.description,
          overrides: registry.overrides,
          ports: ports[slot]!,
        };
        const worker = new Worker(fileURLToPath(BOOTSTRAP), {
          workerData: data,
          transferList: Object.values(ports[slot]!),
          argv: registry.jobArgs ?? process.argv.slice(2),
        });
        this.#workers.push(worker);
        worker.on('message', (m: FromWorker) => {
          switch (m.type) {
            case 'ready':
              if (++ready === n) resolveReady();
              break;
            case 'print':
              this.#print(m.text, m.stderr);
              break;
            case 'collect':
              this.#collect(m.collectId, decodeValue(m.bytes) as unknown[]);
              break;
            case 'finished':
              this.#slotFinished();
              break;
            case 'canceled':
              break;
            case 'failed':
              this.#failed(deserializeError(m.error), m.task);
              resolveReady();
              break;
          }
        });
        worker.on('error', (e) => {
          this.#failed(e, `worker ${slot}`);
          resolveReady();
        });
        worker.on('exit', (code) => {
          if (!this.#terminal()) {
            this.#failed(new Error(`worker thread of slot ${slot} exited unexpectedly with code ${code}`), `slot ${slot}`);
            resolveReady();
          }
        });
      }
    });
    await allReady;
    if (this.#terminal()) return;
    this.#status = 'RUNNING';
    for (const w of this.#workers) w.postMessage({ type: 'start' } satisfies ToWorker);
  }

  async cancel(): Promise<void> {
    if (this.#terminal()) return;
    this.#status = 'CANCELLING';
    if (this.#slot) await this.#slot.cancel();
    for (const w of this.#workers) w.postMessage({ type: 'cancel' } satisfies ToWorker);
    // Give sources a moment to observe cancel(); the threads are stopped either way.
    await new Promise((r) => setTimeout(r, 20));
    this.#status = 'CANCELED';
    await this.#release();
    this.#reject(new JobExecutionError(`Job "${this.pipeline.jobName}" (${this.jobId}) was cancelled`, this.jobId, 'CANCELED'));
  }

  client(): JobClient {
    return {
      getJobID: () => this.jobId,
      getJobStatus: async () => this.#status,
      cancel: () => this.cancel(),
      getJobExecutionResult: () => this.#result,
    };
  }
}

let warnedCheckpointing = false;

export class EmbeddedExecutor implements PipelineExecutor {
  async execute(pipeline: Pipeline): Promise<JobClient> {
    validateCheckpointing(pipeline.config);
    if (pipeline.config.get('execution.checkpointing.interval') !== undefined && !warnedCheckpointing) {
      warnedCheckpointing = true;
      process.stderr.write('weir: checkpointing is configured, but this version does not take checkpoints yet: the job runs without them\n');
    }
    const graph = buildJobGraph(pipeline);
    const job = new LocalJob(pipeline, graph);
    await job.start();
    return job.client();
  }
}
