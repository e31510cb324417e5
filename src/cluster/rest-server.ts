/**
 * The cluster's REST API over a Dispatcher, with the resources, field names and status codes of
 * Flink's REST API (docs/rest.md lists every route). node:http only; JSON in and out.
 *
 * Errors are Flink's shape, `{"errors": [message]}` with the status: 404 for an unknown job,
 * trigger, checkpoint, vertex or route; 400 for a body that is not JSON or has a bad field
 * (the message names the field, and for JSON the position); 405 for a route that exists with
 * another method; 409 when the job's status forbids the request (a savepoint of a finished job)
 * or the cluster lacks free slots; 413 for a body over 64 MiB; 503 once the dispatcher is shut
 * down; 500 otherwise (the stack goes to the server's log).
 *
 * It listens on the loopback interface unless told otherwise: the API runs arbitrary job code
 * on this machine for anyone who can reach it, and it has no authentication.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { JobStatus } from '../api/job-client.ts';
import type { CheckpointStatsEntry, CheckpointStatsSnapshot } from '../checkpoint/checkpoint-stats.ts';
import {
  DispatcherShutDownError,
  InsufficientSlotsError,
  JobStateError,
  SubmissionError,
  UnknownJobError,
  UnknownTriggerError,
  type Dispatcher,
  type JobInfo,
  type OperationStatus,
  type VertexInfo,
} from './dispatcher.ts';
import {
  EXECUTION_STATES,
  type AsynchronousOperationResult,
  type CheckpointConfigInfo,
  type CheckpointingStatistics,
  type CheckpointStatistics,
  type DashboardConfiguration,
  type ExecutionState,
  type FailureCause,
  type JobDetailsInfo,
  type JobDetailsOverview,
  type JobExceptionsInfo,
  type JobTaskCounts,
  type MinMaxAvgStatistics,
  type TaskCheckpointStatistics,
  type TaskCheckpointStatisticsWithSubtaskDetails,
} from './rest-types.ts';

export interface RestServerOptions {
  /** Interface to listen on; the loopback interface by default. */
  readonly host?: string;
  /** 0 picks a free port; 8081 (Flink's) by default. */
  readonly port?: number;
  /** Where unexpected (500) errors are reported with their stacks. */
  readonly log?: (line: string) => void;
}

export interface RestServer {
  /** The port it listens on (the one picked when 0 was asked for). */
  readonly port: number;
  /** Stops listening and ends open connections; resolves when the server is closed. */
  close(): Promise<void>;
}

/** The largest request body taken (a bundled job module travels in POST /jobs). */
const MAX_BODY_BYTES = 64 * 1024 * 1024;

const ALL_JOB_STATUSES: readonly JobStatus[] = ['INITIALIZING', 'CREATED', 'RUNNING', 'FAILING', 'FAILED', 'CANCELLING', 'CANCELED', 'FINISHED', 'RESTARTING'];

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

// ---- what the server says about itself -----------------------------------------------------------

const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

function weirVersion(): string {
  try {
    return String((JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version?: unknown }).version ?? 'unknown');
  } catch {
    return 'unknown';
  }
}

/** The commit the package's git checkout is at, read from its files (no git process); "unknown" without one. */
function gitRevision(): string {
  try {
    let gitDir = join(PACKAGE_ROOT, '.git');
    if (!existsSync(gitDir)) return 'unknown';
    if (statSync(gitDir).isFile()) {
      const m = /^gitdir:\s*(.+)$/m.exec(readFileSync(gitDir, 'utf8'));
      if (!m) return 'unknown';
      gitDir = resolve(PACKAGE_ROOT, m[1]!.trim());
    }
    const head = readFileSync(join(gitDir, 'HEAD'), 'utf8').trim();
    if (/^[0-9a-f]{40}$/.test(head)) return head;
    const ref = /^ref:\s*(\S+)$/.exec(head)?.[1];
    if (ref === undefined) return 'unknown';
    // A linked worktree keeps its branches in the common directory.
    const common = existsSync(join(gitDir, 'commondir')) ? resolve(gitDir, readFileSync(join(gitDir, 'commondir'), 'utf8').trim()) : gitDir;
    for (const dir of [gitDir, common]) {
      const loose = join(dir, ref);
      if (existsSync(loose)) return readFileSync(loose, 'utf8').trim();
    }
    const packed = join(common, 'packed-refs');
    if (existsSync(packed)) {
      for (const line of readFileSync(packed, 'utf8').split('\n')) {
        const [sha, name] = line.trim().split(' ');
        if (name === ref && sha && /^[0-9a-f]{40}$/.test(sha)) return sha;
      }
    }
  } catch {
    // unreadable checkout: the revision is not known
  }
  return 'unknown';
}

