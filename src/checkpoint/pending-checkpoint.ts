/**
 * One triggered checkpoint on its way to completion (Flink's PendingCheckpoint): which subtasks
 * still owe an acknowledgement, the state the others reported, the expiry timer, and the
 * outcome that a manual trigger waits for.
 *
 * Life cycle, one way only:
 *
 *   ACKNOWLEDGING ──all acks──▶ FINALIZING ──metadata persisted──▶ COMMITTING ──▶ COMPLETED
 *        │                          │                                  │
 *        └───────── abort ──────────┴──────────────▶ ABORTED ◀─────────┘ (only if committing fails)
 *
 * A checkpoint can be aborted from outside (expiry, decline, subsumption, failover, shutdown)
 * until its metadata is persisted. From COMMITTING on, it has been written and handed to the
 * completion callback, so only the coordinator's own completion path may still fail it.
 */

import { subtaskKeyString } from './checkpoint-types.ts';
import type {
  CheckpointException,
  CheckpointId,
  CheckpointMetadata,
  OperatorCheckpointMetadata,
  OperatorSubtaskState,
  SubtaskAcknowledgement,
  SubtaskKey,
} from './checkpoint-types.ts';
import type { Cancellable } from '../core/time.ts';

/** What the coordinator knows about one operator before any state exists: the metadata skeleton. */
export interface OperatorDescriptor {
  /** The job vertex (chain) the operator runs in; its subtasks acknowledge its state. */
  readonly vertex: number;
  readonly operatorId: string;
  readonly uid: string | undefined;
  readonly name: string;
  readonly parallelism: number;
  readonly maxParallelism: number;
}

export type PendingCheckpointPhase = 'ACKNOWLEDGING' | 'FINALIZING' | 'COMMITTING' | 'COMPLETED' | 'ABORTED';

/** What an acknowledgement did to this checkpoint. */
export type PendingAckOutcome =
  | 'SUCCESS'
  /** The subtask had already acknowledged; the first acknowledgement stands. */
  | 'DUPLICATE'
  /** The subtask is not one this checkpoint waits for. */
  | 'UNKNOWN'
  /** The checkpoint was aborted; the acknowledged state belongs to no checkpoint. */
  | 'DISCARDED';

/**
 * Where a savepoint goes (a SavepointWriter): every subtask writes its files into `dir`, the
 * coordinator publishes `_metadata` there, and a failed savepoint removes the directory.
 */
export interface SavepointTarget {
  /** Absolute path of the savepoint directory. */
  readonly dir: string;
  /** Publishes `_metadata`; resolves with the savepoint directory. */
  writeMetadata(metadata: CheckpointMetadata): Promise<string>;
  /** Removes the savepoint directory (idempotent). */
  discard(): Promise<void>;
}

/** What kind of snapshot a pending checkpoint is, beyond its id. */
export interface PendingCheckpointOptions {
  readonly isSavepoint: boolean;
  /** The savepoint's own directory; without it a savepoint is finalised like a checkpoint. */
  readonly savepoint?: SavepointTarget;
  /** Stop-with-savepoint: the job ends once this savepoint completes. */
  readonly stop?: { readonly drain: boolean };
}

export interface CompletedCheckpointHandle {
  readonly checkpointId: CheckpointId;
  readonly dir: string;
}

type Outcome = { readonly ok: true; readonly value: CompletedCheckpointHandle } | { readonly ok: false; readonly error: CheckpointException };

export class PendingCheckpoint {
  readonly checkpointId: CheckpointId;
  readonly timestamp: number;
  readonly isSavepoint: boolean;
  readonly savepoint: SavepointTarget | undefined;
  readonly stop: { readonly drain: boolean } | undefined;
  readonly #numTasks: number;
  /** Subtasks (by key string) still owing an acknowledgement. */
  readonly #notYetAcknowledged = new Set<string>();
  readonly #acks = new Map<string, SubtaskAcknowledgement>();
  #phase: PendingCheckpointPhase = 'ACKNOWLEDGING';
  #timeout: Cancellable | undefined;
  #outcome: Outcome | undefined;
  #waiters: { resolve(v: CompletedCheckpointHandle): void; reject(e: CheckpointException): void }[] = [];

  constructor(checkpointId: CheckpointId, timestamp: number, options: boolean | PendingCheckpointOptions, tasks: readonly SubtaskKey[]) {
    const o: PendingCheckpointOptions = typeof options === 'boolean' ? { isSavepoint: options } : options;
    this.checkpointId = checkpointId;
    this.timestamp = timestamp;
    this.isSavepoint = o.isSavepoint || o.savepoint !== undefined || o.stop !== undefined;
    this.savepoint = o.savepoint;
    this.stop = o.stop;
    for (const t of tasks) this.#notYetAcknowledged.add(subtaskKeyString(t));
    this.#numTasks = this.#notYetAcknowledged.size;
  }

  get phase(): PendingCheckpointPhase {
    return this.#phase;
  }

  get numTasks(): number {
    return this.#numTasks;
  }

  get numAcknowledged(): number {
    return this.#acks.size;
  }

  get isFullyAcknowledged(): boolean {
    return this.#notYetAcknowledged.size === 0;
  }

  /** Whether an outside event (expiry, decline, subsumption, failover, shutdown) may still abort it. */
  get isAbortable(): boolean {
    return this.#phase === 'ACKNOWLEDGING' || this.#phase === 'FINALIZING';
  }

  get isSettled(): boolean {
    return this.#phase === 'COMPLETED' || this.#phase === 'ABORTED';
  }

