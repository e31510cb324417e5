/** The bodies of the REST API the UI reads: the fields it uses (docs/rest.md has them all). */

export interface ClusterOverview {
  taskmanagers: number;
  'slots-total': number;
  'slots-available': number;
  'jobs-running': number;
  'jobs-finished': number;
  'jobs-cancelled': number;
  'jobs-failed': number;
  'flink-version': string;
  'flink-commit': string;
}

export interface JobOverview {
  jid: string;
  name: string;
  state: string;
  'start-time': number;
  'end-time': number;
  duration: number;
  tasks: Record<string, number>;
}

export interface TaskManagerInfo {
  id: string;
  slotsNumber: number;
  freeSlots: number;
  hardware: { cpuCores: number; physicalMemory: number; freeMemory: number };
}

export interface VertexMetrics {
  'read-records'?: number;
  'write-records'?: number;
  'read-records-complete'?: boolean;
  'write-records-complete'?: boolean;
}

export interface JobVertex {
  id: string;
  name: string;
  parallelism: number;
  maxParallelism: number;
  status: string;
  metrics?: VertexMetrics;
}

export interface PlanNode {
  id: string;
  parallelism: number;
  description: string;
  inputs?: { num: number; id: string; ship_strategy: string; exchange: string }[];
}

export interface JobDetails {
  jid: string;
  name: string;
  state: string;
  isStoppable: boolean;
  'start-time': number;
  'end-time': number;
  duration: number;
  now: number;
  maxParallelism: number;
  timestamps: Record<string, number>;
  vertices: JobVertex[];
  plan: { nodes: PlanNode[] };
}

export interface VertexDetails {
  id: string;
  now: number;
  subtasks: { subtask: number; status: string; attempt: number; metrics: VertexMetrics }[];
}

export interface BackPressure {
  status: string;
  'backpressure-level'?: string;
  subtasks?: { subtask: number; 'backpressure-level': string; ratio: number; idleRatio?: number; busyRatio?: number }[];
}

export interface JobExceptions {
  'root-exception': string | null;
  timestamp: number | null;
  exceptionHistory?: { entries: { exceptionName: string; stacktrace: string; timestamp: number; taskName: string | null }[] };
}

export interface JobConfig {
  jid: string;
  name: string;
  'execution-config': Record<string, unknown>;
}

export interface MinMaxAvg {
  min: number;
  max: number;
  avg: number;
  [percentile: string]: number;
}

export interface CheckpointEntry {
  className: string;
  id: number;
  status: string;
  is_savepoint: boolean;
  checkpoint_type: string;
  trigger_timestamp: number;
  latest_ack_timestamp: number;
  end_to_end_duration: number;
  state_size: number;
  checkpointed_size: number;
  processed_data: number;
  persisted_data: number;
  num_subtasks: number;
  num_acknowledged_subtasks: number;
  external_path?: string;
  failure_timestamp?: number;
  failure_message?: string;
  tasks: Record<string, TaskCheckpoint>;
}

export interface TaskCheckpoint {
  id: number;
  status: string;
  latest_ack_timestamp: number;
  checkpointed_size: number;
  state_size: number;
  end_to_end_duration: number;
  processed_data: number;
  persisted_data: number;
  num_subtasks: number;
  num_acknowledged_subtasks: number;
}

export interface CheckpointingStatistics {
  counts: { restored: number; total: number; in_progress: number; completed: number; failed: number };
  summary: Record<string, MinMaxAvg>;
  latest: {
    completed: CheckpointEntry | null;
    savepoint: CheckpointEntry | null;
    failed: CheckpointEntry | null;
    restored: { id: number; restore_timestamp: number; is_savepoint: boolean; external_path: string } | null;
  };
  history: CheckpointEntry[];
}

export interface SubtaskCheckpoint {
  index: number;
  status: string;
  ack_timestamp?: number;
  end_to_end_duration?: number;
  persisted_data?: number;
  processed_data?: number;
  state_size?: number;
  checkpointed_size?: number;
  checkpoint?: { sync: number; async: number };
  alignment?: { buffered: number; processed: number; persisted: number; duration: number };
  start_delay?: number;
  unaligned_checkpoint?: boolean;
  aborted?: boolean;
}

export interface SubtaskCheckpoints extends TaskCheckpoint {
  summary?: Record<string, unknown>;
  subtasks: SubtaskCheckpoint[];
}

export interface OperationResult {
  status: { id: 'IN_PROGRESS' | 'COMPLETED' };
  operation?: { location?: string; checkpointId?: number; 'failure-cause'?: { class: string; 'stack-trace': string } };
}
