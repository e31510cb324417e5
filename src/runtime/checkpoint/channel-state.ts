/**
 * Channel state on disk and back: what an unaligned checkpoint stored for a subtask's input
 * channels, how it is written (one `.cstate` file per subtask, through the checkpoint storage
 * like every state file, so it is checksummed and verified), which new subtask replays which
 * stored channel after a restore, and how it is read back into items to replay.
 *
 * Channels are named by their network edge (`channelEdgeKey`) and producer subtask, never by
 * position, so a restore finds them in a job built again from the same program.
 *
 * Where data goes on a restore with a different parallelism (of the consumer or the producer):
 * - `hash` (keyBy): every new subtask reads every stored channel of the edge and keeps the
 *   records of its own key groups, so each record reaches the subtask that owns its key;
 * - `forward`, `rescale`, `global`: stored channels of old subtask k go to new subtask k mod p';
 * - `rebalance`, `shuffle`: stored channels are dealt round robin over the new subtasks;
 * - `broadcast`: new subtask j replays old subtask j's copy; on a scale-down the copies held by
 *   subtasks that no longer exist cannot be replayed anywhere without duplicating them for
 *   others, so such a restore is refused while those copies are not empty.
 * With unchanged parallelisms every subtask replays exactly its own channels, watermarks included.
 */
import type { InputChannelInfo, InputChannelStateHandle, StateFileHandle } from '../../checkpoint/checkpoint-types.ts';
import type { KeySelector } from '../../api/functions.ts';
import { assignToKeyGroup, keyGroupRangeForOperator, type KeyGroupRange } from '../../core/key-group.ts';
import { decodeValue, encodeValue } from '../../core/record-codec.ts';
import type { JobVertex, StreamEdge } from '../../graph/job-graph.ts';
import type { StateFileSink } from '../../state/state-backend.ts';
import type { ChannelItem } from '../channel/channel.ts';
import type { ChannelStateEntry, RecordedChannel } from './channel-state-recorder.ts';

const FILE_VERSION = 1;

/** `<source operator id>-><target operator id>/<input>[/<side output>]#<n>`: n counts equal edges into the vertex. */
export function channelEdgeKeys(vertex: JobVertex): Map<number, string> {
  const keys = new Map<number, string>();
  const seen = new Map<string, number>();
  for (const e of vertex.inputs) {
    const base = `${e.source.operatorId}->${e.target.operatorId}/${e.targetInput}${e.sideOutputTag === undefined ? '' : `/${e.sideOutputTag}`}`;
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    keys.set(e.index, `${base}#${n}`);
  }
  return keys;
}

/** Which channel an input is, for storing its state. */
export interface ChannelIdentity {
  readonly edge: string;
  readonly partitioner: string;
  readonly producer: number;
  readonly producers: number;
}

/** Writes the recorded channels (by input position) that hold anything; undefined when none does. */
export async function writeChannelState(
  recorded: readonly RecordedChannel[],
  identities: readonly ChannelIdentity[],
  write: StateFileSink,
  name: string,
): Promise<{ readonly handle: InputChannelStateHandle; readonly bytes: number } | undefined> {
  const channels: InputChannelInfo[] = [];
  const entries: (readonly ChannelStateEntry[])[] = [];
  recorded.forEach((r, i) => {
    if (r.entries.length === 0) return;
    const id = identities[i]!;
    channels.push({ edge: id.edge, partitioner: id.partitioner, producer: id.producer, producers: id.producers, records: r.records, bytes: r.bytes });
    entries.push(r.entries);
  });
  if (channels.length === 0) return undefined;
  const payload = encodeValue({ version: FILE_VERSION, channels: entries });
  const file = await write(name, payload);
  return { handle: { file, channels }, bytes: payload.byteLength };
}

// ---- restore: which new subtask replays what -------------------------------------------------------