function dashboardConfiguration(version: string, revision: string): DashboardConfiguration {
  const now = new Date();
  return {
    'refresh-interval': 3000,
    'timezone-name': Intl.DateTimeFormat().resolvedOptions().timeZone ?? 'UTC',
    'timezone-offset': -now.getTimezoneOffset() * 60_000,
    'weir-version': version,
    'weir-revision': revision,
    features: { 'web-submit': false, 'web-cancel': true, 'web-rescale': false, 'web-history': false },
  };
}

// ---- job resources ---------------------------------------------------------------------------------

/**
 * The state of every vertex while the job is in `status`. LocalJob reports the job's status, not
 * each task's, so a vertex shows its job's state (a finished bounded source of a running job
 * shows RUNNING).
 */
function vertexState(status: JobStatus): ExecutionState {
  switch (status) {
    case 'INITIALIZING':
    case 'CREATED':
    case 'RESTARTING':
      return 'CREATED';
    case 'RUNNING':
      return 'RUNNING';
    case 'FAILING':
    case 'CANCELLING':
      return 'CANCELING';
    case 'FAILED':
      return 'FAILED';
    case 'CANCELED':
      return 'CANCELED';
    case 'FINISHED':
      return 'FINISHED';
  }
}

function byState(entries: readonly [ExecutionState, number][]): Record<ExecutionState, number> {
  const out = Object.fromEntries(EXECUTION_STATES.map((s) => [s, 0])) as Record<ExecutionState, number>;
  for (const [s, n] of entries) out[s] += n;
  return out;
}

function overviewOf(j: JobInfo): JobDetailsOverview {
  const now = Date.now();
  const counts = byState(j.vertices.map(() => [vertexState(j.status), 1]));
  const tasks: JobTaskCounts = {
    total: j.vertices.length,
    created: counts.CREATED,
    scheduled: counts.SCHEDULED,
    deploying: counts.DEPLOYING,
    running: counts.RUNNING,
    finished: counts.FINISHED,
    canceling: counts.CANCELING,
    canceled: counts.CANCELED,
    failed: counts.FAILED,
    reconciling: counts.RECONCILING,
    initializing: counts.INITIALIZING,
  };
  return {
    jid: j.id,
    name: j.name,
    state: j.status,
    'start-time': j.startTime,
    'end-time': j.endTime ?? -1,
    duration: (j.endTime ?? now) - j.startTime,
    'last-modification': Math.max(...Object.values(j.timestamps)),
    tasks,
  };
}

function detailsOf(j: JobInfo): JobDetailsInfo {
  const now = Date.now();
  const state = vertexState(j.status);
  const running = j.timestamps.RUNNING ?? -1;
  const end = j.endTime ?? -1;
  const vertices = j.vertices.map((v) => ({
    id: v.id,
    name: v.name,
    maxParallelism: v.maxParallelism,
    parallelism: v.parallelism,
    status: state,
    'start-time': running,
    'end-time': end,
    duration: running < 0 ? -1 : (end < 0 ? now : end) - running,
    tasks: byState([[state, v.parallelism]]),
  }));
  const timestamps = Object.fromEntries(ALL_JOB_STATUSES.map((s) => [s, j.timestamps[s] ?? 0])) as Record<JobStatus, number>;
  return {
    jid: j.id,
    name: j.name,
    isStoppable: j.status === 'RUNNING',
    state: j.status,
    'job-type': 'STREAMING',
    'start-time': j.startTime,
    'end-time': end,
    duration: (j.endTime ?? now) - j.startTime,
    maxParallelism: Math.max(...j.vertices.map((v) => v.maxParallelism)),
    now,
    timestamps,
    vertices,
    'status-counts': byState(j.vertices.map(() => [state, 1])),
    plan: {
      jid: j.id,
      name: j.name,
      type: 'STREAMING',
      nodes: j.vertices.map((v) => ({
        id: v.id,
        parallelism: v.parallelism,
        operator: '',
        operator_strategy: '',
        description: v.name,
        ...(v.inputs.length > 0
          ? { inputs: v.inputs.map((input, num) => ({ num, id: input.id, ship_strategy: input.partitioner.toUpperCase(), exchange: 'pipelined_bounded' })) }
          : {}),
        optimizer_properties: {},
      })),
    },
  };
}

