/**
 * Off-heap storage of the old values a heap snapshot saves: encoded records in reusable chunks.
 */
import type { StateKind } from '../../api/state.ts';
import { ByteWriter, writeStored, writeValue } from '../state-codec.ts';

/**
 * Encoded records in chunks of memory that are never moved once a record is in them:
 * `[u32 length][u32 table id][u32 slot][key][stored value]`, the length counting what follows
 * it. A record's position is its chunk's index times CHUNK_SPAN plus its offset, a small integer
 * for up to 1 GiB of records.
 */
export class Arena {
  readonly chunks: Buffer[] = [];
  #writer: ByteWriter | undefined;
  /** Bytes of the records held. */
  bytes = 0;

  /** Encodes a record; returns its position, or -1 (and keeps nothing) when the codec refuses the value. */
  add(tableId: number, slot: number, kind: StateKind, key: unknown, value: unknown): number {
    let w = this.#writer;
    if (w === undefined || w.bytes.length - w.pos < CHUNK_ROOM || w.pos >= CHUNK_SPAN) {
      w = new ByteWriter(spareChunks.pop() ?? Buffer.allocUnsafeSlow(CHUNK_BYTES));
      this.#writer = w;
      this.chunks.push(w.bytes);
    }
    const start = w.pos;
    try {
      w.reserve(RECORD_HEADER);
      w.view.setUint32(start + 4, tableId, true);
      w.view.setUint32(start + 8, slot, true);
      w.pos += RECORD_HEADER;
      writeValue(w, key);
      writeStored(w, kind, value);
    } catch {
      w.pos = start;
      return -1;
    }
    w.view.setUint32(start, w.pos - start - 4, true);
    this.bytes += w.pos - start;
    // A record larger than the room left has moved the chunk into a larger buffer.
    const index = this.chunks.length - 1;
    this.chunks[index] = w.bytes;
    return index * CHUNK_SPAN + start;
  }

  /** The chunk holding the record at `position`. */
  chunk(position: number): Buffer {
    return this.chunks[Math.floor(position / CHUNK_SPAN)]!;
  }

  /** Forgets every record; the chunks go back to the spares. */
  reset(): void {
    for (const chunk of this.chunks) {
      if (chunk.length === CHUNK_BYTES && spareChunks.length < SPARE_CHUNKS) spareChunks.push(chunk);
    }
    this.chunks.length = 0;
    this.#writer = undefined;
    this.bytes = 0;
  }
}

/**
 * Chunks kept for reuse by any arena of this thread: arenas that are emptied regularly then stop
 * allocating memory (which the collector counts towards starting a full collection).
 */
const spareChunks: Buffer[] = [];
const SPARE_CHUNKS = 8;

const CHUNK_BYTES = 1024 * 1024;
const CHUNK_SPAN = 1024 * 1024;
/** A record is started in a new chunk unless this much room is left, so that chunks rarely have to grow. */
const CHUNK_ROOM = 64 * 1024;
const RECORD_HEADER = 12;

/** Where a record's table id, slot and encoded key and value are in its chunk. */
export function recordTable(chunk: Buffer, position: number): number {
  return chunk.readUInt32LE((position % CHUNK_SPAN) + 4);
}
export function recordSlot(chunk: Buffer, position: number): number {
  return chunk.readUInt32LE((position % CHUNK_SPAN) + 8);
}
export function recordStart(position: number): number {
  return (position % CHUNK_SPAN) + RECORD_HEADER;
}
export function recordEnd(chunk: Buffer, position: number): number {
  const offset = position % CHUNK_SPAN;
  return offset + 4 + chunk.readUInt32LE(offset);
}
