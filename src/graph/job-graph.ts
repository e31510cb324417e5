/**
 * Turns the API's transformation tree into the graph the runtime deploys:
 *  - stream nodes: one per physical transformation (source, operator, sink) with resolved
 *    parallelism, max parallelism and a stable operator id;
 *  - stream edges: physical producer → consumer with a partitioner (virtual union, partition
 *    and side-output nodes are folded into edges);
 *  - job vertices: chains of nodes joined by forward edges of equal parallelism, which run as
 *    one task and pass records by direct call.
 * Everything here is deterministic, so the launcher and every worker derive the same graph and
 * can compare fingerprints.
 */
import { createHash } from 'node:crypto';
import type { KeySelector } from '../api/functions.ts';
import type { Pipeline } from '../api/execution-context.ts';
import {
  isPhysical,
  type PartitionerSpec,
  type PhysicalTransformation,
  type Transformation,
} from '../api/transformation.ts';
import { defaultMaxParallelism, validateParallelism } from '../core/key-group.ts';

export type { OperatorId } from '../core/ids.ts';
import { asOperatorId, type OperatorId } from '../core/ids.ts';

export interface StreamNode {
  /** Index in topological (creation) order. */
  readonly index: number;
  readonly transformation: PhysicalTransformation;
  readonly name: string;
  readonly uid: string | undefined;
  readonly operatorId: OperatorId;
  readonly parallelism: number;
  readonly maxParallelism: number;
  /** Key selector per input when the operator is keyed (one entry for one-input operators). */
  readonly keySelectors: readonly (KeySelector<unknown, unknown> | undefined)[];
  readonly inputs: StreamEdge[];
  readonly outputs: StreamEdge[];
}

export interface StreamEdge {
  readonly index: number;
  readonly source: StreamNode;
  readonly target: StreamNode;
  /** 0 or 1: which input of a two-input operator. */
  readonly targetInput: 0 | 1;
  readonly partitioner: PartitionerSpec;
  /** Set when the edge carries a side output of the source node. */
  readonly sideOutputTag: string | undefined;
}

export interface JobVertex {
  readonly index: number;
  readonly name: string;
  readonly parallelism: number;
  readonly maxParallelism: number;
  /** Nodes of the chain; the first is the head. Chained nodes appear after their producer. */
  readonly nodes: readonly StreamNode[];
  /** Network edges into the head node. */
  readonly inputs: readonly StreamEdge[];
  /** Network edges leaving any node of the chain. */
  readonly outputs: readonly StreamEdge[];
}

export interface JobGraph {
  readonly jobName: string;
  readonly nodes: readonly StreamNode[];
  readonly edges: readonly StreamEdge[];
  readonly vertices: readonly JobVertex[];
  /** Vertex of each node, by node index. */
  readonly vertexOfNode: readonly number[];
  /** Hash over everything that decides deployment; equal graphs have equal fingerprints. */
  readonly fingerprint: string;
  /** Line-per-node description, used to report where two graphs differ. */
  readonly description: readonly string[];
  /** Nodes that got an id from their position because they have no uid. */
  readonly nodesWithoutUid: readonly StreamNode[];
}

export class GraphError extends Error {
  override readonly name = 'GraphError';
}

interface Producer {
  node: PhysicalTransformation;
  partitioner: PartitionerSpec | undefined;
  sideOutputTag: string | undefined;
}

/** Follows virtual nodes up to the physical producers, collecting partitioner and side-output tag. */
function resolveProducers(t: Transformation, partitioner?: PartitionerSpec, tag?: string): Producer[] {
  switch (t.kind) {
    case 'source':
    case 'one-input':
    case 'two-input':
    case 'sink':
      return [{ node: t, partitioner, sideOutputTag: tag }];
    case 'union':
      return t.inputs.flatMap((i) => resolveProducers(i, partitioner, tag));
    case 'partition':
      return resolveProducers(t.input, partitioner ?? t.partitioner, tag);
    case 'side-output':
      if (tag !== undefined) throw new GraphError('a side output of a side output is not supported');
      return resolveProducers(t.input, partitioner, t.tag.id);
  }
}