/** An error with its causes, each with its stack, as Java prints a throwable. */
function renderError(e: Error): string {
  const parts: string[] = [];
  let c: unknown = e;
  for (let depth = 0; c instanceof Error && depth < 32; c = c.cause, depth++) {
    const frames = (c.stack ?? '').split('\n').filter((line) => /^\s+at /.test(line));
    parts.push([`${depth === 0 ? '' : 'Caused by: '}${c.name}: ${c.message}`, ...frames].join('\n'));
  }
  return parts.join('\n');
}

function failureCause(e: Error): FailureCause {
  return { class: e.name, 'stack-trace': renderError(e) };
}

function operationResult<T, R>(s: OperationStatus<T>, wrap: (result: T) => R): AsynchronousOperationResult<R> {
  if (s.status === 'IN_PROGRESS') return { status: { id: 'IN_PROGRESS' } };
  return { status: { id: 'COMPLETED' }, operation: 'failure' in s ? { 'failure-cause': failureCause(s.failure) } : wrap(s.result) };
}

function exceptionsOf(j: JobInfo): JobExceptionsInfo {
  const f = j.failure;
  if (!f) return { 'root-exception': null, timestamp: null, 'all-exceptions': [], truncated: false, exceptionHistory: { entries: [], truncated: false } };
  const text = renderError(f.error);
  return {
    'root-exception': text,
    timestamp: f.timestamp,
    'all-exceptions': [],
    truncated: false,
    exceptionHistory: { entries: [{ exceptionName: f.error.name, stacktrace: text, timestamp: f.timestamp, taskName: null, concurrentExceptions: [] }], truncated: false },
  };
}

// ---- checkpoint resources ----------------------------------------------------------------------

const EMPTY_STATS: CheckpointStatsSnapshot = {
  counts: { restored: 0, total: 0, in_progress: 0, completed: 0, failed: 0 },
  summary: { end_to_end_duration: { min: 0, max: 0, avg: 0 }, state_size: { min: 0, max: 0, avg: 0 } },
  latest: { completed: null, savepoint: null, failed: null, restored: null },
  history: [],
};

const CLASS_NAMES = {
  COMPLETED: '.CompletedCheckpointStatistics',
  FAILED: '.FailedCheckpointStatistics',
  IN_PROGRESS: '.PendingCheckpointStatistics',
} as const;

/** Subtask figures of one vertex, by subtask index (the tracker keys them `vertexIndex/subtask`). */
function subtasksOf(e: CheckpointStatsEntry, vertex: VertexInfo): Map<number, CheckpointStatsEntry['subtasks'][string]> {
  const out = new Map<number, CheckpointStatsEntry['subtasks'][string]>();
  for (const [key, s] of Object.entries(e.subtasks)) {
    const [v, i] = key.split('/').map(Number);
    if (v === vertex.index && i !== undefined) out.set(i, s);
  }
  return out;
}

function taskStatistics(e: CheckpointStatsEntry, vertex: VertexInfo): TaskCheckpointStatistics {
  const subs = [...subtasksOf(e, vertex).values()];
  const latest = subs.reduce((m, s) => Math.max(m, s.ack_timestamp), -1);
  const size = subs.reduce((n, s) => n + s.state_size, 0);
  return {
    id: e.id,
    status: e.status,
    latest_ack_timestamp: latest,
    checkpointed_size: size,
    state_size: size,
    end_to_end_duration: latest < 0 ? -1 : Math.max(0, latest - e.trigger_timestamp),
    alignment_buffered: 0,
    processed_data: subs.reduce((n, s) => n + s.bytes_processed_during_alignment, 0),
    persisted_data: 0,
    num_subtasks: vertex.parallelism,
    num_acknowledged_subtasks: subs.length,
  };
}

