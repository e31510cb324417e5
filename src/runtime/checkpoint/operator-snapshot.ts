/**
 * One operator's part of a subtask snapshot: what is captured at the barrier (synchronously,
 * without copying keyed state), how it is persisted afterwards (asynchronously), and how it is
 * read back on restore, possibly from several old subtasks after a change of parallelism.
 *
 * An operator's state has four parts: keyed state and keyed timers (files split by key group),
 * operator list state, a source's split positions and the operator's watermark. The last three
 * are small and travel as one encoded blob, inline in `_metadata` unless it is large.
 */
import type { CheckpointId } from '../../core/ids.ts';
import type { SourceSplit, SourceReader } from '../../api/source.ts';
import type { OperatorSubtaskState, StateFileHandle } from '../../checkpoint/checkpoint-types.ts';
import type { RestoredKeyedState, StateBackend, StateFileSink, StateFileSource } from '../../state/state-backend.ts';
import type { KeyGroupRange } from '../../core/key-group.ts';
import type { KeyedStateBackend, KeyedStateSnapshot } from '../../state/keyed-state-backend.ts';
import { redistributeOperatorState, type OperatorStateBackend, type OperatorStateSnapshotData } from '../../state/operator-state-backend.ts';
import type { StreamOperator } from '../operators/operator.ts';
import { decodeValue, encodeValue } from '../../core/record-codec.ts';
import type { TimerSnapshotSet } from '../timer-service.ts';
import { EMPTY_TIMER_SNAPSHOTS } from '../../state/timer-snapshot.ts';

/** Blobs up to this size are kept inline in `_metadata` (Flink inlines small state the same way). */
const INLINE_BLOB_BYTES = 16 * 1024;

/** Where an operator's state lives in a running subtask. */
export interface OperatorStateSources {
  readonly operatorId: string;
  readonly keyedBackend: KeyedStateBackend | undefined;
  readonly operatorStateBackend: OperatorStateBackend;
  /** The runtime operators of this stream node (a source with a watermark strategy has one; other nodes one each). */
  readonly operators: readonly StreamOperator[];
  readonly reader: SourceReader<unknown, SourceSplit> | undefined;
}

/** The frozen view taken at the barrier. */
export interface CapturedOperatorState {
  readonly operatorId: string;
  readonly keyed: KeyedStateSnapshot | undefined;
  readonly keyGroupRange: KeyGroupRange | undefined;
  readonly timers: TimerSnapshotSet<unknown>;
  readonly blob: OperatorBlob;
  /** Names of the keyed and operator states registered, for `_metadata`. */
  readonly stateNames: readonly string[];
}

/** The small parts, encoded together. */
interface OperatorBlob {
  /** Operator list states. */
  readonly o: OperatorStateSnapshotData[];
  /** Source splits with their positions. */
  readonly s?: SourceSplit[];
  /** Watermark. */
  readonly w?: number;
}

/** How `_metadata` refers to the blob of one operator subtask. */
export type OperatorBlobRef = { readonly blob: string } | { readonly blobFile: StateFileHandle };

/** The synchronous part: O(states + timers + operator state), independent of the amount of keyed state. */
export function captureOperatorState(src: OperatorStateSources, checkpointId: CheckpointId): CapturedOperatorState {
  let timers: TimerSnapshotSet<unknown> = EMPTY_TIMER_SNAPSHOTS;
  let watermark: number | undefined;
  for (const op of src.operators) {
    const extras = op.snapshotExtras();
    if (extras?.timers !== undefined && extras.timers.size > 0) timers = extras.timers;
    if (extras?.watermark !== undefined && extras.watermark > -Infinity) watermark = extras.watermark;
  }
  const blob: { o: OperatorStateSnapshotData[]; s?: SourceSplit[]; w?: number } = { o: src.operatorStateBackend.snapshot() };
  if (src.reader) blob.s = src.reader.snapshotState(checkpointId);
  if (watermark !== undefined) blob.w = watermark;
  const keyed = src.keyedBackend?.snapshot();
  const stateNames = [...new Set([...(keyed?.states.map((s) => s.name) ?? []), ...blob.o.map((s) => s.name)])];
  return { operatorId: src.operatorId, keyed, keyGroupRange: src.keyedBackend?.keyGroupRange, timers, blob, stateNames };
}

export function releaseCaptured(c: CapturedOperatorState): void {
  c.keyed?.release();
}

export interface PersistOptions {
  /** Writes one state file of this checkpoint or savepoint and returns its (relative) handle. */
  readonly writeFile: StateFileSink;
  /** The backend that made the keyed state: it writes the keyed snapshot. */
  readonly stateBackend: StateBackend;
  /** From the checkpoint's options: whether the keyed snapshot may reuse files of earlier checkpoints. */
  readonly snapshotType?: 'full' | 'incremental';
  /** The checkpoint being written; absent for savepoints. */
  readonly checkpointId?: number;
  readonly subtaskIndex: number;
  readonly signal?: AbortSignal;
}

