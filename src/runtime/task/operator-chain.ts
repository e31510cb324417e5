/**
 * The operators of one task's chain, wired: each chained node's operator, the network writers of
 * the edges leaving the chain, and every node's output (compiled by `NodeOutput.fuse`, so records
 * pass along the chain by direct, inlinable calls). Also each node's operator context (state
 * backends, metric group, mailbox scheduler) and the restore of its state.
 *
 * Built once at initialisation; nothing here runs per record except the compiled outputs.
 */
import { keyGroupRangeForOperator } from '../../core/key-group.ts';
import type { Scheduler } from '../../core/time.ts';
import { checkpointReaderFor } from '../../checkpoint/checkpoint-storage-registry.ts';
import type { StateFileHandle } from '../../checkpoint/checkpoint-types.ts';
import type { JobVertex, StreamEdge, StreamNode } from '../../graph/job-graph.ts';
import type { StateBackendScope, StateFileSource } from '../../state/state-backend.ts';
import { loadOperatorState, type LoadedOperatorState } from '../checkpoint/operator-snapshot.ts';
import { operatorMetricGroup, type ScopedMetricGroup } from '../metrics/task-metric-group.ts';
import type { MetricRegistry } from '../metrics/metric-registry.ts';
import { NodeOutput, type ChainTarget } from '../node-output.ts';
import { createOperator } from '../operators/operator-factory.ts';
import { tagError, type OperatorContext, type StreamOperator } from '../operators/operator.ts';
import { TimestampsAndWatermarksOperator } from '../operators/watermark-operator.ts';
import { createSelector, RecordWriter, type Backpressure } from '../record-writer.ts';
import type { SimpleCounter } from '../metrics/simple-counter.ts';
import type { TaskDeployment } from './task-deployment.ts';

/** What the chain's contexts need from the task around them. */
export interface ChainHooks {
  /** Stops the task from processing input until the promise settles. */
  suspendUntil(promise: PromiseLike<unknown>): void;
  /** The id of the last checkpoint this subtask took (tags collected records). */
  readonly epoch: number;
  /** An error outside record processing (a flush at the end of the turn). */
  fail(error: unknown): void;
}

/**
 * A per-subtask copy of a user function object: same prototype (methods), own fields copied
 * shallowly. Used only when several subtasks of one pipeline copy share a thread; #private
 * fields of user classes do not carry over, which docs/architecture.md states.
 */
function copyFunction<F extends object>(fn: F): F {
  if (typeof fn === 'function') return fn;
  return Object.assign(Object.create(Object.getPrototypeOf(fn) as object | null) as F, fn);
}

export class OperatorChain {
  readonly writers: RecordWriter[] = [];
  /** Every runtime operator of the chain, head first (a source's watermark operator included). */
  readonly operators: StreamOperator[] = [];
  /** The operator context of each node of the chain, by position in the vertex. */
  readonly contexts: OperatorContext[] = [];
  /** Runtime operators of each stream node of the chain, by node index. */
  readonly nodeOps = new Map<number, StreamOperator[]>();
  /** Where the head's records go: the chain after a source, or the head operator's output. */
  headOutput!: NodeOutput;
  /** The head operator, for a task fed by input channels; undefined for a source task. */
  head: StreamOperator | undefined;
  readonly #d: TaskDeployment;
  readonly #name: string;
  readonly #restored = new Map<number, LoadedOperatorState>();
  readonly #functionCopies = new Map<object, object>();

  constructor(d: TaskDeployment, name: string) {
    this.#d = d;
    this.#name = name;
  }

  get vertex(): JobVertex {
    return this.#d.vertex;
  }

  /** What a restore loaded for the node (splits of a source among it). */
  restoredOf(nodeIndex: number): LoadedOperatorState | undefined {
    return this.#restored.get(nodeIndex);
  }

