/**
 * Builds the runtime operator for a stream node. Dispatch goes through one table per spec
 * family, so a new operator kind fails to compile until it is handled here.
 */
import type { OneInputSpec, SinkSpec, TwoInputSpec } from '../../api/transformation.ts';
import { AggregateOperator } from './aggregate-operator.ts';
import { FilterOperator, FlatMapOperator, MapOperator } from './basic-operators.ts';
import type { OperatorContext, StreamOperator } from './operator.ts';
import { CoOperator, ProcessOperator } from './process-operators.ts';
import { CollectOperator, PrintOperator, SinkFunctionOperator } from './sink-operators.ts';
import { SinkWriterOperator } from './sink-writer-operator.ts';
import { TimestampsAndWatermarksOperator } from './watermark-operator.ts';

type Factories<S extends { kind: string }> = {
  [K in S['kind']]: (ctx: OperatorContext, spec: Extract<S, { kind: K }>) => StreamOperator;
};

const oneInput: Factories<OneInputSpec> = {
  map: (ctx, s) => new MapOperator(ctx, s.fn),
  filter: (ctx, s) => new FilterOperator(ctx, s.fn),
  'flat-map': (ctx, s) => new FlatMapOperator(ctx, s.fn),
  process: (ctx, s) => new ProcessOperator(ctx, s.fn),
  'keyed-process': (ctx, s) => new ProcessOperator(ctx, s.fn),
  aggregate: (ctx, s) => new AggregateOperator(ctx, s.aggregation),
  'timestamps-watermarks': (ctx, s) => new TimestampsAndWatermarksOperator(ctx, s.strategy),
};

const twoInput: Factories<TwoInputSpec> = {
  'co-map': (ctx, s) => new CoOperator(ctx, s.fn, 'co-map'),
  'co-flat-map': (ctx, s) => new CoOperator(ctx, s.fn, 'co-flat-map'),
  'co-process': (ctx, s) => new CoOperator(ctx, s.fn, 'co-process'),
  'keyed-co-process': (ctx, s) => new CoOperator(ctx, s.fn, 'keyed-co-process'),
};

const sinks: Factories<SinkSpec> = {
  'sink-function': (ctx, s) => new SinkFunctionOperator(ctx, s.fn),
  print: (ctx, s) => new PrintOperator(ctx, s.prefix, s.stderr),
  collect: (ctx, s) => new CollectOperator(ctx, s.collectId),
  'sink-writer': (ctx, s) => new SinkWriterOperator(ctx, s.sink),
};

function build<S extends { kind: string }>(table: Factories<S>, ctx: OperatorContext, spec: S): StreamOperator {
  return (table[spec.kind as S['kind']] as (c: OperatorContext, s: S) => StreamOperator)(ctx, spec);
}

/** The operator for a non-source node. */
export function createOperator(ctx: OperatorContext): StreamOperator {
  const t = ctx.node.transformation;
  switch (t.kind) {
    case 'one-input':
      return build(oneInput, ctx, t.operator);
    case 'two-input':
      return build(twoInput, ctx, t.operator);
    case 'sink':
      return build(sinks, ctx, t.sink);
    case 'source':
      throw new Error(`internal: "${t.settings.name}" is a source, not an operator`);
  }
}