/** The asynchronous part: writes the files; undefined when the operator has no state at all. Releases the keyed snapshot. */
export async function persistOperatorState(
  c: CapturedOperatorState,
  o: PersistOptions,
): Promise<{ state: OperatorSubtaskState | undefined; bytes: number }> {
  try {
    const { blob } = c;
    const hasKeyed = c.keyed !== undefined && (c.keyed.states.length > 0 || c.timers.size > 0);
    const hasBlob = blob.o.length > 0 || blob.s !== undefined || blob.w !== undefined;
    if (!hasKeyed && !hasBlob) return { state: undefined, bytes: 0 };
    const prefix = `op-${c.operatorId}-${o.subtaskIndex}`;
    const sink = o.writeFile;
    const files: StateFileHandle[] = [];
    let bytes = 0;
    if (hasKeyed) {
      const written = await o.stateBackend.writeKeyedSnapshot({
        snapshot: c.keyed!,
        keyGroupRange: c.keyGroupRange!,
        timers: c.timers,
        filePrefix: prefix,
        sink,
        ...(o.snapshotType ? { snapshotType: o.snapshotType } : {}),
        ...(o.checkpointId !== undefined ? { checkpointId: o.checkpointId } : {}),
        ...(o.signal ? { signal: o.signal } : {}),
      });
      files.push(...written.files);
      bytes += written.bytes;
    }
    let inline: OperatorBlobRef | undefined;
    if (hasBlob) {
      const encoded = encodeValue(blob);
      bytes += encoded.byteLength;
      if (encoded.byteLength <= INLINE_BLOB_BYTES) inline = { blob: Buffer.from(encoded).toString('base64') };
      else {
        const handle = await sink(`${prefix}.ostate`, encoded);
        files.push(handle); // listed with the others, so checks of the checkpoint cover it
        inline = { blobFile: handle };
      }
    }
    const base = { operatorId: c.operatorId, files, stateNames: c.stateNames };
    const state: OperatorSubtaskState = inline === undefined ? base : { ...base, inline };
    return { state, bytes };
  } finally {
    releaseCaptured(c);
  }
}

// ---- restore ------------------------------------------------------------------------------------

/** What a new subtask receives for one operator: plain data, sent to workers as is. */
export interface RestoredOperatorState {
  readonly operatorId: string;
  readonly operatorName: string;
  readonly oldParallelism: number;
  /** Keyed state files of every old subtask whose key groups overlap this subtask's. */
  readonly keyedFiles: readonly StateFileHandle[];
  /**
   * The blobs to restore from: the subtask's own when the parallelism is unchanged (`own`),
   * otherwise one per old subtask, in old subtask order (undefined where it had none).
   */
  readonly blobs: readonly (OperatorBlobRef | undefined)[];
  readonly own: boolean;
}

export interface LoadedOperatorState {
  readonly keyed: RestoredKeyedState | undefined;
  readonly operatorState: OperatorStateSnapshotData[];
  /** Undefined when the old operator had no splits (not a split-based source). */
  readonly splits: SourceSplit[] | undefined;
  readonly watermark: number | undefined;
}

/**
 * Reads an operator's restored state for subtask `subtaskIndex` of `parallelism`: keyed state
 * filtered to `range`, operator state redistributed (split or union), splits dealt round robin
 * when the parallelism changed, and the lowest watermark of the old subtasks.
 */
export async function loadOperatorState(
  r: RestoredOperatorState,
  read: StateFileSource,
  o: { readonly stateBackend: StateBackend; readonly range: KeyGroupRange | undefined; readonly subtaskIndex: number; readonly parallelism: number },
): Promise<LoadedOperatorState> {
  let keyed: RestoredKeyedState | undefined;
  if (r.keyedFiles.length > 0) {
    if (o.range === undefined) {
      throw new Error(
        `incompatible state for operator "${r.operatorName}" (${r.operatorId}): the checkpoint holds keyed state for it, but the operator is not keyed in this job`,
      );
    }
    keyed = await o.stateBackend.readKeyedSnapshot(r.keyedFiles, read, o.range);
  }
  const blobs: (OperatorBlob | undefined)[] = [];
  for (const ref of r.blobs) blobs.push(ref === undefined ? undefined : await readBlob(ref, read, r));
  if (r.own) {
    const b = blobs[0];
    return { keyed, operatorState: b?.o ?? [], splits: b?.s, watermark: b?.w };
  }
  const operatorState = redistributeOperatorState(
    blobs.map((b) => b?.o ?? []),
    o.parallelism,
  )[o.subtaskIndex]!;
  let splits: SourceSplit[] | undefined;
  let watermark: number | undefined;
  let j = 0;
  for (const b of blobs) {
    if (b?.s !== undefined) {
      splits ??= [];
      for (const s of b.s) if (j++ % o.parallelism === o.subtaskIndex) splits.push(s);
    }
    if (b?.w !== undefined) watermark = watermark === undefined ? b.w : Math.min(watermark, b.w);
  }
  return { keyed, operatorState, splits, watermark };
}

async function readBlob(ref: OperatorBlobRef, read: (h: StateFileHandle) => Promise<Uint8Array>, r: RestoredOperatorState): Promise<OperatorBlob> {
  const bytes = 'blob' in ref ? Buffer.from(ref.blob, 'base64') : await read(ref.blobFile);
  const where = `operator "${r.operatorName}" (${r.operatorId})`;
  let value: unknown;
  try {
    value = decodeValue(bytes);
  } catch (e) {
    throw new Error(`the checkpointed state of ${where} cannot be decoded: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  if (value === null || typeof value !== 'object' || !Array.isArray((value as OperatorBlob).o)) {
    throw new Error(`the checkpointed state of ${where} is malformed (no operator state list)`);
  }
  return value as OperatorBlob;
}

/** Keyed state files among an operator subtask's files (the others hold blobs or channel state). */
export function isKeyedStateFile(h: StateFileHandle): boolean {
  return !h.path.endsWith('.ostate') && !h.path.endsWith('.cstate');
}

/** Whether a metadata `inline` value is a blob reference written by persistOperatorState. */
export function isOperatorBlobRef(v: unknown): v is OperatorBlobRef {
  if (v === null || typeof v !== 'object') return false;
  const r = v as Record<string, unknown>;
  return typeof r['blob'] === 'string' || (typeof r['blobFile'] === 'object' && r['blobFile'] !== null);
}
