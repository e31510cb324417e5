/**
 * A typed client of a weir cluster's REST API (rest-server.ts, docs/rest.md): one method per
 * route, plus waiting helpers that poll an asynchronous operation or a job until it is done.
 * Uses the global fetch and imports nothing of the engine, so a CLI can load it cheaply.
 *
 * Failures: NoClusterError when nothing accepts the connection at the address; RestError, with
 * the server's message and the HTTP status, when the cluster answered with an error;
 * OperationFailedError when a savepoint, stop or checkpoint ran and failed.
 */
import type {
  AggregatedMetric,
  AsynchronousOperationResult,
  ClusterOverview,
  ConfigurationEntry,
  JobConfigInfo,
  JobVertexBackPressureInfo,
  JobVertexDetailsInfo,
  MetricEntry,
  SubtasksTimesInfo,
  TaskManagerDetailsInfo,
  TaskManagersInfo,
  CheckpointConfigInfo,
  CheckpointInfo,
  CheckpointingStatistics,
  CheckpointStatistics,
  CheckpointTriggerRequest,
  DashboardConfiguration,
  FailureCause,
  JobDetailsInfo,
  JobExceptionsInfo,
  JobIdsWithStatusOverview,
  JobStatus,
  JobSubmission,
  JobSubmitResponse,
  MultipleJobsDetails,
  SavepointInfo,
  TaskCheckpointStatisticsWithSubtaskDetails,
  TriggerResponse,
} from './rest-types.ts';

/** Nothing answers at the address: no cluster runs there, or it is not reachable. */
export class NoClusterError extends Error {
  override readonly name = 'NoClusterError';
  constructor(
    readonly address: string,
    readonly code: string,
    options?: { cause?: unknown },
  ) {
    super(`no weir cluster at ${address} (${code})`, options);
  }
}

/** The cluster answered a request with an error status; `message` is the server's. */
export class RestError extends Error {
  override readonly name = 'RestError';
  constructor(
    message: string,
    readonly status: number,
    /** The server's `errors` array. */
    readonly errors: readonly string[],
    /** e.g. `GET /jobs/<id>`. */
    readonly request: string,
  ) {
    super(message);
  }
}

/** A savepoint, stop-with-savepoint or checkpoint ran and failed on the cluster. */
export class OperationFailedError extends Error {
  override readonly name = 'OperationFailedError';
  constructor(
    message: string,
    readonly failureCause: FailureCause,
  ) {
    super(message);
  }
}

/** How a job ended, as awaitJobEnd reports it. */
export interface JobEnd {
  readonly jobId: string;
  readonly state: 'FINISHED' | 'FAILED' | 'CANCELED';
  readonly startTime: number;
  readonly endTime: number;
  /** From submission to the end, ms. */
  readonly duration: number;
  /** Why a FAILED job failed, one line (the message of its root exception); undefined otherwise. */
  readonly rootException: string | undefined;
  /** The full root exception with causes and stacks; undefined unless FAILED. */
  readonly failure: string | undefined;
}

/** Codes of a connection that could not be made: nothing is there to talk to. */
const NO_CONNECTION = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ETIMEDOUT', 'UND_ERR_CONNECT_TIMEOUT', 'EADDRNOTAVAIL']);

const TERMINAL = new Set<JobStatus>(['FINISHED', 'FAILED', 'CANCELED']);

/** `http(s)://host:port[/]`, `host:port`, `host` or `:port` as a base URL without a trailing slash; port 8081 by default. */
export function normalizeRestAddress(address: string): string {
  const v = address.trim();
  if (/^https?:\/\//i.test(v)) return v.replace(/\/+$/, '');
  const m = /^(\[[^\]]+\]|[^:/[\]]*)(?::(\d+))?$/.exec(v);
  if (!m) throw new Error(`not a cluster address (host:port or http://host:port): ${JSON.stringify(address)}`);
  return `http://${m[1] || '127.0.0.1'}:${m[2] ?? '8081'}`;
}

