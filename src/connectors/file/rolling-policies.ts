/**
 * Rolling policies of the file sink (Flink's RollingPolicy): when the in-progress part file of a
 * bucket is closed, so that a new one starts. A closed part becomes pending and is made visible
 * when the next checkpoint completes. An open part may stay open across checkpoints: its state
 * records how many bytes are valid, and a restore truncates it to that length.
 */

/** What a policy knows about an in-progress part file. Times are the writer's processing time. */
export interface PartFileInfo {
  getBucketId(): string;
  getCreationTime(): number;
  /** Bytes written to the part so far (including the record just written, for shouldRollOnEvent: before it). */
  getSize(): number;
  getLastUpdateTime(): number;
}

export interface RollingPolicy<IN> {
  /** Asked at every checkpoint barrier: close the part now? */
  shouldRollOnCheckpoint(part: PartFileInfo): boolean;
  /** Asked before `element` is written to the part: close it and write the element to a new one? */
  shouldRollOnEvent(part: PartFileInfo, element: IN): boolean;
  /** Asked every bucket check interval when records arrive, and at every checkpoint barrier. */
  shouldRollOnProcessingTime(part: PartFileInfo, currentTime: number): boolean;
}

/**
 * Rolls a part when it has grown past the maximal part size, when it has been open for the
 * rollover interval, or when nothing was written to it for the inactivity interval (Flink's
 * defaults: 128 MiB, 60 s, 60 s). Parts otherwise stay open across checkpoints.
 */
export class DefaultRollingPolicy<IN> implements RollingPolicy<IN> {
  private constructor(
    readonly maxPartSize: number,
    readonly rolloverInterval: number,
    readonly inactivityInterval: number,
  ) {}

  static builder(): DefaultRollingPolicyBuilder {
    return new DefaultRollingPolicyBuilder();
  }

  /** @internal used by the builder */
  static of<IN>(maxPartSize: number, rolloverInterval: number, inactivityInterval: number): DefaultRollingPolicy<IN> {
    for (const [name, v] of [
      ['max part size', maxPartSize],
      ['rollover interval', rolloverInterval],
      ['inactivity interval', inactivityInterval],
    ] as const) {
      if (!(v > 0)) throw new Error(`DefaultRollingPolicy: the ${name} must be positive, got ${v}`);
    }
    return new DefaultRollingPolicy(maxPartSize, rolloverInterval, inactivityInterval);
  }

  shouldRollOnCheckpoint(part: PartFileInfo): boolean {
    return part.getSize() > this.maxPartSize;
  }

  shouldRollOnEvent(part: PartFileInfo): boolean {
    return part.getSize() > this.maxPartSize;
  }

  shouldRollOnProcessingTime(part: PartFileInfo, currentTime: number): boolean {
    return currentTime - part.getCreationTime() >= this.rolloverInterval || currentTime - part.getLastUpdateTime() >= this.inactivityInterval;
  }
}

export class DefaultRollingPolicyBuilder {
  #maxPartSize = 128 * 1024 * 1024;
  #rolloverInterval = 60_000;
  #inactivityInterval = 60_000;

  /** Bytes after which a part is rolled. */
  withMaxPartSize(bytes: number): this {
    this.#maxPartSize = bytes;
    return this;
  }

  /** Milliseconds a part may stay open. */
  withRolloverInterval(ms: number): this {
    this.#rolloverInterval = ms;
    return this;
  }

  /** Milliseconds without a write after which a part is rolled. */
  withInactivityInterval(ms: number): this {
    this.#inactivityInterval = ms;
    return this;
  }

  build<IN>(): DefaultRollingPolicy<IN> {
    return DefaultRollingPolicy.of(this.#maxPartSize, this.#rolloverInterval, this.#inactivityInterval);
  }
}

/** Rolls every part at every checkpoint and never otherwise (Flink's OnCheckpointRollingPolicy). */
export class OnCheckpointRollingPolicy<IN> implements RollingPolicy<IN> {
  shouldRollOnCheckpoint(): boolean {
    return true;
  }
  shouldRollOnEvent(): boolean {
    return false;
  }
  shouldRollOnProcessingTime(): boolean {
    return false;
  }
}
