/** Messages between the job's launcher thread and its slot workers. */
import type { MessagePort } from 'node:worker_threads';
import type { CheckpointTriggerOptions } from '../../checkpoint/checkpoint-coordinator.ts';
import type { CheckpointFailureReason, SubtaskAcknowledgement, SubtaskKey } from '../../checkpoint/checkpoint-types.ts';
import type { TaskRestore } from '../checkpoint/restore-assignment.ts';
import type { SerializedError } from '../error-transport.ts';
import type { SlotCheckpointing } from '../slot.ts';
import type { EngineBundleRef } from './engine-bundle.mjs';

export interface WorkerData {
  readonly jobId: string;
  readonly jobModule: string;
  readonly ordinal: number;
  readonly slot: number;
  readonly attemptNumber: number;
  readonly fingerprint: string;
  readonly description: readonly string[];
  readonly overrides: Record<string, unknown>;
  readonly ports: Record<string, MessagePort>;
  readonly checkpointing: SlotCheckpointing | undefined;
  /** The restores of this slot's tasks, by "vertex/subtask". */
  readonly restores: Record<string, TaskRestore> | undefined;
  /** The precompiled engine to run; undefined: load the engine's TypeScript sources. */
  readonly engine: EngineBundleRef | undefined;
}

/**
 * A start-up phase of a worker and when it ended (absolute ms: performance.timeOrigin +
 * performance.now(), comparable across the threads of a process). Phases: bootstrap (the
 * worker's entry started), engine-bundle (the bundle was found or built), loader (module loader
 * hooks registered), engine (the worker runtime loaded), pipeline (the job module called
 * execute()), graph (the job graph rebuilt and checked), deployed (the slot's tasks set up).
 */
export type StartupMark = readonly [phase: string, at: number];

export type ToWorker =
  | { readonly type: 'start' }
  | { readonly type: 'cancel' }
  | {
      readonly type: 'trigger-checkpoint';
      readonly checkpointId: number;
      readonly timestamp: number;
      /** A savepoint's directory and stop mode; absent for an ordinary checkpoint. */
      readonly options?: CheckpointTriggerOptions;
    }
  | { readonly type: 'checkpoint-complete'; readonly checkpointId: number }
  | { readonly type: 'checkpoint-aborted'; readonly checkpointId: number };

export type FromWorker =
  | { readonly type: 'ready'; readonly startup?: readonly StartupMark[] }
  | { readonly type: 'print'; readonly text: string; readonly stderr: boolean }
  | { readonly type: 'collect'; readonly collectId: string; readonly bytes: Uint8Array; readonly epoch: number }
  | { readonly type: 'finished' }
  | { readonly type: 'canceled' }
  | { readonly type: 'failed'; readonly error: SerializedError; readonly task: string }
  | { readonly type: 'ack'; readonly ack: SubtaskAcknowledgement }
  | {
      readonly type: 'decline';
      readonly checkpointId: number;
      readonly subtask: SubtaskKey;
      readonly reason: CheckpointFailureReason;
      readonly error: SerializedError;
    };
