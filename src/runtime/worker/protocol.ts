/** Messages between the job's launcher thread and its slot workers. */
import type { CheckpointId } from '../../core/ids.ts';
import type { MessagePort } from 'node:worker_threads';
import type { CheckpointOptions } from '../../checkpoint/checkpoint-options.ts';
import { assertNever } from '../../core/errors.ts';
import { decodeValue, encodeValue } from '../../core/record-codec.ts';
import type { TaskRestore } from '../checkpoint/restore-assignment.ts';
import { deserializeError, serializeError, type SerializedError } from '../error-transport.ts';
import type { SlotEvent } from '../slot-event.ts';
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
 * hooks registered), engine (the worker runtime loaded), assigned (a worker pre-started ahead of
 * its job got its slot), pipeline (the job module called
 * execute()), graph (the job graph rebuilt and checked), deployed (the slot's tasks set up).
 */
export type StartupMark = readonly [phase: string, at: number];

export type ToWorker =
  | { readonly type: 'start' }
  | { readonly type: 'cancel' }
  | {
      readonly type: 'trigger-checkpoint';
      readonly checkpointId: CheckpointId;
      readonly timestamp: number;
      /** What the checkpoint is; the sources put it on their barriers. */
      readonly options: CheckpointOptions;
    }
  | { readonly type: 'report-metrics' }
  /** `final`: the job's final checkpoint; tasks whose input ended then end. */
  | { readonly type: 'checkpoint-complete'; readonly checkpointId: CheckpointId; readonly final: boolean }
  | { readonly type: 'checkpoint-aborted'; readonly checkpointId: CheckpointId };

/**
 * A slot event as it crosses from a worker to the launcher: errors as data (with their stacks
 * and causes), collected values encoded once by the worker (their buffer is transferred).
 */
export type WireSlotEvent<E extends SlotEvent = SlotEvent> = E extends { readonly type: 'collect' }
  ? { readonly type: 'collect'; readonly collectId: string; readonly bytes: Uint8Array; readonly epoch: number }
  : E extends { readonly error: Error }
    ? { readonly [K in keyof E]: K extends 'error' ? SerializedError : E[K] }
    : E;

/** The worker's own lifecycle (`ready`, `canceled`), and the slot's events in their wire form. */
export type FromWorker =
  | { readonly type: 'ready'; readonly startup?: readonly StartupMark[] }
  | { readonly type: 'canceled' }
  | WireSlotEvent;

/** The wire form of `e`, and the buffers to transfer with it. */
export function slotEventToWire(e: SlotEvent): { readonly message: FromWorker; readonly transfer: ArrayBuffer[] } {
  switch (e.type) {
    case 'collect': {
      const bytes = encodeValue(e.values);
      return { message: { type: 'collect', collectId: e.collectId, bytes, epoch: e.epoch }, transfer: [bytes.buffer as ArrayBuffer] };
    }
    case 'failed':
      return { message: { type: 'failed', error: serializeError(e.error), task: e.task }, transfer: [] };
    case 'decline':
      return { message: { ...e, error: serializeError(e.error) }, transfer: [] };
    case 'print':
    case 'finished':
    case 'data-ended':
    case 'ack':
    case 'metrics':
      return { message: e, transfer: [] };
    default:
      return assertNever(e, 'slot event');
  }
}

/** The slot event a wire message carries. */
export function slotEventFromWire(m: WireSlotEvent): SlotEvent {
  switch (m.type) {
    case 'collect':
      return { type: 'collect', collectId: m.collectId, values: decodeValue(m.bytes) as unknown[], epoch: m.epoch };
    case 'failed':
      return { type: 'failed', error: deserializeError(m.error), task: m.task };
    case 'decline':
      return { ...m, error: deserializeError(m.error) };
    case 'print':
    case 'finished':
    case 'data-ended':
    case 'ack':
    case 'metrics':
      return m;
    default:
      return assertNever(m, 'worker message');
  }
}