  /**
   * Builds writers, contexts (restoring their state), operators and outputs, and compiles the
   * outputs. `recordsOut` counts what the writers send.
   */
  async build(
    hooks: ChainHooks,
    scheduler: Scheduler,
    backpressure: Backpressure,
    metrics: { readonly registry: MetricRegistry; readonly task: ScopedMetricGroup; readonly recordsOut: SimpleCounter },
  ): Promise<void> {
    const d = this.#d;
    const buffer = { records: d.config.get('weir.network.buffer-records'), bytes: d.config.get('weir.network.buffer-bytes') };
    const opOf = new Map<number, StreamOperator>();
    const nodes = d.vertex.nodes;
    const headNode = nodes[0]!;
    const writersOfEdge = new Map<number, RecordWriter>();
    for (const edge of d.vertex.outputs) {
      const channels = d.outputs.get(edge.index);
      if (!channels) throw new Error(`internal: no channels for edge ${edge.index} of ${this.#name}`);
      const select = createSelector(
        edge.partitioner,
        channels.length,
        d.subtaskIndex,
        edge.target.parallelism,
        edge.target.maxParallelism,
        edge.target.name,
      );
      const w = new RecordWriter(channels, select, buffer, backpressure, metrics.recordsOut);
      w.onError = (e) => hooks.fail(e);
      writersOfEdge.set(edge.index, w);
      this.writers.push(w);
    }

    for (const node of nodes) {
      const ctx = this.#context(node, scheduler, hooks, operatorMetricGroup(metrics.task, metrics.registry, d.scheduler, node.name, node.operatorId));
      this.contexts.push(ctx);
      await this.#restoreBackends(node, ctx);
      if (node.transformation.kind === 'source') continue;
      const op = createOperator(ctx);
      opOf.set(node.index, op);
      this.nodeOps.set(node.index, [op]);
      this.operators.push(op);
    }

    const inChain = new Set(nodes.map((n) => n.index));
    const outputs: NodeOutput[] = [];
    const outputOf = (edges: readonly StreamEdge[]): NodeOutput => {
      const targets: ChainTarget[] = [];
      const writers: RecordWriter[] = [];
      for (const e of edges) {
        const w = writersOfEdge.get(e.index);
        if (w) writers.push(w);
        else if (inChain.has(e.target.index)) targets.push({ op: opOf.get(e.target.index)!, input: e.targetInput });
      }
      return new NodeOutput(targets, writers, new Map());
    };
    const fullOutput = (node: StreamNode): NodeOutput => {
      const main = outputOf(node.outputs.filter((e) => e.sideOutputTag === undefined));
      const tags = new Set(node.outputs.map((e) => e.sideOutputTag).filter((t): t is string => t !== undefined));
      const side = new Map<string, NodeOutput>();
      for (const tag of tags) side.set(tag, outputOf(node.outputs.filter((e) => e.sideOutputTag === tag)));
      outputs.push(...side.values());
      const full = new NodeOutput(main.targets, main.writers, side);
      outputs.push(full);
      return full;
    };
    for (const node of nodes) {
      const op = opOf.get(node.index);
      if (op) op.output = fullOutput(node);
    }

    if (headNode.transformation.kind === 'source') {
      let headOutput = fullOutput(headNode);
      const wm = headNode.transformation.watermarkStrategy;
      if (wm) {
        // fromSource(source, strategy): timestamps and watermarks are produced inside the source task.
        const wmOp = new TimestampsAndWatermarksOperator(this.contexts[0]!, wm);
        wmOp.output = headOutput;
        this.operators.unshift(wmOp);
        this.nodeOps.set(headNode.index, [wmOp]);
        headOutput = new NodeOutput([{ op: wmOp, input: 0 }], [], new Map());
        outputs.push(headOutput);
      }
      this.headOutput = headOutput;
      this.head = undefined;
    } else {
      this.head = opOf.get(headNode.index)!;
      this.headOutput = this.head.output as NodeOutput;
    }
    for (const o of outputs) o.fuse();
  }

  /** Opens the operators tail first (Flink's order: every operator is ready before anything can emit into it), then restores their timers and watermarks. */
  async open(): Promise<void> {
    for (let i = this.operators.length - 1; i >= 0; i--) {
      const op = this.operators[i]!;
      try {
        await op.open();
      } catch (e) {
        throw tagError(e, op.ctx);
      }
    }
    for (const node of this.#d.vertex.nodes) {
      const loaded = this.#restored.get(node.index);
      if (!loaded) continue;
      const timers = loaded.keyed?.timers ?? [];
      for (const op of this.nodeOps.get(node.index) ?? []) {
        try {
          op.restoreExtras({ timers, watermark: loaded.watermark });
        } catch (e) {
          throw tagError(e, op.ctx);
        }
      }
    }
  }

