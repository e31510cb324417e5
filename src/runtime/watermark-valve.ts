/**
 * Combines the watermarks and idleness of a task's input channels into one watermark and one
 * idleness status for the task (Flink's StatusWatermarkValve).
 *
 * A task's event time is the minimum over its active input channels: it may only declare "no
 * more records up to w" once every channel that still sends records has declared it. Idle
 * channels are left out so that a quiet partition does not stall event time, and a channel
 * that comes back from idleness behind the task's watermark is left out until it catches up,
 * because the task's watermark never goes back.
 *
 * A two-input operator keeps one valve per input and combines their outputs the same way: min
 * over the inputs that are not idle. A two-channel valve fed with the two valves' outputs does
 * exactly that.
 */

import { MAX_WATERMARK, MIN_WATERMARK } from '../api/watermark-strategy.ts';

/** Receives the combined watermark (strictly increasing) and changes of the combined idleness. */
export interface ValveOutput {
  emitWatermark(watermark: number): void;
  emitIdle(idle: boolean): void;
}

interface ChannelStatus {
  /** Highest watermark received on the channel. */
  watermark: number;
  idle: boolean;
  /** Active and not behind the last emitted watermark: takes part in the minimum. */
  aligned: boolean;
}

export class StatusWatermarkValve {
  readonly #channels: ChannelStatus[];
  readonly #output: ValveOutput;
  #lastWatermark = MIN_WATERMARK;
  #idle = false;

  constructor(numChannels: number, output: ValveOutput) {
    if (!Number.isInteger(numChannels) || numChannels < 1) {
      throw new RangeError(`a watermark valve needs at least one channel, got ${String(numChannels)}`);
    }
    this.#output = output;
    this.#channels = Array.from({ length: numChannels }, () => ({
      watermark: MIN_WATERMARK,
      idle: false,
      aligned: true,
    }));
  }

  /** A watermark arrived on `channel`. A lower one than the channel already sent is ignored. */
  inputWatermark(channel: number, watermark: number): void {
    const status = this.#channel(channel);
    // Watermarks travel only on active channels, so one arriving on an idle channel means the
    // channel is active again.
    if (status.idle) this.inputIdle(channel, false);
    if (!(watermark > status.watermark)) return;
    status.watermark = watermark;
    if (!status.aligned && watermark >= this.#lastWatermark) status.aligned = true;
    this.#emitMinOfAligned();
  }

  /** `channel` went idle (`true`) or became active again (`false`). Repeats are ignored. */
  inputIdle(channel: number, idle: boolean): void {
    const status = this.#channel(channel);
    if (status.idle === idle) return;
    status.idle = idle;
    if (idle) {
      status.aligned = false;
      if (this.#channels.every((c) => c.idle)) {
        // Nothing active is left to hold event time back: release everything the channels have
        // declared so that downstream is not stuck behind the last active channel.
        this.#emitIfAdvances(this.#channels.reduce((max, c) => Math.max(max, c.watermark), MIN_WATERMARK));
        this.#idle = true;
        this.#output.emitIdle(true);
      } else {
        // The channel may have been the one holding the minimum back.
        this.#emitMinOfAligned();
      }
    } else {
      // A channel behind the emitted watermark rejoins the minimum once it catches up.
      if (status.watermark >= this.#lastWatermark) status.aligned = true;
      if (this.#idle) {
        this.#idle = false;
        this.#output.emitIdle(false);
      }
    }
  }

  /** The last emitted watermark; MIN_WATERMARK before the first. */
  currentWatermark(): number {
    return this.#lastWatermark;
  }

  /** Whether every channel is idle (and so the output is). */
  isIdle(): boolean {
    return this.#idle;
  }

  #channel(channel: number): ChannelStatus {
    const status = Number.isInteger(channel) ? this.#channels[channel] : undefined;
    if (status === undefined) {
      throw new RangeError(`channel ${String(channel)} out of range 0..${this.#channels.length - 1}`);
    }
    return status;
  }

  #emitMinOfAligned(): void {
    let min = MAX_WATERMARK;
    let anyAligned = false;
    for (const c of this.#channels) {
      if (!c.aligned) continue;
      anyAligned = true;
      if (c.watermark < min) min = c.watermark;
    }
    if (anyAligned) this.#emitIfAdvances(min);
  }

  #emitIfAdvances(watermark: number): void {
    if (watermark > this.#lastWatermark) {
      this.#lastWatermark = watermark;
      this.#output.emitWatermark(watermark);
    }
  }
}