/** The code of a failed fetch's underlying error (undici wraps it, sometimes in an AggregateError). */
function connectionCode(e: unknown): string | undefined {
  const cause = (e as { cause?: unknown } | undefined)?.cause as { code?: unknown; errors?: { code?: unknown }[] } | undefined;
  if (typeof cause?.code === 'string') return cause.code;
  const inner = cause?.errors?.find((x) => typeof x?.code === 'string')?.code;
  return typeof inner === 'string' ? inner : undefined;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const seg = (s: string | number): string => encodeURIComponent(String(s));

/** `?get=a,b` for the metric routes; nothing without names. */
const getQuery = (get: readonly string[] | undefined): string => (get === undefined ? '' : `?get=${get.map(encodeURIComponent).join(',')}`);

export class RestClient {
  /** The base URL, e.g. `http://127.0.0.1:8081`. */
  readonly address: string;

  constructor(address: string) {
    this.address = normalizeRestAddress(address);
  }

  // ---- cluster ----------------------------------------------------------------------------------

  /** GET /config: version, revision and time zone of the cluster. */
  config(): Promise<DashboardConfiguration> {
    return this.#request('GET', '/config');
  }

  /** GET /overview: slots, TaskManagers and jobs by status. */
  overview(): Promise<ClusterOverview> {
    return this.#request('GET', '/overview');
  }

  /** GET /jobmanager/config: the cluster's configuration as {key, value} strings. */
  jobManagerConfig(): Promise<ConfigurationEntry[]> {
    return this.#request('GET', '/jobmanager/config');
  }

  /** GET /jobmanager/metrics: the JobManager process's metric ids, or with `get` their values. */
  jobManagerMetrics(get?: readonly string[]): Promise<MetricEntry[]> {
    return this.#request('GET', `/jobmanager/metrics${getQuery(get)}`);
  }

  /** GET /taskmanagers */
  taskManagers(): Promise<TaskManagersInfo> {
    return this.#request('GET', '/taskmanagers');
  }

  /** GET /taskmanagers/:taskmanagerid */
  taskManager(taskManagerId: string): Promise<TaskManagerDetailsInfo> {
    return this.#request('GET', `/taskmanagers/${seg(taskManagerId)}`);
  }

  /** GET /taskmanagers/:taskmanagerid/metrics: metric ids, or with `get` their values. */
  taskManagerMetrics(taskManagerId: string, get?: readonly string[]): Promise<MetricEntry[]> {
    return this.#request('GET', `/taskmanagers/${seg(taskManagerId)}/metrics${getQuery(get)}`);
  }

  /** GET /metrics: every metric of the cluster in Prometheus's text format. */
  async prometheusMetrics(): Promise<string> {
    return this.#request<string>('GET', '/metrics', undefined, true);
  }

  // ---- jobs -------------------------------------------------------------------------------------

  /** GET /jobs: every job's id and status. */
  jobs(): Promise<JobIdsWithStatusOverview> {
    return this.#request('GET', '/jobs');
  }

  /** GET /jobs/overview: every job with name, times and vertex counts by state. */
  jobsOverview(): Promise<MultipleJobsDetails> {
    return this.#request('GET', '/jobs/overview');
  }

  /** POST /jobs: submits a job module; resolves with the job id once the job runs. */
  async submitJob(submission: JobSubmission): Promise<string> {
    return (await this.#request<JobSubmitResponse>('POST', '/jobs', submission)).jobid;
  }

  /** GET /jobs/:jobid */
  jobDetails(jobId: string): Promise<JobDetailsInfo> {
    return this.#request('GET', `/jobs/${seg(jobId)}`);
  }

  /** PATCH /jobs/:jobid?mode=cancel: resolves once the job is cancelled. */
  async cancelJob(jobId: string): Promise<void> {
    await this.#request('PATCH', `/jobs/${seg(jobId)}?mode=cancel`);
  }

  /** GET /jobs/:jobid/config */
  jobConfig(jobId: string): Promise<JobConfigInfo> {
    return this.#request('GET', `/jobs/${seg(jobId)}/config`);
  }

  /** GET /jobs/:jobid/metrics: the job's metric ids (uptime, numRestarts, …), or with `get` their values as strings. */
  jobMetrics(jobId: string, get?: readonly string[]): Promise<MetricEntry[]> {
    return this.#request('GET', `/jobs/${seg(jobId)}/metrics${getQuery(get)}`);
  }

  /** GET /jobs/:jobid/vertices/:vertexid: the vertex with its subtasks' I/O figures. */
  vertexDetails(jobId: string, vertexId: string): Promise<JobVertexDetailsInfo> {
    return this.#request('GET', `/jobs/${seg(jobId)}/vertices/${seg(vertexId)}`);
  }

  /** GET /jobs/:jobid/vertices/:vertexid/backpressure */
  vertexBackPressure(jobId: string, vertexId: string): Promise<JobVertexBackPressureInfo> {
    return this.#request('GET', `/jobs/${seg(jobId)}/vertices/${seg(vertexId)}/backpressure`);
  }

  /** GET /jobs/:jobid/vertices/:vertexid/metrics: ids `<subtask>.<metric>` (`<subtask>.<operator>.<metric>`), or with `get` their values. */
  vertexMetrics(jobId: string, vertexId: string, get?: readonly string[]): Promise<MetricEntry[]> {
    return this.#request('GET', `/jobs/${seg(jobId)}/vertices/${seg(vertexId)}/metrics${getQuery(get)}`);
  }

  /**
   * GET /jobs/:jobid/vertices/:vertexid/subtasks/metrics: without `get` the ids available; with
   * it each metric's aggregates over the subtasks (`agg`: min, max, avg, sum; all by default),
   * over the `subtasks` given (e.g. "0-2,4"; all by default).
   */
  subtasksMetrics(
    jobId: string,
    vertexId: string,
    o: { get?: readonly string[]; agg?: readonly ('min' | 'max' | 'avg' | 'sum')[]; subtasks?: string } = {},
  ): Promise<MetricEntry[] | AggregatedMetric[]> {
    const q = new URLSearchParams();
    if (o.get !== undefined) q.set('get', o.get.join(','));
    if (o.agg !== undefined) q.set('agg', o.agg.join(','));
    if (o.subtasks !== undefined) q.set('subtasks', o.subtasks);
    const query = q.toString();
    return this.#request('GET', `/jobs/${seg(jobId)}/vertices/${seg(vertexId)}/subtasks/metrics${query === '' ? '' : `?${query}`}`);
  }

  /** GET /jobs/:jobid/vertices/:vertexid/subtasks/:subtaskindex/metrics */
  subtaskMetrics(jobId: string, vertexId: string, subtask: number, get?: readonly string[]): Promise<MetricEntry[]> {
    return this.#request('GET', `/jobs/${seg(jobId)}/vertices/${seg(vertexId)}/subtasks/${subtask}/metrics${getQuery(get)}`);
  }

  /** GET /jobs/:jobid/vertices/:vertexid/watermarks: `<subtask>.currentInputWatermark` per subtask that reported, as strings. */
  vertexWatermarks(jobId: string, vertexId: string): Promise<MetricEntry[]> {
    return this.#request('GET', `/jobs/${seg(jobId)}/vertices/${seg(vertexId)}/watermarks`);
  }

  /** GET /jobs/:jobid/vertices/:vertexid/subtasktimes */
  subtaskTimes(jobId: string, vertexId: string): Promise<SubtasksTimesInfo> {
    return this.#request('GET', `/jobs/${seg(jobId)}/vertices/${seg(vertexId)}/subtasktimes`);
  }

  /** GET /jobs/:jobid/exceptions */
  jobExceptions(jobId: string): Promise<JobExceptionsInfo> {
    return this.#request('GET', `/jobs/${seg(jobId)}/exceptions`);
  }

  // ---- savepoints -------------------------------------------------------------------------------

  /** POST /jobs/:jobid/savepoints: starts a savepoint (and a cancellation after it); resolves with the trigger id. */
  async triggerSavepoint(jobId: string, o: { targetDirectory?: string; cancelJob?: boolean } = {}): Promise<string> {
    const body = { ...(o.targetDirectory !== undefined ? { 'target-directory': o.targetDirectory } : {}), 'cancel-job': o.cancelJob ?? false };
    return (await this.#request<TriggerResponse>('POST', `/jobs/${seg(jobId)}/savepoints`, body))['request-id'];
  }

  /** POST /jobs/:jobid/stop: starts a stop-with-savepoint; resolves with the trigger id (poll it as a savepoint). */
  async stopJob(jobId: string, o: { targetDirectory?: string; drain?: boolean } = {}): Promise<string> {
    const body = { ...(o.targetDirectory !== undefined ? { targetDirectory: o.targetDirectory } : {}), drain: o.drain ?? false };
    return (await this.#request<TriggerResponse>('POST', `/jobs/${seg(jobId)}/stop`, body))['request-id'];
  }

  /** GET /jobs/:jobid/savepoints/:triggerid */
  savepointStatus(jobId: string, triggerId: string): Promise<SavepointInfo> {
    return this.#request('GET', `/jobs/${seg(jobId)}/savepoints/${seg(triggerId)}`);
  }

  /**
   * Polls a savepoint or stop until it completed; resolves with the savepoint's location, rejects
   * with an OperationFailedError when it failed. `onProgress` gets the time waited so far.
   */
  async awaitSavepoint(jobId: string, triggerId: string, onProgress?: (elapsedMs: number) => void): Promise<string> {
    const op = await this.#awaitOperation(() => this.savepointStatus(jobId, triggerId), onProgress);
    return this.#outcome(op, `savepoint ${triggerId} of job ${jobId}`).location;
  }

  // ---- checkpoints ------------------------------------------------------------------------------

  /** POST /jobs/:jobid/checkpoints: starts a checkpoint; resolves with the trigger id. */
  async triggerCheckpoint(jobId: string, o: CheckpointTriggerRequest = {}): Promise<string> {
    return (await this.#request<TriggerResponse>('POST', `/jobs/${seg(jobId)}/checkpoints`, o))['request-id'];
  }

  /** GET /jobs/:jobid/checkpoints/:triggerid */
  checkpointStatus(jobId: string, triggerId: string): Promise<CheckpointInfo> {
    return this.#request('GET', `/jobs/${seg(jobId)}/checkpoints/${seg(triggerId)}`);
  }

  /** Polls a checkpoint until it completed; resolves with its id, rejects with an OperationFailedError when it failed. */
  async awaitCheckpoint(jobId: string, triggerId: string, onProgress?: (elapsedMs: number) => void): Promise<number> {
    const op = await this.#awaitOperation(() => this.checkpointStatus(jobId, triggerId), onProgress);
    return this.#outcome(op, `checkpoint ${triggerId} of job ${jobId}`).checkpointId;
  }

  /** GET /jobs/:jobid/checkpoints: counts, summary, latest and history. */
  checkpoints(jobId: string): Promise<CheckpointingStatistics> {
    return this.#request('GET', `/jobs/${seg(jobId)}/checkpoints`);
  }

  /** GET /jobs/:jobid/checkpoints/config (404 when the job has no checkpointing). */
  checkpointConfig(jobId: string): Promise<CheckpointConfigInfo> {
    return this.#request('GET', `/jobs/${seg(jobId)}/checkpoints/config`);
  }

  /** GET /jobs/:jobid/checkpoints/details/:checkpointid: one checkpoint with its vertices. */
  checkpointDetails(jobId: string, checkpointId: number): Promise<CheckpointStatistics> {
    return this.#request('GET', `/jobs/${seg(jobId)}/checkpoints/details/${seg(checkpointId)}`);
  }

  /** GET /jobs/:jobid/checkpoints/details/:checkpointid/subtasks/:vertexid */
  checkpointSubtasks(jobId: string, checkpointId: number, vertexId: string): Promise<TaskCheckpointStatisticsWithSubtaskDetails> {
    return this.#request('GET', `/jobs/${seg(jobId)}/checkpoints/details/${seg(checkpointId)}/subtasks/${seg(vertexId)}`);
  }

  // ---- waiting ----------------------------------------------------------------------------------

  /** Polls the job until it is FINISHED, FAILED or CANCELED; a failed job's root exception comes with it. */
  async awaitJobEnd(jobId: string, o: { pollMs?: number } = {}): Promise<JobEnd> {
    const pollMs = o.pollMs ?? 200;
    for (;;) {
      const d = await this.jobDetails(jobId);
      if (TERMINAL.has(d.state)) {
        let rootException: string | undefined;
        let failure: string | undefined;
        if (d.state === 'FAILED') {
          const x = await this.jobExceptions(jobId);
          failure = x['root-exception'] ?? undefined;
          const first = failure?.split('\n')[0];
          const name = x.exceptionHistory.entries[0]?.exceptionName;
          rootException = first !== undefined && name !== undefined && first.startsWith(`${name}: `) ? first.slice(name.length + 2) : first;
        }
        return {
          jobId,
          state: d.state as JobEnd['state'],
          startTime: d['start-time'],
          endTime: d['end-time'],
          duration: d.duration,
          rootException,
          failure,
        };
      }
      await sleep(pollMs);
    }
  }

  async #awaitOperation<T>(poll: () => Promise<AsynchronousOperationResult<T>>, onProgress?: (elapsedMs: number) => void): Promise<AsynchronousOperationResult<T>> {
    const start = Date.now();
    // Short first waits (a checkpoint of a small job takes tens of ms), then at most 1 s.
    for (let wait = 25; ; wait = Math.min(1000, wait * 1.5)) {
      const r = await poll();
      if (r.status.id === 'COMPLETED') return r;
      onProgress?.(Date.now() - start);
      await sleep(wait);
    }
  }

  #outcome<T>(r: AsynchronousOperationResult<T>, what: string): T {
    const op = r.operation;
    if (op === undefined) throw new Error(`${what} completed without a result`);
    if (typeof op === 'object' && op !== null && 'failure-cause' in op) {
      const cause = op['failure-cause'];
      throw new OperationFailedError(`${what} failed: ${cause['stack-trace'].split('\n')[0]}`, cause);
    }
    return op;
  }

  // ---- transport --------------------------------------------------------------------------------

  /** `plain`: the answer is text (not JSON), returned as it is. */
  async #request<T>(method: string, path: string, body?: unknown, plain = false): Promise<T> {
    const request = `${method} ${path}`;
    let res: Response;
    try {
      res = await fetch(this.address + path, {
        method,
        ...(body !== undefined ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}),
      });
    } catch (e) {
      const code = connectionCode(e);
      if (code !== undefined && NO_CONNECTION.has(code)) throw new NoClusterError(this.address, code, { cause: e });
      throw new Error(`${request} to ${this.address} failed: ${code ?? (e instanceof Error ? e.message : String(e))}`, { cause: e });
    }
    const text = await res.text();
    if (plain && res.ok) return text as T;
    let json: unknown;
    try {
      json = text === '' ? undefined : JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (!res.ok) {
      const errors = (json as { errors?: unknown } | undefined)?.errors;
      const list = Array.isArray(errors) && errors.every((x) => typeof x === 'string') ? (errors as string[]) : [text.trim() || res.statusText];
      throw new RestError(list.join('; '), res.status, list, request);
    }
    if (json === undefined) throw new Error(`${request} to ${this.address}: the answer is not JSON (is this a weir cluster?)`);
    return json as T;
  }
}
