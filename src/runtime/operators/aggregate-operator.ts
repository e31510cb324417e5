/**
 * Keyed rolling aggregations: reduce, sum, min, max. Each record updates the key's aggregate
 * (kept in ValueState) and the updated aggregate is emitted, as Flink's keyed reduce does.
 * sum/min/max on a field keep the other fields of the first record of the key.
 */
import type { AggregationSpec } from '../../api/transformation.ts';
import { ValueStateDescriptor, type ValueState } from '../../api/state.ts';
import { StreamOperator, type OperatorContext } from './operator.ts';

function copyWith(record: unknown, field: string | number, value: unknown): unknown {
  if (Array.isArray(record)) {
    const c = record.slice();
    c[field as number] = value;
    return c;
  }
  const c = Object.assign(Object.create(Object.getPrototypeOf(record as object)), record);
  c[field] = value;
  return c;
}

function fieldOf(record: unknown, field: string | number | undefined, where: string): unknown {
  if (field === undefined) return record;
  if (record === null || typeof record !== 'object') {
    throw new TypeError(`${where}: cannot read field ${JSON.stringify(field)} of a ${typeof record} record`);
  }
  return (record as Record<string | number, unknown>)[field];
}

type Combine = (acc: unknown, value: unknown) => unknown;

function combiner(spec: AggregationSpec, where: string): Combine {
  if (spec.kind === 'reduce') return (a, b) => spec.fn.reduce(a, b);
  const field = spec.field;
  const pick =
    spec.kind === 'sum'
      ? (a: any, b: any) => a + b
      : spec.kind === 'min'
        ? (a: any, b: any) => (b < a ? b : a)
        : (a: any, b: any) => (b > a ? b : a);
  return (acc, value) => {
    const a = fieldOf(acc, field, where);
    const b = fieldOf(value, field, where);
    if (typeof a !== typeof b || (typeof a !== 'number' && typeof a !== 'bigint')) {
      throw new TypeError(`${where}: ${spec.kind}(${field === undefined ? '' : JSON.stringify(field)}) needs numbers (or bigints), got ${typeof a} and ${typeof b}`);
    }
    const r = pick(a, b);
    return field === undefined ? r : copyWith(acc, field, r);
  };
}

export class AggregateOperator extends StreamOperator {
  #state!: ValueState<unknown>;
  readonly #combine: Combine;

  constructor(ctx: OperatorContext, spec: AggregationSpec) {
    super(ctx);
    this.#combine = combiner(spec, `"${ctx.node.name}"`);
  }
  override open(): void {
    this.#state = this.ctx.keyedBackend!.getValueState(new ValueStateDescriptor<unknown>('_op_state'));
  }
  processElement(value: unknown, timestamp: number): void {
    this.setKeyFromElement(value, 0);
    const current = this.#state.value();
    const next = current === undefined ? value : this.#combine(current, value);
    this.#state.update(next);
    this.output.collect(next, timestamp);
  }
}
