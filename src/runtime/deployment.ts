/**
 * Which channels a job needs. Every network edge connects producer subtasks to consumer
 * subtasks: all-to-all for partitioners that may send anywhere, point-wise for forward (i → i)
 * and rescale (each producer to a contiguous group of consumers, or the reverse).
 * A subtask with index i runs in slot i (slot sharing), so a channel is local exactly when both
 * ends have the same index.
 */
import type { JobGraph, StreamEdge } from '../graph/job-graph.ts';

export interface ChannelSpec {
  readonly id: string;
  readonly edge: StreamEdge;
  readonly producer: number;
  readonly consumer: number;
}

/** Consumer subtasks a producer subtask writes to, in the order its partitioner addresses them. */
export function consumersOf(edge: StreamEdge, producer: number): number[] {
  const p = edge.source.parallelism;
  const c = edge.target.parallelism;
  switch (edge.partitioner.kind) {
    case 'forward':
      return [producer];
    case 'rescale':
      if (p >= c) return [Math.floor((producer * c) / p)];
      return range(c).filter((j) => Math.floor((j * p) / c) === producer);
    default:
      return range(c);
  }
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

export function isNetworkEdge(graph: JobGraph, edge: StreamEdge): boolean {
  return graph.vertexOfNode[edge.source.index] !== graph.vertexOfNode[edge.target.index];
}

export function planChannels(graph: JobGraph): ChannelSpec[] {
  const out: ChannelSpec[] = [];
  for (const edge of graph.edges) {
    if (!isNetworkEdge(graph, edge)) continue;
    for (let i = 0; i < edge.source.parallelism; i++) {
      for (const j of consumersOf(edge, i)) out.push({ id: `${edge.index}:${i}:${j}`, edge, producer: i, consumer: j });
    }
  }
  return out;
}

export function slotCount(graph: JobGraph): number {
  return Math.max(...graph.vertices.map((v) => v.parallelism));
}
