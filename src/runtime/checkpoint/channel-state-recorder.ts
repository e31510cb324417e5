/**
 * Stores the in-flight data of one unaligned checkpoint on the consumer side (Flink's channel
 * state writer, for input channels). When the subtask snapshots unaligned, the rest of the batch
 * it is part-way through and, per open channel, every item sent before that channel's barrier
 * that the task has not taken yet were sent before the barrier but are processed after the
 * snapshot: they are kept here, encoded at once (later processing cannot change them), and
 * restored by replaying them before any new input. The channels hand the items over as soon as
 * they are there (`InputChannel.tap`), not when the task gets to them, so the checkpoint does
 * not wait for a slow task to work through its queues. Processing never waits for any of this.
 *
 * Per channel: `recording` until its channel says everything before the barrier was handed
 * over (or it ended), then `done`. Items that are not data (barriers of other checkpoints,
 * cancel markers, end of data or of partition) are not stored.
 */
import type { CheckpointId } from '../../core/ids.ts';
import { encodeValue } from '../../core/record-codec.ts';
import type { ChannelItem } from '../channel/channel.ts';

/** One stored item: a record batch (encoded `{ v: values, t: timestamps | null }`), a watermark, or a watermark status. */
export type ChannelStateEntry = { readonly r: Uint8Array } | { readonly w: number } | { readonly i: boolean };

/** What one input channel held for the checkpoint, in stream order. */
export interface RecordedChannel {
  readonly entries: readonly ChannelStateEntry[];
  readonly records: number;
  readonly bytes: number;
}

interface Recording {
  mode: 'recording' | 'done';
  readonly entries: ChannelStateEntry[];
  records: number;
  bytes: number;
}

export class ChannelStateRecorder {
  readonly checkpointId: CheckpointId;
  readonly #channels: Recording[];
  #open: number;
  #resolve!: (channels: RecordedChannel[]) => void;
  #reject!: (error: Error) => void;
  /** Settles when every channel is done (or with the reason the recording was given up). */
  readonly done: Promise<RecordedChannel[]>;

  /** `settled[c]`: channel `c` needs nothing stored (its barrier arrived in-band before the switch, or it ended). */
  constructor(checkpointId: CheckpointId, settled: readonly boolean[]) {
    this.checkpointId = checkpointId;
    this.done = new Promise<RecordedChannel[]>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    // Nobody may be listening yet when it is given up; the reason still reaches whoever awaits it.
    this.done.catch(() => {});
    this.#channels = settled.map((s) => ({ mode: s ? 'done' : 'recording', entries: [], records: 0, bytes: 0 }));
    this.#open = settled.filter((s) => !s).length;
    this.#settleIfDone();
  }

  /** Whether everything was stored. */
  get complete(): boolean {
    return this.#open === 0;
  }

  /** Bytes stored so far. */
  get bytes(): number {
    let n = 0;
    for (const c of this.#channels) n += c.bytes;
    return n;
  }

  /** The part of a batch from `channel` not yet processed at the snapshot (`from` to the end). */
  recordRemainder(channel: number, values: readonly unknown[], timestamps: Float64Array | null, from: number, count: number): void {
    const rec = this.#channels[channel]!;
    if (rec.mode === 'done' || from >= count) return;
    this.#storeBatch(rec, values.slice(from, count), timestamps === null ? null : timestamps.slice(from, count));
  }

  /** An item sent on `channel` before its barrier, handed over before the task processes it. */
  store(channel: number, item: ChannelItem): void {
    const rec = this.#channels[channel]!;
    if (rec.mode === 'done') return;
    switch (item.kind) {
      case 'records': {
        const b = item.batch;
        this.#storeBatch(rec, b.count === b.values.length ? b.values : b.values.slice(0, b.count), b.timestamps);
        break;
      }
      case 'watermark':
        rec.entries.push({ w: item.timestamp });
        break;
      case 'watermark-status':
        rec.entries.push({ i: item.idle });
        break;
      default:
        break;
    }
  }

  /** Everything `channel` sent before its barrier was handed over. */
  channelDone(channel: number): void {
    const rec = this.#channels[channel]!;
    if (rec.mode !== 'done') this.#channelDone(rec);
  }

  /** `channel` ended: nothing more comes on it. */
  channelEnded(channel: number): void {
    const rec = this.#channels[channel]!;
    if (rec.mode !== 'done') this.#channelDone(rec);
  }

  /** The checkpoint was abandoned or aborted here: stop storing and release what was kept. */
  cancel(reason: Error): void {
    if (this.#open === 0) return;
    for (const c of this.#channels) {
      c.mode = 'done';
      c.entries.length = 0;
    }
    this.#open = 0;
    this.#reject(reason);
  }

  /**
   * A record that cannot be encoded (possible on a local channel, which never serialises) gives
   * up this checkpoint, not the task: the checkpoint is declined with the reason.
   */
  #storeBatch(rec: Recording, values: readonly unknown[], timestamps: Float64Array | null): void {
    let r: Uint8Array;
    try {
      r = encodeValue({ v: values, t: timestamps });
    } catch (e) {
      this.cancel(
        new Error(`checkpoint ${this.checkpointId}: an in-flight record cannot be stored as channel state: ${e instanceof Error ? e.message : String(e)}`, {
          cause: e,
        }),
      );
      return;
    }
    rec.entries.push({ r });
    rec.records += values.length;
    rec.bytes += r.byteLength;
  }

  #channelDone(rec: Recording): void {
    rec.mode = 'done';
    this.#open--;
    this.#settleIfDone();
  }

  #settleIfDone(): void {
    if (this.#open === 0) this.#resolve(this.#channels.map((c) => ({ entries: c.entries, records: c.records, bytes: c.bytes })));
  }
}