  /** Sum of the state sizes the subtasks reported, bytes. */
  get stateSize(): number {
    let sum = 0;
    for (const a of this.#acks.values()) sum += a.metrics.stateSize;
    return sum;
  }

  /** Arms the expiry timer; abort and commit cancel it. */
  setTimeout(handle: Cancellable): void {
    this.#timeout?.cancel();
    this.#timeout = handle;
  }

  /**
   * Records a subtask's acknowledgement. Only the first one from a subtask counts: a
   * redelivered acknowledgement must not replace state that may already be being finalised.
   */
  acknowledge(ack: SubtaskAcknowledgement): PendingAckOutcome {
    if (this.#phase === 'ABORTED') return 'DISCARDED';
    const key = subtaskKeyString(ack.subtask);
    if (this.#acks.has(key)) return 'DUPLICATE';
    if (!this.#notYetAcknowledged.has(key)) return 'UNKNOWN';
    this.#notYetAcknowledged.delete(key);
    this.#acks.set(key, ack);
    return 'SUCCESS';
  }

  /** ACKNOWLEDGING → FINALIZING, once every subtask has acknowledged. */
  beginFinalizing(): void {
    if (this.#phase !== 'ACKNOWLEDGING' || !this.isFullyAcknowledged) {
      throw new Error(`checkpoint ${this.checkpointId} cannot be finalised in phase ${this.#phase}`);
    }
    this.#phase = 'FINALIZING';
  }

  /** FINALIZING → COMMITTING: the metadata is persisted; from here on it no longer expires. */
  beginCommitting(): void {
    if (this.#phase !== 'FINALIZING') throw new Error(`checkpoint ${this.checkpointId} cannot commit in phase ${this.#phase}`);
    this.#phase = 'COMMITTING';
    this.#timeout?.cancel();
  }

  /** COMMITTING → COMPLETED; resolves every waiter. */
  complete(dir: string): void {
    if (this.#phase !== 'COMMITTING') throw new Error(`checkpoint ${this.checkpointId} cannot complete in phase ${this.#phase}`);
    this.#phase = 'COMPLETED';
    this.#settle({ ok: true, value: { checkpointId: this.checkpointId, dir } });
  }

  /** Moves to ABORTED and rejects every waiter; 'ALREADY_SETTLED' if it had completed or aborted. */
  abort(error: CheckpointException): 'ABORTED' | 'ALREADY_SETTLED' {
    if (this.isSettled) return 'ALREADY_SETTLED';
    this.#phase = 'ABORTED';
    this.#timeout?.cancel();
    this.#settle({ ok: false, error });
    return 'ABORTED';
  }

  /** Resolves with the completed checkpoint or rejects with the CheckpointException that aborted it. */
  whenSettled(): Promise<CompletedCheckpointHandle> {
    const outcome = this.#outcome;
    if (outcome) return outcome.ok ? Promise.resolve(outcome.value) : Promise.reject(outcome.error);
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  /**
   * Assembles the checkpoint's metadata: one entry per operator in `operators` (in that
   * order), each with one slot per subtask filled from the acknowledgements by operator id.
   * Operators a subtask reported nothing for are stateless there and keep an empty slot.
   * Throws if an acknowledgement carries state the job's operators cannot hold, because such
   * a checkpoint could never be restored.
   */
  buildMetadata(jobId: string, operators: readonly OperatorDescriptor[]): CheckpointMetadata {
    const byId = new Map<string, { descriptor: OperatorDescriptor; subtasks: (OperatorSubtaskState | undefined)[]; names: Set<string> }>();
    for (const d of operators) {
      byId.set(d.operatorId, { descriptor: d, subtasks: Array.from({ length: d.parallelism }, () => undefined), names: new Set() });
    }
    for (const ack of this.#acks.values()) {
      for (const state of ack.states) {
        const target = byId.get(state.operatorId);
        const where = `subtask ${subtaskKeyString(ack.subtask)} of checkpoint ${this.checkpointId}`;
        if (!target || target.descriptor.vertex !== ack.subtask.vertex) {
          throw new Error(`${where} reported state for operator ${state.operatorId}, which is not part of vertex ${ack.subtask.vertex}`);
        }
        const index = ack.subtask.subtask;
        if (!Number.isInteger(index) || index < 0 || index >= target.descriptor.parallelism) {
          throw new Error(`${where} is outside operator ${state.operatorId}'s parallelism ${target.descriptor.parallelism}`);
        }
        if (target.subtasks[index] !== undefined) {
          throw new Error(`${where} reported state for operator ${state.operatorId} twice`);
        }
        const { stateNames, ...stored } = state;
        for (const name of stateNames ?? []) target.names.add(name);
        target.subtasks[index] = stored;
      }
    }
    const ops: OperatorCheckpointMetadata[] = [];
    for (const { descriptor: d, subtasks, names } of byId.values()) {
      ops.push({
        operatorId: d.operatorId,
        uid: d.uid,
        name: d.name,
        parallelism: d.parallelism,
        maxParallelism: d.maxParallelism,
        stateNames: [...names].sort(),
        subtasks,
      });
    }
    return {
      version: 1,
      jobId,
      checkpointId: this.checkpointId,
      timestamp: this.timestamp,
      kind: this.isSavepoint ? 'savepoint' : 'checkpoint',
      operators: ops,
    };
  }

  #settle(outcome: Outcome): void {
    this.#outcome = outcome;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) {
      if (outcome.ok) w.resolve(outcome.value);
      else w.reject(outcome.error);
    }
  }
}