function checkpointStatistics(e: CheckpointStatsEntry, vertices?: readonly VertexInfo[]): CheckpointStatistics {
  const { subtasks, ...fields } = e;
  return {
    className: CLASS_NAMES[e.status],
    ...fields,
    checkpoint_type: e.is_savepoint ? 'SAVEPOINT' : 'CHECKPOINT',
    checkpointed_size: e.state_size,
    alignment_buffered: 0,
    processed_data: Object.values(subtasks).reduce((n, s) => n + s.bytes_processed_during_alignment, 0),
    persisted_data: 0,
    tasks: Object.fromEntries((vertices ?? []).map((v) => [v.id, taskStatistics(e, v)])),
  };
}

function checkpointingStatistics(s: CheckpointStatsSnapshot): CheckpointingStatistics {
  const entry = (e: CheckpointStatsEntry | null) => (e === null ? null : checkpointStatistics(e));
  return {
    counts: s.counts,
    summary: { checkpointed_size: s.summary.state_size, state_size: s.summary.state_size, end_to_end_duration: s.summary.end_to_end_duration },
    latest: { completed: entry(s.latest.completed), savepoint: entry(s.latest.savepoint), failed: entry(s.latest.failed), restored: s.latest.restored },
    history: s.history.map((e) => checkpointStatistics(e)),
  };
}

function minMaxAvg(values: readonly number[]): MinMaxAvgStatistics {
  if (values.length === 0) return { min: 0, max: 0, avg: 0 };
  return { min: Math.min(...values), max: Math.max(...values), avg: values.reduce((a, b) => a + b, 0) / values.length };
}

function subtaskDetails(e: CheckpointStatsEntry, vertex: VertexInfo): TaskCheckpointStatisticsWithSubtaskDetails {
  const acked = subtasksOf(e, vertex);
  const subs = [...acked.values()];
  const pick = (f: (s: (typeof subs)[number]) => number) => minMaxAvg(subs.map(f));
  return {
    ...taskStatistics(e, vertex),
    summary: {
      checkpointed_size: pick((s) => s.state_size),
      state_size: pick((s) => s.state_size),
      end_to_end_duration: pick((s) => Math.max(0, s.ack_timestamp - e.trigger_timestamp)),
      checkpoint_duration: { sync: pick((s) => s.sync_duration), async: pick((s) => s.async_duration) },
      alignment: {
        buffered: pick(() => 0),
        processed: pick((s) => s.bytes_processed_during_alignment),
        persisted: pick(() => 0),
        duration: pick((s) => s.alignment_duration),
      },
      start_delay: pick((s) => s.start_delay),
    },
    subtasks: Array.from({ length: vertex.parallelism }, (_, index) => {
      const s = acked.get(index);
      if (!s) return { index, status: 'pending_or_failed' as const };
      return {
        index,
        status: 'completed' as const,
        ack_timestamp: s.ack_timestamp,
        end_to_end_duration: Math.max(0, s.ack_timestamp - e.trigger_timestamp),
        persisted_data: 0,
        processed_data: s.bytes_processed_during_alignment,
        state_size: s.state_size,
        checkpointed_size: s.state_size,
        checkpoint: { sync: s.sync_duration, async: s.async_duration },
        alignment: { buffered: 0, processed: s.bytes_processed_during_alignment, persisted: 0, duration: s.alignment_duration },
        start_delay: s.start_delay,
        unaligned_checkpoint: false,
        aborted: false,
      };
    }),
  };
}

function checkpointConfig(j: JobInfo): CheckpointConfigInfo {
  const c = j.config;
  const interval = c['execution.checkpointing.interval'];
  if (interval === undefined) throw new HttpError(404, `checkpointing is not enabled for job ${j.id}`);
  const retention = c['execution.checkpointing.externalized-checkpoint-retention'];
  return {
    mode: c['execution.checkpointing.mode'] === 'EXACTLY_ONCE' ? 'exactly_once' : 'at_least_once',
    interval,
    timeout: c['execution.checkpointing.timeout'],
    min_pause: c['execution.checkpointing.min-pause'],
    max_concurrent: c['execution.checkpointing.max-concurrent-checkpoints'],
    externalization: { enabled: retention !== 'NO_EXTERNALIZED_CHECKPOINTS', delete_on_cancellation: retention !== 'RETAIN_ON_CANCELLATION' },
    state_backend: 'HashMapStateBackend',
    checkpoint_storage: 'FileSystemCheckpointStorage',
    unaligned_checkpoints: false,
    tolerable_failed_checkpoints: c['execution.checkpointing.tolerable-failed-checkpoints'],
    aligned_checkpoint_timeout: 0,
    checkpoints_after_tasks_finish: false,
    state_changelog_enabled: false,
  };
}

