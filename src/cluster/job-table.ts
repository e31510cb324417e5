/**
 * The dispatcher's table of jobs: every job started here, running and finished, in submission
 * order, and what clients see of each (JobInfo).
 *
 * The status clients see is a view of the LocalJob's status (api/job-status.ts has the statuses
 * and their transitions). A LocalJob turns terminal before its threads are gone and before its
 * result (with a failure's cause) is out; until then the table reports FAILING or CANCELLING
 * (Flink's statuses for that phase), or RUNNING for a job whose tasks are finishing. So a client
 * that sees a terminal status also finds the failure cause, and the job's slots are free.
 */
import type { ConfigValues } from '../api/configuration.ts';
import type { JobClient } from '../api/job-client.ts';
import { isTerminalJobStatus, type JobStatus } from '../api/job-status.ts';
import type { JobGraph } from '../graph/job-graph.ts';
import type { LocalJob } from '../runtime/local-job.ts';
import type { Clock } from '../core/time.ts';
import { UnknownJobError } from './dispatcher-errors.ts';
import type { JobOperations } from './job-operations.ts';

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

/** What the dispatcher keeps of one job. */
export interface JobRecord {
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
  readonly operations: JobOperations;
}

/** The vertices of a graph as clients see them. */
export function verticesOf(graph: JobGraph): VertexInfo[] {
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

/** The status a client sees of a job (see the file's comment). */
export function visibleStatus(record: JobRecord): JobStatus {
  const status = record.job.status;
  if (record.released || !isTerminalJobStatus(status)) return status;
  return status === 'FAILED' ? 'FAILING' : status === 'CANCELED' ? 'CANCELLING' : 'RUNNING';
}

export class JobTable {
  readonly #clock: Clock;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** Every job ever started here, in submission order. */
  readonly #jobs = new Map<string, JobRecord>();

  add(record: JobRecord): void {
    this.#jobs.set(record.job.jobId, record);
    this.observe(record);
  }

  /** @throws UnknownJobError */
  get(id: string): JobRecord {
    const r = this.#jobs.get(id);
    if (!r) throw new UnknownJobError(id);
    return r;
  }

  all(): JobRecord[] {
    return [...this.#jobs.values()];
  }

  /** Records when the job was first seen in its current status (terminal: when it entered it). */
  observe(record: JobRecord): void {
    const status = visibleStatus(record);
    if (record.timestamps[status] === undefined) {
      record.timestamps[status] = isTerminalJobStatus(status) ? (record.job.endTime ?? this.#clock.now()) : this.#clock.now();
    }
  }

  info(r: JobRecord): JobInfo {
    this.observe(r);
    const job = r.job;
    return {
      id: job.jobId,
      name: job.pipeline.jobName,
      status: visibleStatus(r),
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
}
