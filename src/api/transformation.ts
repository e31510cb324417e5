/**
 * The logical pipeline the DataStream API builds: an immutable-shaped tree of transformations,
 * each a `kind`-tagged node. Physical nodes (sources, operators, sinks) become operators;
 * virtual nodes (union, partition, side-output) only shape the edges between them.
 * Operators are described by data (`OperatorSpec`), never by runtime classes, so this layer does
 * not depend on the runtime.
 */
import type {
  CoFlatMapFunction,
  CoMapFunction,
  CoProcessFunction,
  FilterFunction,
  FlatMapFunction,
  KeyedCoProcessFunction,
  KeyedProcessFunction,
  KeySelector,
  MapFunction,
  OutputTag,
  ProcessFunction,
  ReduceFunction,
  SinkFunction,
  SourceFunction,
} from './functions.ts';
import type { Sink } from './sink.ts';
import type { Source, SourceSplit } from './source.ts';
import type { WatermarkStrategy } from './watermark-strategy.ts';

/** Settings every physical node carries; set through the fluent API after the node is created. */
export interface NodeSettings {
  name: string;
  uid: string | undefined;
  /** undefined: the environment's default parallelism. */
  parallelism: number | undefined;
  maxParallelism: number | undefined;
  /** 'never': neither chains to its input nor lets outputs chain to it; 'head': starts a new chain. */
  chaining: 'default' | 'never' | 'head';
  /** True when the parallelism was set explicitly on this node. */
  parallelismFixed: boolean;
}

export type SourceSpec =
  | { readonly kind: 'sequence'; readonly from: number; readonly to: number }
  | { readonly kind: 'elements'; readonly values: readonly unknown[] }
  | { readonly kind: 'source-function'; readonly fn: SourceFunction<unknown>; readonly parallel: boolean }
  | { readonly kind: 'source'; readonly source: Source<unknown, SourceSplit> };

/** A reduce over a field for sum/min/max, or a user reduce function. */
export type AggregationSpec =
  | { readonly kind: 'reduce'; readonly fn: ReduceFunction<unknown> }
  | { readonly kind: 'sum' | 'min' | 'max'; readonly field: string | number | undefined };

export type OneInputSpec =
  | { readonly kind: 'map'; readonly fn: MapFunction<unknown, unknown> }
  | { readonly kind: 'filter'; readonly fn: FilterFunction<unknown> }
  | { readonly kind: 'flat-map'; readonly fn: FlatMapFunction<unknown, unknown> }
  | { readonly kind: 'process'; readonly fn: ProcessFunction<unknown, unknown> }
  | { readonly kind: 'keyed-process'; readonly fn: KeyedProcessFunction<unknown, unknown, unknown> }
  | { readonly kind: 'aggregate'; readonly aggregation: AggregationSpec }
  | { readonly kind: 'timestamps-watermarks'; readonly strategy: WatermarkStrategy<unknown> };

export type TwoInputSpec =
  | { readonly kind: 'co-map'; readonly fn: CoMapFunction<unknown, unknown, unknown> }
  | { readonly kind: 'co-flat-map'; readonly fn: CoFlatMapFunction<unknown, unknown, unknown> }
  | { readonly kind: 'co-process'; readonly fn: CoProcessFunction<unknown, unknown, unknown> }
  | { readonly kind: 'keyed-co-process'; readonly fn: KeyedCoProcessFunction<unknown, unknown, unknown, unknown> };

export type SinkSpec =
  | { readonly kind: 'sink-function'; readonly fn: SinkFunction<unknown> }
  | { readonly kind: 'print'; readonly prefix: string | undefined; readonly stderr: boolean }
  | { readonly kind: 'collect'; readonly collectId: string }
  | { readonly kind: 'sink-writer'; readonly sink: Sink<unknown, unknown, unknown> };

export type PartitionerSpec =
  | { readonly kind: 'forward' }
  | { readonly kind: 'hash'; readonly keySelector: KeySelector<unknown, unknown> }
  | { readonly kind: 'rebalance' }
  | { readonly kind: 'rescale' }
  | { readonly kind: 'broadcast' }
  | { readonly kind: 'shuffle' }
  | { readonly kind: 'global' };

export type PartitionerKind = PartitionerSpec['kind'];

export interface SourceTransformation {
  readonly kind: 'source';
  readonly id: number;
  readonly settings: NodeSettings;
  readonly source: SourceSpec;
  readonly watermarkStrategy: WatermarkStrategy<unknown> | undefined;
}

export interface OneInputTransformation {
  readonly kind: 'one-input';
  readonly id: number;
  readonly settings: NodeSettings;
  readonly input: Transformation;
  readonly operator: OneInputSpec;
  /** Present when the operator runs on a keyed stream. */
  readonly keySelector: KeySelector<unknown, unknown> | undefined;
}

export interface TwoInputTransformation {
  readonly kind: 'two-input';
  readonly id: number;
  readonly settings: NodeSettings;
  readonly input1: Transformation;
  readonly input2: Transformation;
  readonly operator: TwoInputSpec;
  readonly keySelector1: KeySelector<unknown, unknown> | undefined;
  readonly keySelector2: KeySelector<unknown, unknown> | undefined;
}

export interface SinkTransformation {
  readonly kind: 'sink';
  readonly id: number;
  readonly settings: NodeSettings;
  readonly input: Transformation;
  readonly sink: SinkSpec;
}

export interface UnionTransformation {
  readonly kind: 'union';
  readonly id: number;
  readonly inputs: readonly Transformation[];
}

export interface PartitionTransformation {
  readonly kind: 'partition';
  readonly id: number;
  readonly input: Transformation;
  readonly partitioner: PartitionerSpec;
}

export interface SideOutputTransformation {
  readonly kind: 'side-output';
  readonly id: number;
  readonly input: Transformation;
  readonly tag: OutputTag<unknown>;
}

export type PhysicalTransformation =
  | SourceTransformation
  | OneInputTransformation
  | TwoInputTransformation
  | SinkTransformation;

export type Transformation =
  | PhysicalTransformation
  | UnionTransformation
  | PartitionTransformation
  | SideOutputTransformation;

export function isPhysical(t: Transformation): t is PhysicalTransformation {
  return t.kind === 'source' || t.kind === 'one-input' || t.kind === 'two-input' || t.kind === 'sink';
}

export function defaultSettings(name: string): NodeSettings {
  return { name, uid: undefined, parallelism: undefined, maxParallelism: undefined, chaining: 'default', parallelismFixed: false };
}