// ---- request bodies ---------------------------------------------------------------------------

/** The body as JSON; undefined when empty. */
async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    // The rest of the upload is not read: the connection closes after the answer.
    if (size > MAX_BODY_BYTES) throw new HttpError(413, `request body exceeds ${MAX_BODY_BYTES / (1024 * 1024)} MiB`, { connection: 'close' });
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch (e) {
    const what = e instanceof Error ? e.message : String(e);
    // Where: V8 names a position for most errors, none for a body that ends too early.
    const at = /position (\d+)/.exec(what);
    const position = at ? Number(at[1]) : /end of JSON/i.test(what) ? text.length : undefined;
    let where = '';
    if (position !== undefined) {
      const before = text.slice(0, position).split('\n');
      where = ` (line ${before.length}, column ${before[before.length - 1]!.length + 1})`;
    }
    throw new HttpError(400, `request body is not valid JSON: ${what}${where}`);
  }
}

/** A request body that must be an object (or absent: `{}`) with only the given fields. */
function bodyObject(raw: unknown, route: string, fields: readonly string[]): Record<string, unknown> {
  if (raw === undefined) return {};
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new HttpError(400, `the body of ${route} must be a JSON object`);
  const o = raw as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!fields.includes(k)) throw new HttpError(400, `unknown field "${k}" in the body of ${route} (known: ${fields.join(', ')})`);
  }
  return o;
}

function optionalString(o: Record<string, unknown>, key: string, route: string): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || v === '') throw new HttpError(400, `"${key}" in the body of ${route} must be a non-empty string, got ${JSON.stringify(v)}`);
  return v;
}

/** A directory on the cluster's machine: absolute, or a URI, since the client's working directory means nothing here. */
function optionalDirectory(o: Record<string, unknown>, key: string, route: string): string | undefined {
  const v = optionalString(o, key, route);
  if (v !== undefined && !isAbsolute(v) && !/^[a-zA-Z][a-zA-Z0-9+.-]+:/.test(v)) {
    throw new HttpError(400, `"${key}" in the body of ${route} must be an absolute path or a URI, got ${JSON.stringify(v)}`);
  }
  return v;
}

