/**
 * Maps a completed checkpoint (or savepoint) onto the subtasks of a job about to be deployed:
 * state is matched to operators by operator id; keyed state goes to the subtasks whose key
 * groups it covers, so a different parallelism works as well as the same one.
 *
 * Refused with an error that names the operator: state of an operator the job no longer has
 * (unless non-restored state is allowed), and a changed maxParallelism of an operator with state
 * (key groups would no longer line up).
 */
import type { CheckpointId } from '../../core/ids.ts';
import type { CheckpointMetadata, OperatorCheckpointMetadata } from '../../checkpoint/checkpoint-types.ts';
import type { JobGraph, JobVertex, StreamNode } from '../../graph/job-graph.ts';
import { keyGroupRangeForOperator, type KeyGroupRange } from '../../core/key-group.ts';
import { assignChannelState, ChannelStateRestoreError, type RestoredChannel } from './channel-state.ts';
import { isKeyedStateFile, isOperatorBlobRef, type OperatorBlobRef, type RestoredOperatorState } from './operator-snapshot.ts';

/** What one subtask restores; plain data (crosses to worker threads). */
export interface TaskRestore {
  readonly checkpointId: CheckpointId;
  /** The directory the state file handles are relative to. */
  readonly root: string;
  /** By operator id; operators without state are absent. */
  readonly operators: Readonly<Record<string, RestoredOperatorState>>;
  /** In-flight data an unaligned checkpoint stored, to replay before any new input; absent when none. */
  readonly channels?: readonly RestoredChannel[];
}

export interface RestoreSource {
  readonly metadata: CheckpointMetadata;
  readonly root: string;
  /** Where it was loaded from, for messages. */
  readonly dir: string;
}

export class RestoreError extends Error {
  override readonly name = 'RestoreError';
}

function overlaps(a: KeyGroupRange, b: KeyGroupRange): boolean {
  return a.start <= b.end && b.start <= a.end;
}

export class RestoreAssignment {
  readonly checkpointId: CheckpointId;
  /** The checkpoint or savepoint directory restored from. */
  readonly dir: string;
  readonly #source: RestoreSource;
  readonly #graph: JobGraph;
  /** The checkpoint's operators by id. */
  readonly #byId: ReadonlyMap<string, OperatorCheckpointMetadata>;

  constructor(source: RestoreSource, graph: JobGraph, allowNonRestoredState: boolean) {
    this.#source = source;
    this.#graph = graph;
    this.checkpointId = source.metadata.checkpointId;
    this.dir = source.dir;
    this.#byId = new Map<string, OperatorCheckpointMetadata>(source.metadata.operators.map((o) => [o.operatorId, o]));
    const nodes = new Map<string, StreamNode>(graph.nodes.map((n) => [n.operatorId, n]));
    for (const op of source.metadata.operators) {
      const hasState = op.subtasks.some((s) => s !== undefined);
      const node = nodes.get(op.operatorId);
      if (node === undefined) {
        if (!hasState || allowNonRestoredState) continue;
        throw new RestoreError(
          `${source.metadata.kind} ${source.dir} holds state for operator "${op.name}" (${op.uid === undefined ? 'no uid' : `uid "${op.uid}"`}, id ${op.operatorId}) that this job does not have; ` +
            'give the operator its old uid, or allow non-restored state (weir run -n / SavepointRestoreSettings.forPath(path, true)) to skip it',
        );
      }
      // Only state depends on key groups; a stateless operator may change its max parallelism.
      if (hasState && node.maxParallelism !== op.maxParallelism) {
        throw new RestoreError(
          `operator "${node.name}" has maxParallelism ${node.maxParallelism}, but its state in ${source.dir} was written with maxParallelism ${op.maxParallelism}; ` +
            'keyed state can only be restored with the same maxParallelism (set it explicitly with setMaxParallelism)',
        );
      }
    }
  }

  /** The state subtask `subtaskIndex` of `vertex` restores. */
  forTask(vertex: JobVertex, subtaskIndex: number): TaskRestore {
    const operators: Record<string, RestoredOperatorState> = {};
    for (const node of vertex.nodes) {
      const old = this.#byId.get(node.operatorId);
      if (old === undefined || !old.subtasks.some((s) => s !== undefined)) continue;
      const oldP = old.subtasks.length;
      const range = keyGroupRangeForOperator(node.maxParallelism, node.parallelism, subtaskIndex);
      const keyedFiles = [];
      for (let k = 0; k < oldP; k++) {
        const s = old.subtasks[k];
        if (s === undefined) continue;
        if (!overlaps(keyGroupRangeForOperator(old.maxParallelism, oldP, k), range)) continue;
        for (const f of s.files) if (isKeyedStateFile(f)) keyedFiles.push(f);
      }
      const blobOf = (k: number): OperatorBlobRef | undefined => {
        const inline = old.subtasks[k]?.inline;
        return isOperatorBlobRef(inline) ? inline : undefined;
      };
      const own = oldP === node.parallelism;
      operators[node.operatorId] = {
        operatorId: node.operatorId,
        operatorName: node.name,
        oldParallelism: oldP,
        keyedFiles,
        own,
        blobs: own ? [blobOf(subtaskIndex)] : Array.from({ length: oldP }, (_, k) => blobOf(k)),
      };
    }
    const head = this.#byId.get(vertex.nodes[0]!.operatorId);
    let channels: RestoredChannel[] = [];
    if (head !== undefined) {
      try {
        channels = assignChannelState(vertex, subtaskIndex, head.subtasks, `${this.#source.metadata.kind} ${this.#source.dir}`);
      } catch (e) {
        if (e instanceof ChannelStateRestoreError) throw new RestoreError(e.message);
        throw e;
      }
    }
    return { checkpointId: this.checkpointId, root: this.#source.root, operators, ...(channels.length > 0 ? { channels } : {}) };
  }

  /** Every task's restore, keyed "vertex/subtask" (for sending to workers). */
  all(): Record<string, TaskRestore> {
    const out: Record<string, TaskRestore> = {};
    for (const v of this.#graph.vertices) for (let i = 0; i < v.parallelism; i++) out[`${v.index}/${i}`] = this.forTask(v, i);
    return out;
  }
}