function inputsOf(t: PhysicalTransformation): [Transformation, 0 | 1][] {
  switch (t.kind) {
    case 'source':
      return [];
    case 'one-input':
    case 'sink':
      return [[t.input, 0]];
    case 'two-input':
      return [
        [t.input1, 0],
        [t.input2, 1],
      ];
  }
}

function sha(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 32);
}

export function buildJobGraph(pipeline: Pipeline): JobGraph {
  const config = pipeline.config;
  const defaultParallelism = config.get('parallelism.default');
  const envMaxParallelism = config.get('pipeline.max-parallelism');

  // Physical transformations reachable from those registered, in creation (id) order.
  const all = new Map<number, PhysicalTransformation>();
  const visit = (t: Transformation): void => {
    if (isPhysical(t)) {
      if (all.has(t.id)) return;
      all.set(t.id, t);
      for (const [i] of inputsOf(t)) visit(i);
    } else if (t.kind === 'union') t.inputs.forEach(visit);
    else visit(t.input);
  };
  pipeline.transformations.forEach(visit);
  const ordered = [...all.values()].sort((a, b) => a.id - b.id);

  const nodes: StreamNode[] = [];
  const nodeOf = new Map<number, StreamNode>();
  const uids = new Map<string, string>();
  for (const t of ordered) {
    const parallelism = t.settings.parallelism ?? defaultParallelism;
    const maxParallelism = t.settings.maxParallelism ?? envMaxParallelism ?? defaultMaxParallelism(parallelism);
    validateParallelism(parallelism, maxParallelism, t.settings.name);
    const uid = t.settings.uid;
    if (uid !== undefined) {
      const prior = uids.get(uid);
      if (prior !== undefined) {
        throw new GraphError(`uid "${uid}" is used by two operators ("${prior}" and "${t.settings.name}"); uids must be unique within a job`);
      }
      uids.set(uid, t.settings.name);
    }
    const keySelectors =
      t.kind === 'one-input' ? [t.keySelector] : t.kind === 'two-input' ? [t.keySelector1, t.keySelector2] : [];
    const inputIds = inputsOf(t)
      .flatMap(([i]) => resolveProducers(i))
      .map((p) => nodeOf.get(p.node.id)!.operatorId);
    const specKind = t.kind === 'source' ? t.source.kind : t.kind === 'sink' ? t.sink.kind : t.operator.kind;
    const operatorId = asOperatorId(uid !== undefined ? sha(`uid:${uid}`) : sha(`auto:${nodes.length}:${t.kind}:${specKind}:${inputIds.join(',')}`));
    const node: StreamNode = {
      index: nodes.length,
      transformation: t,
      name: t.settings.name,
      uid,
      operatorId,
      parallelism,
      maxParallelism,
      keySelectors,
      inputs: [],
      outputs: [],
    };
    nodes.push(node);
    nodeOf.set(t.id, node);
  }

  const edges: StreamEdge[] = [];
  for (const node of nodes) {
    for (const [input, targetInput] of inputsOf(node.transformation)) {
      for (const p of resolveProducers(input)) {
        const source = nodeOf.get(p.node.id)!;
        if (source.transformation.kind === 'sink') throw new GraphError(`"${source.name}" is a sink and has no output`);
        const partitioner = p.partitioner ?? (source.parallelism === node.parallelism ? { kind: 'forward' as const } : { kind: 'rebalance' as const });
        if (partitioner.kind === 'forward' && source.parallelism !== node.parallelism) {
          throw new GraphError(
            `forward partitioning from "${source.name}" (parallelism ${source.parallelism}) to "${node.name}" (parallelism ${node.parallelism}) is not possible: forward needs equal parallelism; use rebalance() or rescale()`,
          );
        }
        const edge: StreamEdge = { index: edges.length, source, target: node, targetInput, partitioner, sideOutputTag: p.sideOutputTag };
        edges.push(edge);
        source.outputs.push(edge);
        node.inputs.push(edge);
      }
    }
    if (node.transformation.kind === 'two-input' && node.keySelectors[0] !== undefined) {
      for (const e of node.inputs) {
        if (e.partitioner.kind !== 'hash') throw new GraphError(`keyed two-input operator "${node.name}" needs both inputs partitioned by key`);
      }
    }
    if (node.keySelectors[0] !== undefined && node.transformation.kind === 'one-input') {
      for (const e of node.inputs) {
        if (e.partitioner.kind !== 'hash') {
          throw new GraphError(`keyed operator "${node.name}" must directly follow keyBy(); a repartitioning in between would break the key assignment`);
        }
      }
    }
  }

  // Chaining: a node joins its producer's chain when the only edge into it is a forward edge
  // from a producer of equal parallelism and neither side opted out.
  const chainable = (e: StreamEdge): boolean =>
    e.target.inputs.length === 1 &&
    e.partitioner.kind === 'forward' &&
    e.source.parallelism === e.target.parallelism &&
    e.target.transformation.kind !== 'source' &&
    e.source.transformation.settings.chaining !== 'never' &&
    e.target.transformation.settings.chaining === 'default';

  const vertexOfNode: number[] = new Array(nodes.length).fill(-1);
  const vertices: JobVertex[] = [];
  for (const node of nodes) {
    if (vertexOfNode[node.index] !== -1) continue;
    const head = node.inputs.length === 1 && chainable(node.inputs[0]!) ? undefined : node;
    if (!head) continue; // picked up from its producer's chain below
    const members: StreamNode[] = [];
    const stack = [head];
    while (stack.length > 0) {
      const n = stack.shift()!;
      members.push(n);
      vertexOfNode[n.index] = vertices.length;
      for (const e of n.outputs) if (chainable(e)) stack.push(e.target);
    }
    members.sort((a, b) => a.index - b.index);
    const inChain = new Set(members.map((m) => m.index));
    vertices.push({
      index: vertices.length,
      name: members.map((m) => m.name).join(' -> '),
      parallelism: head.parallelism,
      maxParallelism: head.maxParallelism,
      nodes: members,
      inputs: head.inputs,
      outputs: members.flatMap((m) => m.outputs.filter((e) => !(chainable(e) && inChain.has(e.target.index)))),
    });
  }
  for (const n of nodes) {
    if (vertexOfNode[n.index] === -1) throw new GraphError(`internal: node "${n.name}" was not placed in a chain`);
  }

  const description = nodes.map(
    (n) =>
      `${n.index} ${n.transformation.kind}:${n.transformation.kind === 'source' ? n.transformation.source.kind : n.transformation.kind === 'sink' ? n.transformation.sink.kind : n.transformation.operator.kind} "${n.name}" id=${n.operatorId} p=${n.parallelism}/${n.maxParallelism} in=[${n.inputs
        .map((e) => `${e.source.index}:${e.partitioner.kind}${e.sideOutputTag ? '#' + e.sideOutputTag : ''}>${e.targetInput}`)
        .join(',')}]`,
  );
  return {
    jobName: pipeline.jobName,
    nodes,
    edges,
    vertices,
    vertexOfNode,
    fingerprint: sha(description.join('\n')),
    description,
    nodesWithoutUid: nodes.filter((n) => n.uid === undefined),
  };
}

/** The first line where two graph descriptions differ, for error messages. */
export function firstDifference(a: readonly string[], b: readonly string[]): string {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return `launcher: ${a[i] ?? '(no node)'} / worker: ${b[i] ?? '(no node)'}`;
  }
  return 'no difference';
}