function optionalBoolean(o: Record<string, unknown>, key: string, route: string): boolean | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw new HttpError(400, `"${key}" in the body of ${route} must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

function optionalOneOf(o: Record<string, unknown>, key: string, route: string, values: readonly string[]): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || !values.includes(v)) throw new HttpError(400, `"${key}" in the body of ${route} must be one of ${values.join(', ')}, got ${JSON.stringify(v)}`);
  return v;
}

// ---- routing ------------------------------------------------------------------------------------

interface Request {
  readonly params: Record<string, string>;
  readonly query: URLSearchParams;
  readonly body: () => Promise<unknown>;
}

interface Reply {
  readonly status: number;
  readonly body: unknown;
}

type Handler = (r: Request) => Reply | Promise<Reply>;

interface Route {
  /** Flink's notation: literal segments and :params. */
  readonly pattern: string;
  readonly segments: readonly string[];
  readonly methods: Readonly<Record<string, Handler>>;
}

const ok = (body: unknown): Reply => ({ status: 200, body });
const accepted = (body: unknown): Reply => ({ status: 202, body });

function routes(d: Dispatcher, about: DashboardConfiguration): Route[] {
  const job = (r: Request): JobInfo => d.job(r.params['jobid']!);
  const stats = async (r: Request): Promise<CheckpointStatsSnapshot> => (await d.checkpointStats(r.params['jobid']!)) ?? EMPTY_STATS;
  const checkpointEntry = async (r: Request): Promise<{ info: JobInfo; entry: CheckpointStatsEntry }> => {
    const info = job(r);
    const raw = r.params['checkpointid']!;
    if (!/^\d+$/.test(raw)) throw new HttpError(400, `checkpoint id must be a non-negative integer, got ${JSON.stringify(raw)}`);
    const id = Number(raw);
    const s = await stats(r);
    const entry = [...s.history, s.latest.completed, s.latest.savepoint, s.latest.failed].find((e) => e?.id === id);
    if (!entry) throw new HttpError(404, `checkpoint ${id} of job ${info.id} is not in its checkpoint statistics (they keep the most recent checkpoints)`);
    return { info, entry };
  };
  const table: [string, Record<string, Handler>][] = [
    ['/config', { GET: () => ok(about) }],
    [
      '/jobs',
      {
        GET: () => ok({ jobs: d.jobs().map((j) => ({ id: j.id, status: j.status })) }),
        POST: async (r) => {
          const body = await r.body();
          if (body === undefined) throw new HttpError(400, 'the body of POST /jobs must be a job submission: {"jobModule": {"fileName", "source"}, ...}');
          const jobid = await d.submit(body as never); // validated by the dispatcher, which names the bad field
          return accepted({ jobid, jobUrl: `/jobs/${jobid}` });
        },
      },
    ],
    ['/jobs/overview', { GET: () => ok({ jobs: d.jobs().map(overviewOf) }) }],
    [
      '/jobs/:jobid',
      {
        GET: (r) => ok(detailsOf(job(r))),
        PATCH: async (r) => {
          const mode = r.query.get('mode') ?? 'cancel';
          if (mode !== 'cancel') throw new HttpError(400, `query parameter "mode" must be "cancel", got ${JSON.stringify(mode)}`);
          await d.cancel(r.params['jobid']!);
          return accepted({});
        },
      },
    ],
    [
      '/jobs/:jobid/savepoints',
      {
        POST: async (r) => {
          const route = 'POST /jobs/:jobid/savepoints';
          const o = bodyObject(await r.body(), route, ['target-directory', 'cancel-job', 'formatType']);
          const targetDirectory = optionalDirectory(o, 'target-directory', route);
          const cancelJob = optionalBoolean(o, 'cancel-job', route) ?? false;
          optionalOneOf(o, 'formatType', route, ['CANONICAL', 'NATIVE']);
          return accepted({ 'request-id': d.triggerSavepoint(r.params['jobid']!, { targetDirectory, cancelJob }) });
        },
      },
    ],
    [
      '/jobs/:jobid/savepoints/:triggerid',
      { GET: (r) => ok(operationResult(d.savepointStatus(r.params['jobid']!, r.params['triggerid']!), (location) => ({ location }))) },
    ],
    [
      '/jobs/:jobid/stop',
      {
        POST: async (r) => {
          const route = 'POST /jobs/:jobid/stop';
          const o = bodyObject(await r.body(), route, ['targetDirectory', 'drain', 'formatType']);
          const targetDirectory = optionalDirectory(o, 'targetDirectory', route);
          const drain = optionalBoolean(o, 'drain', route) ?? false;
          optionalOneOf(o, 'formatType', route, ['CANONICAL', 'NATIVE']);
          return accepted({ 'request-id': d.stop(r.params['jobid']!, { targetDirectory, drain }) });
        },
      },
    ],
    [
      '/jobs/:jobid/checkpoints',
      {
        GET: async (r) => {
          job(r);
          return ok(checkpointingStatistics(await stats(r)));
        },
        POST: async (r) => {
          const route = 'POST /jobs/:jobid/checkpoints';
          const o = bodyObject(await r.body(), route, ['checkpointType']);
          optionalOneOf(o, 'checkpointType', route, ['CONFIGURED', 'FULL', 'INCREMENTAL']);
          return accepted({ 'request-id': d.triggerCheckpoint(r.params['jobid']!) });
        },
      },
    ],
    ['/jobs/:jobid/checkpoints/config', { GET: (r) => ok(checkpointConfig(job(r))) }],
    [
      '/jobs/:jobid/checkpoints/details/:checkpointid',
      {
        GET: async (r) => {
          const { info, entry } = await checkpointEntry(r);
          return ok(checkpointStatistics(entry, info.vertices));
        },
      },
    ],
    [
      '/jobs/:jobid/checkpoints/details/:checkpointid/subtasks/:vertexid',
      {
        GET: async (r) => {
          const { info, entry } = await checkpointEntry(r);
          const vertex = info.vertices.find((v) => v.id === r.params['vertexid']);
          if (!vertex) throw new HttpError(404, `unknown vertex ${r.params['vertexid']} of job ${info.id}`);
          return ok(subtaskDetails(entry, vertex));
        },
      },
    ],
    [
      '/jobs/:jobid/checkpoints/:triggerid',
      { GET: (r) => ok(operationResult(d.checkpointStatus(r.params['jobid']!, r.params['triggerid']!), (checkpointId) => ({ checkpointId }))) },
    ],
    ['/jobs/:jobid/exceptions', { GET: (r) => ok(exceptionsOf(job(r))) }],
  ];
  return table.map(([pattern, methods]) => ({ pattern, segments: pattern.split('/').filter(Boolean), methods }));
}

/** The route for a path: a literal segment wins over a parameter at the same place. */
function match(all: readonly Route[], segments: readonly string[]): { route: Route; params: Record<string, string> } | undefined {
  let best: { route: Route; params: Record<string, string>; literals: number } | undefined;
  for (const route of all) {
    if (route.segments.length !== segments.length) continue;
    const params: Record<string, string> = {};
    let literals = 0;
    let matched = true;
    for (let i = 0; i < segments.length && matched; i++) {
      const p = route.segments[i]!;
      if (p.startsWith(':')) params[p.slice(1)] = segments[i]!;
      else if (p === segments[i]) literals++;
      else matched = false;
    }
    if (matched && (!best || literals > best.literals)) best = { route, params, literals };
  }
  return best;
}

function statusOf(e: unknown): number {
  if (e instanceof HttpError) return e.status;
  if (e instanceof UnknownJobError || e instanceof UnknownTriggerError) return 404;
  if (e instanceof JobStateError || e instanceof InsufficientSlotsError) return 409;
  if (e instanceof SubmissionError) return 400;
  if (e instanceof DispatcherShutDownError) return 503;
  return 500;
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** Starts the REST API of `dispatcher`; resolves once it listens. */
export function startRestServer(dispatcher: Dispatcher, options: RestServerOptions = {}): Promise<RestServer> {
  const { host = '127.0.0.1', port = 8081, log = () => {} } = options;
  const table = routes(dispatcher, dashboardConfiguration(weirVersion(), gitRevision()));

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const method = req.method ?? 'GET';
    let path = '/';
    try {
      const url = new URL(req.url ?? '/', 'http://weir');
      path = url.pathname;
      let segments: string[];
      try {
        segments = path.split('/').filter(Boolean).map((s) => decodeURIComponent(s));
      } catch {
        throw new HttpError(400, `malformed percent-encoding in the path ${path}`);
      }
      if (segments[0] === 'v1') segments = segments.slice(1); // Flink's versioned prefix
      const found = match(table, segments);
      if (!found) throw new HttpError(404, `Not found: ${path}`);
      const handler = found.route.methods[method];
      if (!handler) {
        const allowed = Object.keys(found.route.methods).join(', ');
        throw new HttpError(405, `${method} is not allowed on ${found.route.pattern} (allowed: ${allowed})`, { allow: allowed });
      }
      const reply = await handler({ params: found.params, query: url.searchParams, body: () => readJson(req) });
      send(res, reply.status, reply.body);
    } catch (e) {
      const status = statusOf(e);
      const text = e instanceof Error ? e.message : String(e);
      if (status === 500) log(`REST ${method} ${path} failed: ${e instanceof Error ? renderError(e) : text}`);
      if (!res.headersSent) send(res, status, { errors: [status === 500 ? `Internal server error: ${text}` : text] }, e instanceof HttpError ? e.headers : {});
      else res.destroy();
    }
  };

  const server = createServer((req, res) => void handle(req, res));
  return new Promise<RestServer>((resolveStarted, rejectStarted) => {
    server.once('error', rejectStarted);
    server.listen(port, host, () => {
      server.off('error', rejectStarted);
      const actual = (server.address() as AddressInfo).port;
      resolveStarted({
        port: actual,
        close: () =>
          new Promise<void>((resolveClosed) => {
            server.close(() => resolveClosed());
            // Idle keep-alive connections end now; requests in flight get a moment to finish.
            server.closeIdleConnections();
            setTimeout(() => server.closeAllConnections(), 1000).unref();
          }),
      });
    });
  });
}
