/**
 * Where a chained node's records go: the chained operators after it, the network writers of its
 * outgoing edges, and its side outputs by tag.
 *
 * Each output's `collect` is compiled for that output alone (`fuse`): the straight run of
 * chained maps and filters after it, and the operator or writer the run ends in, become one
 * generated function whose call sites each see a single user function. A shared dispatch loop
 * sees every operator class of the process at one call site, which V8 cannot inline; the
 * compiled chain lets it inline the user functions into the loop that produces the records, as
 * if the chain had been written by hand. The behaviour is the same record by record: user
 * errors are tagged with their operator, a sink's returned promise suspends the task.
 */
import type { ChannelEvent } from './events.ts';
import { FilterOperator, MapOperator } from './operators/basic-operators.ts';
import { tagError, type Output, type StreamOperator } from './operators/operator.ts';
import { isPromise, SinkFunctionOperator } from './operators/sink-operators.ts';
import type { RecordWriter } from './record-writer.ts';

export interface ChainTarget {
  readonly op: StreamOperator;
  readonly input: 0 | 1;
}

export type Collect = (value: unknown, timestamp: number) => void;

/** Emits the numbers from..to (inclusive) without timestamps, as `collect` would one by one. */
export type CollectRange = (from: number, to: number) => void;

export class NodeOutput implements Output {
  /** This output's compiled path once `fuse()` ran; the generic fan-out before. */
  collect: Collect;
  /**
   * The compiled path with the loop over a number range inside it, for the built-in sequence
   * source: the loop then calls the chain from a call site of this output's own, which stays
   * monomorphic even when the process has run other jobs' chains through the shared reader code.
   */
  collectRange: CollectRange | undefined = undefined;

  constructor(
    readonly targets: readonly ChainTarget[],
    readonly writers: readonly RecordWriter[],
    readonly side: ReadonlyMap<string, NodeOutput>,
  ) {
    this.collect = (value, timestamp) => this.collectEach(value, timestamp);
  }

  /** Compiles `collect` for this output; call once every operator's output is in place. */
  fuse(): void {
    const compiled = compile(this);
    this.collect = compiled.collect;
    this.collectRange = compiled.range;
  }

  /** Hands the record to every chained target, then to every writer. */
  collectEach(value: unknown, timestamp: number): void {
    const t = this.targets;
    for (let i = 0; i < t.length; i++) {
      const target = t[i]!;
      try {
        target.op.processElement(value, timestamp, target.input);
      } catch (e) {
        throw tagError(e, target.op.ctx);
      }
    }
    const w = this.writers;
    for (let i = 0; i < w.length; i++) w[i]!.emit(value, timestamp);
  }
  collectSide(tag: string, value: unknown, timestamp: number): void {
    this.side.get(tag)?.collect(value, timestamp);
  }
  emitWatermark(watermark: number): void {
    for (const t of this.targets) {
      try {
        t.op.processWatermark(watermark);
      } catch (e) {
        throw tagError(e, t.op.ctx);
      }
    }
    const event: ChannelEvent = { kind: 'watermark', timestamp: watermark };
    for (const w of this.writers) w.broadcastEvent(event);
    for (const s of this.side.values()) s.emitWatermark(watermark);
  }
  emitWatermarkStatus(idle: boolean): void {
    for (const t of this.targets) t.op.processWatermarkStatus(idle);
    const event: ChannelEvent = { kind: 'watermark-status', idle };
    for (const w of this.writers) w.broadcastEvent(event);
    for (const s of this.side.values()) s.emitWatermarkStatus(idle);
  }
}

/** The single chained operator an output feeds, when it feeds exactly one and nothing else. */
function soleTarget(out: NodeOutput): ChainTarget | undefined {
  return out.targets.length === 1 && out.writers.length === 0 && out.side.size === 0 ? out.targets[0] : undefined;
}

