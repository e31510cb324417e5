/** Messages between the job's launcher thread and its slot workers. */
import type { MessagePort } from 'node:worker_threads';
import type { SerializedError } from '../error-transport.ts';

export interface WorkerData {
  readonly jobId: string;
  readonly jobModule: string;
  readonly ordinal: number;
  readonly slot: number;
  readonly fingerprint: string;
  readonly description: readonly string[];
  readonly overrides: Record<string, unknown>;
  readonly ports: Record<string, MessagePort>;
}

export type ToWorker = { readonly type: 'start' } | { readonly type: 'cancel' };

export type FromWorker =
  | { readonly type: 'ready' }
  | { readonly type: 'print'; readonly text: string; readonly stderr: boolean }
  | { readonly type: 'collect'; readonly collectId: string; readonly bytes: Uint8Array }
  | { readonly type: 'finished' }
  | { readonly type: 'canceled' }
  | { readonly type: 'failed'; readonly error: SerializedError; readonly task: string };
