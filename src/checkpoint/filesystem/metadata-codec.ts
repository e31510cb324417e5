/**
 * `_metadata` of the file-system checkpoint storage: one JSON document holding a magic string, a
 * format version, the sha256 of the compact JSON form of the metadata, and the metadata itself.
 * A truncated file fails to parse, an edited one fails the checksum, and one of the wrong shape
 * fails the schema below; each is a CorruptCheckpointError naming the file and, for the shape,
 * the field.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import * as v from 'valibot';
import { asCheckpointId } from '../../core/ids.ts';
import { CorruptCheckpointError } from '../../core/errors.ts';
import type { CheckpointMetadata, OperatorCheckpointMetadata, OperatorSubtaskState, StateFileHandle } from '../checkpoint-types.ts';
import { errorCode, errorMessage, isRecord } from './file-system-helpers.ts';
import { isSafeRelativePath } from './storage-paths.ts';

const METADATA_MAGIC = 'weir-checkpoint-metadata';
const METADATA_FORMAT_VERSION = 1;

const integerFrom = (min: number) =>
  v.pipe(v.number('is not a number'), v.safeInteger(`is not an integer ≥ ${min}`), v.minValue(min, `is not an integer ≥ ${min}`));

const handleSchema = v.object(
  {
    path: v.pipe(
      v.string('is not a string'),
      v.check(isSafeRelativePath, (issue) => `${JSON.stringify(issue.input)} is not a relative path inside the checkpoint`),
    ),
    size: integerFrom(0),
    checksum: v.pipe(v.string('is not a string'), v.regex(/^[0-9a-f]{64}$/, 'is not a sha256 hex digest')),
  },
  'is not an object',
);

const channelInfoSchema = v.object(
  {
    edge: v.string('is not a string'),
    partitioner: v.string('is not a string'),
    producer: integerFrom(0),
    producers: integerFrom(1),
    records: integerFrom(0),
    bytes: integerFrom(0),
  },
  'is not an object',
);

const subtaskSchema = v.object(
  {
    operatorId: v.string('is not a string'),
    files: v.array(handleSchema, 'is not an array'),
    inline: v.optional(v.unknown()),
    // Written only by unaligned checkpoints.
    channelState: v.optional(v.object({ file: handleSchema, channels: v.array(channelInfoSchema, 'is not an array') }, 'is not an object')),
  },
  'is not an object',
);

const operatorSchema = v.object(
  {
    operatorId: v.string('is not a string'),
    uid: v.nullish(v.string('is not a string')),
    name: v.string('is not a string'),
    parallelism: integerFrom(1),
    maxParallelism: integerFrom(1),
    // Absent in metadata written before state names were recorded: read as none.
    stateNames: v.nullish(v.array(v.string('is not a string'), 'is not an array')),
    // JSON.stringify writes undefined array slots (subtasks that reported nothing) as null.
    subtasks: v.array(v.nullish(subtaskSchema), 'is not an array'),
  },
  'is not an object',
);

const metadataSchema = v.object(
  {
    version: v.literal(1, (issue) => `is ${JSON.stringify(issue.input)}, expected 1`),
    jobId: v.string('is not a string'),
    checkpointId: integerFrom(1),
    timestamp: v.pipe(v.number('is not a number'), v.finite('is not a finite number')),
    kind: v.picklist(['checkpoint', 'savepoint'], (issue) => `is ${JSON.stringify(issue.input)}, expected "checkpoint" or "savepoint"`),
    operators: v.array(operatorSchema, 'is not an array'),
  },
  'is not an object',
);

/** `metadata.operators[0].subtasks[1].files[0].path`: where an issue is, as a reader would write it. */
function fieldOf(issue: v.BaseIssue<unknown>): string {
  let at = 'metadata';
  for (const item of issue.path ?? []) {
    const key = item.key;
    at += typeof key === 'number' ? `[${key}]` : `.${String(key)}`;
  }
  return at;
}

/**
 * Validates parsed metadata and rebuilds it in its in-memory shape: JSON has no `undefined`,
 * so an absent `uid` and `null` subtasks turn back into `undefined`. Throws an Error naming the
 * first field at fault.
 */