  /** Closes every operator, head first; the first error is tagged and thrown. */
  async close(): Promise<void> {
    for (const op of this.operators) {
      try {
        await op.close();
      } catch (e) {
        throw tagError(e, op.ctx);
      }
    }
  }

  /**
   * Releases the keyed state backends (a RocksDB backend closes its instance and deletes its
   * working directory). Called once the task is over, whatever way it ended; idempotent.
   */
  disposeState(): void {
    for (const ctx of this.contexts) {
      try {
        ctx.keyedBackend?.dispose();
      } catch {
        // The task is over: a backend that cannot be released leaves only working files behind.
      }
    }
  }

  #backendScope(node: StreamNode): StateBackendScope {
    const d = this.#d;
    return { jobId: d.jobId, operatorId: node.operatorId, operatorName: node.name, subtaskIndex: d.subtaskIndex, parallelism: node.parallelism };
  }

  #context(node: StreamNode, scheduler: Scheduler, hooks: ChainHooks, metricGroup: ScopedMetricGroup): OperatorContext {
    const d = this.#d;
    const keyed = node.keySelectors.some((k) => k !== undefined);
    const copies = this.#functionCopies;
    return {
      node,
      jobId: d.jobId,
      taskName: this.#name,
      subtaskIndex: d.subtaskIndex,
      parallelism: node.parallelism,
      maxParallelism: node.maxParallelism,
      attemptNumber: d.attemptNumber,
      restored: d.restore !== undefined,
      restoredCheckpointId: d.restore?.checkpointId,
      config: d.config,
      scheduler,
      keyedBackend: keyed
        ? d.stateBackend.createKeyedStateBackend({
            ...this.#backendScope(node),
            maxParallelism: node.maxParallelism,
            keyGroupRange: keyGroupRangeForOperator(node.maxParallelism, node.parallelism, d.subtaskIndex),
          })
        : undefined,
      operatorStateBackend: d.stateBackend.createOperatorStateBackend(this.#backendScope(node)),
      metricGroup,
      suspendUntil: (p) => hooks.suspendUntil(p),
      print: (line, stderr) => d.report({ type: 'print', text: line, stderr }),
      collect: (collectId, values) => d.report({ type: 'collect', collectId, values, epoch: hooks.epoch }),
      userFunction: <F extends object>(fn: F): F => {
        if (!d.copyFunctions) return fn;
        let copy = copies.get(fn);
        if (!copy) {
          copy = copyFunction(fn);
          copies.set(fn, copy);
        }
        return copy as F;
      },
    };
  }

  /** Loads this node's part of the restored checkpoint into the backends of its context. */
  async #restoreBackends(node: StreamNode, ctx: OperatorContext): Promise<void> {
    const restore = this.#d.restore;
    const r = restore?.operators[node.operatorId];
    if (!restore || !r) return;
    const reader = checkpointReaderFor(restore.root);
    let loaded: LoadedOperatorState;
    try {
      const copy = reader.copyStatePayload?.bind(reader);
      const read: StateFileSource = Object.assign((h: StateFileHandle) => reader.readStateFile(restore.root, h), {
        copyTo: copy === undefined ? undefined : (h: StateFileHandle, dest: string) => copy(restore.root, h, dest),
      });
      loaded = await loadOperatorState(r, read, {
        stateBackend: this.#d.stateBackend,
        range: ctx.keyedBackend?.keyGroupRange,
        subtaskIndex: this.#d.subtaskIndex,
        parallelism: node.parallelism,
      });
      if (loaded.keyed?.restoreInto) {
        await loaded.keyed.restoreInto(ctx.keyedBackend!, { ownStorage: restore.root === this.#d.checkpointing?.storage.jobDir });
      }
      else if (loaded.keyed) ctx.keyedBackend!.restore(loaded.keyed.data);
      ctx.operatorStateBackend.restore(loaded.operatorState);
    } catch (e) {
      throw tagError(new Error(`restoring from checkpoint ${restore.checkpointId} failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e }), ctx);
    }
    this.#restored.set(node.index, loaded);
  }
}