/** One stored channel a new subtask replays. Plain data (crosses to worker threads). */
export interface RestoredChannel {
  readonly file: StateFileHandle;
  /** Position of the channel in the file's list. */
  readonly index: number;
  /** The edge (its key) and the producer subtask it came from. */
  readonly edge: string;
  readonly producer: number;
  /** Keep only records of these key groups (a keyed edge at a changed parallelism). */
  readonly keyGroups?: KeyGroupRange & { readonly maxParallelism: number };
  /** The same channel exists again (nothing was rescaled): its watermarks are replayed too. */
  readonly sameChannel: boolean;
}

export class ChannelStateRestoreError extends Error {
  override readonly name = 'ChannelStateRestoreError';
}

/**
 * The stored channels new subtask `subtask` of `vertex` replays, in a fixed order (old subtask,
 * then position). `old`: the head operator's old subtask states (index = old subtask).
 */
export function assignChannelState(
  vertex: JobVertex,
  subtask: number,
  old: readonly ({ readonly channelState?: InputChannelStateHandle } | undefined)[],
  where: string,
): RestoredChannel[] {
  const oldP = old.length;
  const newP = vertex.parallelism;
  const edges = new Map<string, StreamEdge>();
  for (const [index, key] of channelEdgeKeys(vertex)) edges.set(key, vertex.inputs.find((e) => e.index === index)!);
  const out: RestoredChannel[] = [];
  // Rebalanced channels are dealt round robin, counted over the whole edge.
  const dealt = new Map<string, number>();
  for (let k = 0; k < oldP; k++) {
    const cs = old[k]?.channelState;
    if (cs === undefined) continue;
    cs.channels.forEach((ch, index) => {
      const edge = edges.get(ch.edge);
      if (edge === undefined) {
        throw new ChannelStateRestoreError(
          `${where} holds ${ch.records} in-flight records of input ${ch.edge} into "${vertex.name}", which this job no longer has; ` +
            'restore from a checkpoint taken aligned (or a savepoint), or keep the input',
        );
      }
      if (edge.partitioner.kind !== ch.partitioner) {
        throw new ChannelStateRestoreError(
          `${where} holds in-flight records of input ${ch.edge} into "${vertex.name}" sent with partitioner ${ch.partitioner}, but the job now uses ${edge.partitioner.kind} there; ` +
            'in-flight data cannot be re-partitioned: restore from a savepoint (always aligned)',
        );
      }
      const unchanged = oldP === newP && ch.producers === edge.source.parallelism;
      const base = { file: cs.file, index, edge: ch.edge, producer: ch.producer };
      if (unchanged) {
        if (k === subtask) out.push({ ...base, sameChannel: true });
        return;
      }
      switch (edge.partitioner.kind) {
        case 'hash': {
          const range = keyGroupRangeForOperator(vertex.maxParallelism, newP, subtask);
          out.push({ ...base, sameChannel: false, keyGroups: { ...range, maxParallelism: vertex.maxParallelism } });
          return;
        }
        case 'forward':
        case 'rescale':
        case 'global':
          if (k % newP === subtask) out.push({ ...base, sameChannel: false });
          return;
        case 'rebalance':
        case 'shuffle': {
          const n = dealt.get(ch.edge) ?? 0;
          dealt.set(ch.edge, n + 1);
          if (n % newP === subtask) out.push({ ...base, sameChannel: false });
          return;
        }
        case 'broadcast':
          if (k >= newP) {
            throw new ChannelStateRestoreError(
              `${where} holds ${ch.records} in-flight broadcast records for subtask ${k} of "${vertex.name}", which does not exist at parallelism ${newP}: ` +
                'they cannot be replayed without duplicating them for other subtasks; restore at parallelism ' +
                `${oldP} or more, or from a checkpoint taken aligned (or a savepoint)`,
            );
          }
          if (k === subtask) out.push({ ...base, sameChannel: false });
          return;
      }
    });
  }
  return out;
}

// ---- restore: reading back ----------------------------------------------------------------------

/** An item to replay, with the live input channel (position) it came through when that channel exists again. */
export interface ReplayItem {
  readonly input: 0 | 1;
  readonly channel: number | undefined;
  readonly item: ChannelItem;
}

