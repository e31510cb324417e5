/**
 * The seed's UserVisitCountFunction, shared by the visit-count and savepoint examples: visits
 * per user counted in keyed ValueState (so checkpoints and savepoints carry the count over),
 * printed as "<user> 访问次数: <count>".
 */
import { KeyedProcessFunction, ValueStateDescriptor, type Collector, type KeyedProcessContext, type ValueState } from 'weir';
import type { Event } from './event.ts';

export class UserVisitCountFunction extends KeyedProcessFunction<string, Event, string> {
  private visitCountState!: ValueState<number>;

  override open(): void {
    this.visitCountState = this.getRuntimeContext().getState(new ValueStateDescriptor<number>('visit-count'));
  }

  processElement(value: Event, _ctx: KeyedProcessContext<string>, out: Collector<string>): void {
    const count = (this.visitCountState.value() ?? 0) + 1;
    this.visitCountState.update(count);
    out.collect(`${value.user} 访问次数: ${count}`);
  }
}
