/**
 * Hosts a split-based `Source`: creates its reader for this subtask, hands it its splits (the
 * restored ones, or its share of the source's splits), and polls it in bursts as the mailbox's
 * default action. A burst ends on backpressure, on a suspension, or when its time slice is spent.
 */
import type { CheckpointId } from '../../core/ids.ts';
import type { InputStatus, ReaderOutput, Source, SourceReader, SourceSplit } from '../../api/source.ts';
import type { SequenceOutput } from '../sources/builtin-sources.ts';
import type { SourceDriver } from './source-driver.ts';
import { mayEmit, type SourceTaskHost } from './source-task-host.ts';
import { monotonicClock } from '../../core/time.ts';

/** How long a burst may run before the task yields to the event loop, ms. */
export const SLICE_MS = 2;

export class SplitReaderDriver implements SourceDriver {
  readonly kind = 'reader';
  readonly pausedInEmit = false;
  reader: SourceReader<unknown, SourceSplit> | undefined;
  readonly #source: Source<unknown, SourceSplit>;
  readonly #host: SourceTaskHost;
  #output: ReaderOutput<unknown> | undefined;

  readonly #where: { readonly subtaskIndex: number; readonly parallelism: number; readonly headNodeIndex: number };

  constructor(source: Source<unknown, SourceSplit>, host: SourceTaskHost, where: { subtaskIndex: number; parallelism: number; headNodeIndex: number }) {
    this.#source = source;
    this.#host = host;
    this.#where = where;
  }

  /**
   * Creates the reader with its splits. A restored source resumes its recorded splits; a source
   * restored without any (e.g. a new source in an old job) starts from the beginning.
   */
  open(): Promise<void> {
    const { subtaskIndex, parallelism: p, headNodeIndex } = this.#where;
    const host = this.#host;
    const reader = this.#source.createReader({ getIndexOfSubtask: () => subtaskIndex, getNumberOfParallelSubtasks: () => p });
    this.reader = reader;
    const restoredSplits = host.chain.restoredOf(headNodeIndex)?.splits;
    reader.addSplits(restoredSplits ?? this.#source.createSplits(p).filter((_, i) => i % p === subtaskIndex));
    reader.notifyNoMoreSplits();
    // The head output's compiled collect maps a missing timestamp to -Infinity itself.
    const head = host.chain.headOutput;
    const sequenceOutput: SequenceOutput = {
      collect: head.collect as ReaderOutput<unknown>['collect'],
      collectRange: head.collectRange,
    };
    this.#output = sequenceOutput as ReaderOutput<unknown>;
    return Promise.resolve();
  }

  start(): void {
    this.#host.mailbox.schedule();
  }

  processInput(): void {
    const host = this.#host;
    const reader = this.reader!;
    const out = this.#output!;
    const start = monotonicClock.now();
    let status: InputStatus = 'MORE_AVAILABLE';
    while (mayEmit(host) && !host.endingInput) {
      status = reader.pollNext(out);
      if (status !== 'MORE_AVAILABLE' || monotonicClock.now() - start >= SLICE_MS) break;
    }
    if (host.endingInput) return;
    if (status === 'END_OF_INPUT') {
      host.endingInput = true;
      host.chain.headOutput.emitWatermark(Infinity);
      void host.endInput();
    } else if (status === 'NOTHING_AVAILABLE') {
      reader.isAvailable().then(
        () => host.mailbox.schedule(),
        (e: unknown) => host.fail(e),
      );
    } else if (mayEmit(host)) {
      host.mailbox.schedule();
    }
  }

  resume(): void {
    // Polled by the mailbox, which the task reschedules itself.
  }

  snapshotState(): void {
    // The reader's splits are captured with the head's state.
  }

  notifyCheckpoint(checkpointId: CheckpointId, completed: boolean): void | Promise<void> {
    const reader = this.reader;
    if (reader === undefined) return;
    return completed ? reader.notifyCheckpointComplete?.(checkpointId) : reader.notifyCheckpointAborted?.(checkpointId);
  }

  cancel(): void {
    // The mailbox stops polling once the task is no longer running.
  }

  async close(): Promise<void> {
    await this.reader?.close?.();
  }
}