/**
 * Reads the channels `restored` names and turns them into the items to replay, in order.
 * `inputs`: the live input channels (edge index, producer, logical input), by position.
 */
export async function loadChannelState(
  restored: readonly RestoredChannel[],
  vertex: JobVertex,
  inputs: readonly { readonly edge: number; readonly producer: number; readonly input: 0 | 1 }[],
  read: (h: StateFileHandle) => Promise<Uint8Array>,
): Promise<ReplayItem[]> {
  const keys = channelEdgeKeys(vertex);
  const edgeByKey = new Map<string, StreamEdge>();
  for (const [index, key] of keys) edgeByKey.set(key, vertex.inputs.find((e) => e.index === index)!);
  const files = new Map<string, (readonly ChannelStateEntry[])[]>();
  const out: ReplayItem[] = [];
  for (const r of restored) {
    let channels = files.get(r.file.path);
    if (channels === undefined) {
      channels = decodeFile(await read(r.file), r.file.path);
      files.set(r.file.path, channels);
    }
    const entries = channels[r.index];
    if (entries === undefined) throw new Error(`channel state file ${r.file.path} has no channel ${r.index}: the checkpoint is corrupt`);
    const edge = edgeByKey.get(r.edge)!;
    const live = r.sameChannel ? inputs.findIndex((i) => keys.get(i.edge) === r.edge && i.producer === r.producer) : -1;
    const channel = live < 0 ? undefined : live;
    const keep =
      r.keyGroups === undefined || edge.partitioner.kind !== 'hash'
        ? undefined
        : keyFilter(edge.partitioner.keySelector as KeySelector<unknown, unknown>, r.keyGroups, `"${vertex.name}"`);
    for (const e of entries) {
      if ('r' in e) {
        const batch = decodeBatch(e.r, r.file.path);
        const item = keep === undefined ? batch : keep(batch);
        if (item.count > 0) out.push({ input: edge.targetInput, channel, item: { kind: 'records', batch: item } });
      } else if (channel !== undefined) {
        // Watermarks only mean something on the channel they came through.
        out.push({ input: edge.targetInput, channel, item: 'w' in e ? { kind: 'watermark', timestamp: e.w } : { kind: 'watermark-status', idle: e.i } });
      }
    }
  }
  return out;
}

type Batch = { values: unknown[]; timestamps: Float64Array | null; count: number };

function keyFilter(key: KeySelector<unknown, unknown>, range: KeyGroupRange & { maxParallelism: number }, where: string): (b: Batch) => Batch {
  return (b) => {
    const values: unknown[] = [];
    const ts: number[] = [];
    for (let i = 0; i < b.count; i++) {
      const kg = assignToKeyGroup(key(b.values[i]), range.maxParallelism, where);
      if (kg < range.start || kg > range.end) continue;
      values.push(b.values[i]);
      ts.push(b.timestamps === null ? -Infinity : b.timestamps[i]!);
    }
    return { values, timestamps: b.timestamps === null ? null : Float64Array.from(ts), count: values.length };
  };
}

function decodeFile(bytes: Uint8Array, path: string): (readonly ChannelStateEntry[])[] {
  let value: unknown;
  try {
    value = decodeValue(bytes);
  } catch (e) {
    throw new Error(`channel state file ${path} cannot be decoded: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  const v = value as { version?: unknown; channels?: unknown };
  if (v === null || typeof v !== 'object' || v.version !== FILE_VERSION || !Array.isArray(v.channels)) {
    throw new Error(`channel state file ${path} is not channel state of version ${FILE_VERSION}`);
  }
  return v.channels as (readonly ChannelStateEntry[])[];
}

function decodeBatch(bytes: Uint8Array, path: string): Batch {
  const v = decodeValue(bytes) as { v?: unknown; t?: unknown };
  if (v === null || typeof v !== 'object' || !Array.isArray(v.v) || !(v.t === null || v.t instanceof Float64Array)) {
    throw new Error(`channel state file ${path} holds a malformed record batch`);
  }
  return { values: v.v, timestamps: v.t, count: v.v.length };
}