/** Stateless operators whose effect is a pure function call; a keyed one also sets the current key, so it stays out. */
function fusable(t: ChainTarget): t is ChainTarget & { op: MapOperator | FilterOperator } {
  const kind: unknown = t.op.constructor;
  if (kind !== MapOperator && kind !== FilterOperator) return false;
  return t.op.ctx.node.keySelectors[t.input] === undefined;
}

/** Numbers the generated sources, so that no two are identical (see compile). */
let compiledChains = 0;

/** Longest chain compiled into one function; the rest continues through the last stage's own output. */
const MAX_STAGES = 16;

function compile(out: NodeOutput): { collect: Collect; range: CollectRange } {
  const refs: unknown[] = [];
  const ref = (value: unknown): string => {
    refs.push(value);
    return `r${refs.length - 1}`;
  };
  // SKIP ends the current record: `return` in the one-record function, `continue` in the range loop.
  const lines: string[] = [];
  let x = 'v';
  let cur = out;
  for (let stage = 0; stage < MAX_STAGES; stage++) {
    const t = soleTarget(cur);
    if (t === undefined || !fusable(t)) break;
    const fn = ref(t.op.fn);
    const ctx = ref(t.op.ctx);
    const y = `x${stage}`;
    if (t.op instanceof MapOperator) {
      lines.push(`let ${y}; try { ${y} = ${fn}.map(${x}); } catch (e) { throw tag(e, ${ctx}); }`);
      x = y;
    } else {
      lines.push(`let ${y}; try { ${y} = ${fn}.filter(${x}); } catch (e) { throw tag(e, ${ctx}); }`, `if (!${y}) SKIP;`);
    }
    cur = t.op.output as NodeOutput;
  }
  const end = soleTarget(cur);
  if (end !== undefined && end.op.constructor === SinkFunctionOperator) {
    const sink = end.op as SinkFunctionOperator;
    const s = ref(sink);
    const fn = ref(sink.fn);
    const ctx = ref(sink.ctx);
    const promise = ref(isPromise);
    // The same steps as SinkFunctionOperator.processElement, with this chain's own call site for invoke.
    lines.push(
      `if (${s}.queued !== null) { ${s}.queued.push(${x}, ts); SKIP; }`,
      `${s}.currentTimestamp = ts;`,
      `let r; try { r = ${fn}.invoke(${x}, ${s}); } catch (e) { throw tag(e, ${ctx}); }`,
      `if (${promise}(r)) ${s}.waitFor(r);`,
    );
  } else if (end !== undefined) {
    lines.push(`try { ${ref(end.op)}.processElement(${x}, ts, ${end.input}); } catch (e) { throw tag(e, ${ref(end.op.ctx)}); }`);
  } else if (cur.targets.length === 0 && cur.writers.length === 1 && cur.side.size === 0) {
    lines.push(`${ref(cur.writers[0])}.emit(${x}, ts);`);
  } else {
    lines.push(`${ref(cur)}.collectEach(${x}, ts);`);
  }
  const bindings = refs.map((_, i) => `const r${i} = refs[${i}];`).join('\n');
  const one = lines.join('\n').replaceAll('SKIP', 'return');
  const each = lines.join('\n').replaceAll('SKIP', 'continue');
  const body = [
    // V8 caches the code of identical generated sources together with their type feedback, so
    // every chain of the same shape would share (and pollute) one set of call-site feedback; a
    // unique line keeps each output's feedback its own.
    `// compiled chain ${++compiledChains}`,
    bindings,
    'return {',
    `collect: function fusedCollect(v, ts) {\nif (ts === undefined) ts = -Infinity;\n${one}\n},`,
    `range: function fusedRange(from, to) {\nconst ts = -Infinity;\nfor (let v = from; v <= to; v++) {\n${each}\n}\n},`,
    '};',
  ].join('\n');
  // eslint-disable-next-line @typescript-eslint/no-implied-eval -- generated from the chain's shape only; no user text enters the source
  return new Function('refs', 'tag', body)(refs, tagError) as { collect: Collect; range: CollectRange };
}