export function decodeMetadata(value: unknown): CheckpointMetadata {
  const result = v.safeParse(metadataSchema, value, { abortEarly: true });
  if (!result.success) {
    const issue = result.issues[0];
    // An absent key is reported by its object's schema, with the object's message.
    const missing = issue.type === 'object' && issue.input === undefined && (issue.path?.length ?? 0) > 0;
    throw new Error(`${fieldOf(issue)} ${missing ? 'is missing' : issue.message}`);
  }
  const m = result.output;
  return {
    version: 1,
    jobId: m.jobId,
    checkpointId: asCheckpointId(m.checkpointId),
    timestamp: m.timestamp,
    kind: m.kind,
    operators: m.operators.map(
      (o): OperatorCheckpointMetadata => ({
        operatorId: o.operatorId,
        uid: typeof o.uid === 'string' ? o.uid : undefined,
        name: o.name,
        parallelism: o.parallelism,
        maxParallelism: o.maxParallelism,
        stateNames: o.stateNames ?? [],
        subtasks: o.subtasks.map((s): OperatorSubtaskState | undefined => {
          if (s === null || s === undefined) return undefined;
          const handle = (h: StateFileHandle): StateFileHandle => ({ path: h.path, size: h.size, checksum: h.checksum });
          const base: OperatorSubtaskState = { operatorId: s.operatorId, files: s.files.map(handle) };
          const withInline: OperatorSubtaskState = s.inline !== undefined ? { ...base, inline: s.inline } : base;
          const cs = s.channelState;
          return cs === undefined ? withInline : { ...withInline, channelState: { file: handle(cs.file), channels: cs.channels.map((c) => ({ ...c })) } };
        }),
      }),
    ),
  };
}

/** The text of `_metadata` for `metadata`; refuses metadata that would not read back. */
export function encodeMetadata(metadata: CheckpointMetadata): string {
  const body = JSON.stringify(metadata);
  // Read back what would be stored, so metadata that could not be loaded is never written.
  try {
    decodeMetadata(JSON.parse(body) as unknown);
  } catch (e) {
    throw new Error(`Invalid checkpoint metadata: ${errorMessage(e)}`, { cause: e });
  }
  const checksum = createHash('sha256').update(body, 'utf8').digest('hex');
  return (
    `{\n  "magic": ${JSON.stringify(METADATA_MAGIC)},\n  "formatVersion": ${METADATA_FORMAT_VERSION},\n` +
    `  "sha256": "${checksum}",\n  "metadata": ${body}\n}\n`
  );
}

/** Reads and verifies `_metadata` at `path`; every problem is a CorruptCheckpointError naming it. */
export async function readMetadataFile(path: string): Promise<CheckpointMetadata> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if (errorCode(e) === 'ENOENT') throw new CorruptCheckpointError(path, 'missing', { cause: e });
    throw e;
  }
  if (text.length === 0) throw new CorruptCheckpointError(path, 'empty: the file is partial');
  let envelope: unknown;
  try {
    envelope = JSON.parse(text);
  } catch (e) {
    // The parser's message may quote the file, newlines included; keep the report on one line.
    const detail = errorMessage(e).replace(/\s+/g, ' ');
    throw new CorruptCheckpointError(path, `not valid JSON, so the file is partial or was edited (${detail})`, { cause: e });
  }
  if (!isRecord(envelope) || envelope['magic'] !== METADATA_MAGIC) {
    throw new CorruptCheckpointError(path, 'not a checkpoint metadata file (bad magic)');
  }
  if (envelope['formatVersion'] !== METADATA_FORMAT_VERSION) {
    throw new CorruptCheckpointError(path, `unsupported metadata format version ${JSON.stringify(envelope['formatVersion'])}`);
  }
  const recorded = envelope['sha256'];
  if (typeof recorded !== 'string' || !('metadata' in envelope)) {
    throw new CorruptCheckpointError(path, 'incomplete: the checksum or the metadata is absent');
  }
  // JSON.stringify of parsed JSON reproduces the compact form that was hashed at write time.
  const actual = createHash('sha256').update(JSON.stringify(envelope['metadata']), 'utf8').digest('hex');
  if (actual !== recorded) {
    throw new CorruptCheckpointError(path, `checksum mismatch: the metadata was changed after it was written (recorded sha256 ${recorded}, content ${actual})`);
  }
  try {
    return decodeMetadata(envelope['metadata']);
  } catch (e) {
    throw new CorruptCheckpointError(path, `malformed metadata: ${errorMessage(e)}`, { cause: e });
  }
}

/** Every file the metadata references, each path once; the same path with differing size or checksum is corrupt. */
export function referencedFiles(metadata: CheckpointMetadata): StateFileHandle[] {
  const byPath = new Map<string, StateFileHandle>();
  for (const op of metadata.operators) {
    for (const subtask of op.subtasks) {
      for (const handle of subtask?.files ?? []) {
        const seen = byPath.get(handle.path);
        if (seen === undefined) byPath.set(handle.path, handle);
        else if (seen.size !== handle.size || seen.checksum !== handle.checksum) {
          throw new Error(`${handle.path} is referenced twice with different sizes or checksums`);
        }
      }
    }
  }
  return [...byPath.values()];
}