/**
 * End to end: mistakes in jobs end in a clear error that names the operator or setting at
 * fault — never in a hang. Every case fails its test if no error arrives within 20 s.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  GraphError,
  JobExecutionError,
  ProcessFunction,
  RichMapFunction,
  StreamExecutionEnvironment,
  ValueStateDescriptor,
  type Collector,
  type ProcessContext,
} from 'weir';
import { runJob } from 'weir/testing';

const LIMIT_MS = 20_000;

class Hang extends Error {}
class NoFailure extends Error {}

/** Runs `job` and returns the error it fails with; fails the test on success or after 20 s. */
async function failure(job: () => Promise<unknown>): Promise<Error> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Hang(`no error within ${LIMIT_MS} ms: the job hangs`)), LIMIT_MS);
  });
  try {
    await Promise.race([
      (async () => {
        await job();
        throw new NoFailure('the job finished, but it should have failed');
      })(),
      hang,
    ]);
  } catch (e) {
    if (e instanceof Hang || e instanceof NoFailure) throw e;
    assert.ok(e instanceof Error, `rejected with a non-error: ${String(e)}`);
    return e;
  } finally {
    clearTimeout(timer);
  }
  throw new Error('unreachable');
}

/** The error and its causes, outermost first. */
function chain(e: unknown): Error[] {
  const out: Error[] = [];
  for (let c = e; c instanceof Error && out.length < 10; c = c.cause) out.push(c);
  return out;
}

function describeChain(e: Error): string {
  return chain(e)
    .map((c) => `[${c.name}] ${c.message}`)
    .join('\n  caused by ');
}

function inline(parallelism = 2): StreamExecutionEnvironment {
  return StreamExecutionEnvironment.getExecutionEnvironment().setExecutionMode('inline').setParallelism(parallelism);
}

const opts = { timeout: LIMIT_MS + 5_000 };

describe('keys', () => {
  it('a key selector returning undefined: KeyError naming the keyed operator', opts, async () => {
    const env = inline();
    const e = await failure(() =>
      env
        .fromSequence(1, 10)
        .keyBy(() => undefined as unknown as string)
        .map((x) => x)
        .name('after-key')
        .executeAndCollect(),
    );
    assert.ok(e instanceof JobExecutionError, describeChain(e));
    const keyError = chain(e).find((c) => c.name === 'KeyError');
    assert.ok(keyError, `no KeyError in ${describeChain(e)}`);
    assert.match(keyError.message, /undefined/);
    assert.match(keyError.message, /after-key/);
    assert.match(e.message, /after-key/);
    assert.match(e.message, /undefined/);
  });

  it('an object key (unhashable): KeyError that says what it got and what keys may be', opts, async () => {
    const env = inline();
    const e = await failure(() =>
      env
        .fromSequence(1, 10)
        .keyBy((x) => ({ x }) as unknown as string)
        .map((x) => x)
        .name('after-object-key')
        .executeAndCollect(),
    );
    const keyError = chain(e).find((c) => c.name === 'KeyError');
    assert.ok(keyError, `no KeyError in ${describeChain(e)}`);
    assert.match(keyError.message, /object/);
    assert.match(keyError.message, /string, number/);
    assert.match(keyError.message, /after-object-key/);
  });
});

describe('records that cannot cross threads (threads mode, keyBy at p=2)', () => {
  it('an instance of an unregistered class: SerializationError mentioning registerType', opts, async () => {
    const e = await failure(() => runJob('test/jobs/error-unserializable.ts', { args: ['class'], mode: 'threads', parallelism: 2 }));
    assert.ok(e instanceof JobExecutionError, describeChain(e));
    const ser = chain(e).find((c) => c.name === 'SerializationError');
    assert.ok(ser, `no SerializationError in ${describeChain(e)}`);
    assert.match(ser.message, /registerType\(Unregistered\)/);
    assert.match(e.message, /registerType/);
    assert.match(describeChain(e), /make-records|after-keyBy/, 'names an operator of the edge');
  });

  it('a function inside a record: SerializationError saying functions cannot be sent', opts, async () => {
    const e = await failure(() => runJob('test/jobs/error-unserializable.ts', { args: ['function'], mode: 'threads', parallelism: 2 }));
    const ser = chain(e).find((c) => c.name === 'SerializationError');
    assert.ok(ser, `no SerializationError in ${describeChain(e)}`);
    assert.match(ser.message, /function/);
    assert.match(describeChain(e), /make-records|after-keyBy/);
  });
});

describe('settings', () => {
  it('parallelism above an operator’s maxParallelism: RangeError naming both and the operator', opts, async () => {
    const env = inline(1);
    env.fromSequence(1, 10).map((x) => x).name('too-wide').setMaxParallelism(4).setParallelism(8).addSink(() => {});
    const e = await failure(() => env.execute('too wide'));
    assert.ok(e instanceof RangeError || e instanceof GraphError, describeChain(e));
    assert.match(e.message, /maxParallelism/);
    assert.match(e.message, /too-wide/);
    assert.match(e.message, /\b8\b/);
    assert.match(e.message, /\b4\b/);
  });

  it('environment parallelism above the environment’s maxParallelism: same, in threads mode too', opts, async () => {
    const env = StreamExecutionEnvironment.getExecutionEnvironment().setParallelism(4).setMaxParallelism(2);
    env.fromSequence(1, 10).map((x) => x).addSink(() => {});
    const e = await failure(() => env.execute('too wide'));
    assert.ok(e instanceof RangeError || e instanceof GraphError, describeChain(e));
    assert.match(e.message, /maxParallelism \(2\)/);
  });

  it('a uid used twice: GraphError naming the uid', opts, async () => {
    const env = inline();
    env.fromSequence(1, 10).map((x) => x).uid('same-uid').map((x) => x).uid('same-uid').addSink(() => {});
    const e = await failure(() => env.execute('dup uid'));
    assert.ok(e instanceof GraphError, describeChain(e));
    assert.match(e.message, /"same-uid"/);
  });
});

describe('job modules', () => {
  it('one that never calls execute(): runJob rejects saying so', opts, async () => {
    const e = await failure(() => runJob('test/jobs/error-no-execute.ts', { mode: 'threads', parallelism: 2 }));
    assert.match(e.message, /did not call env\.execute\(\)/);
  });

  it('one that never calls execute(): `weir run` exits 1 saying so', opts, () => {
    const r = spawnSync(process.execPath, ['bin/weir.mjs', 'run', 'test/jobs/error-no-execute.ts'], { encoding: 'utf8', timeout: LIMIT_MS });
    assert.equal(r.status, 1, `exit ${r.status}, stderr: ${r.stderr}`);
    assert.match(r.stderr, /did not call env\.execute\(\)/);
  });

  it('one that builds a different graph in the workers: error saying the graph differs', opts, async () => {
    const e = await failure(() => runJob('test/jobs/error-differs.ts', { mode: 'threads', parallelism: 2 }));
    assert.ok(e instanceof JobExecutionError, describeChain(e));
    assert.match(e.message, /differs/);
    assert.match(e.message, /thread-dependent/, 'names the operator that differs');
    assert.match(e.message, /deterministic/);
  });
});

describe('key selectors', () => {
  it('one that returns another key for the same record: the keyed consumer notices, though every key is its own', opts, async () => {
    const e = await failure(() => runJob('test/jobs/error-key-selector.ts', { mode: 'threads', parallelism: 2 }));
    assert.ok(e instanceof JobExecutionError, describeChain(e));
    assert.match(e.message, /count-by-call/);
    assert.match(e.message, /must return the same key for the same record/);
  });
});

describe('user code', () => {
  it('a throwing map (inline): JobExecutionError naming the operator, user error and stack as cause', opts, async () => {
    const env = inline();
    const e = await failure(() =>
      env
        .fromSequence(1, 100)
        .map((x) => {
          if (x === 42) throw new TypeError(`cannot handle ${x}`);
          return x;
        })
        .name('my-op')
        .executeAndCollect(),
    );
    assert.ok(e instanceof JobExecutionError, describeChain(e));
    assert.equal(e.status, 'FAILED');
    assert.match(e.message, /my-op/);
    assert.match(e.message, /cannot handle 42/);
    const user = chain(e).at(-1)!;
    assert.equal(user.name, 'TypeError');
    assert.equal(user.message, 'cannot handle 42');
    assert.match(user.stack ?? '', /e2e-errors\.test\.ts/, 'the user’s stack points into the user’s file');
    assert.ok(chain(e).some((c) => /my-op/.test(c.message) && c !== e), 'an inner error names the operator too');
  });

  it('a throwing map on a worker thread: same, with the original stack carried across', opts, async () => {
    const e = await failure(() => runJob('test/jobs/error-throws.ts', { mode: 'threads', parallelism: 2 }));
    assert.ok(e instanceof JobExecutionError, describeChain(e));
    assert.match(e.message, /my-op/);
    assert.match(e.message, /user code rejected record 777/);
    const user = chain(e).at(-1)!;
    assert.equal(user.name, 'RangeError');
    assert.equal(user.message, 'user code rejected record 777');
    assert.match(user.stack ?? '', /explode/);
    assert.match(user.stack ?? '', /error-throws\.ts/);
  });

  it('keyed state on a non-keyed stream: error naming the operator and keyBy', opts, async () => {
    class Stateful extends RichMapFunction<number, number> {
      override open(): void {
        this.getRuntimeContext().getState(new ValueStateDescriptor<number>('count'));
      }
      map(x: number): number {
        return x;
      }
    }
    const env = inline();
    const e = await failure(() => env.fromSequence(1, 10).map(new Stateful()).name('stateful-map').executeAndCollect());
    assert.ok(e instanceof JobExecutionError, describeChain(e));
    assert.match(e.message, /stateful-map/);
    assert.match(e.message, /keyed stream/);
    assert.match(e.message, /keyBy/);
  });

  it('timers on a non-keyed stream: error naming the operator and keyBy', opts, async () => {
    class Timed extends ProcessFunction<number, number> {
      processElement(x: number, ctx: ProcessContext, out: Collector<number>): void {
        ctx.timerService().registerEventTimeTimer(x + 10);
        out.collect(x);
      }
    }
    const env = inline();
    const e = await failure(() => env.fromSequence(1, 10).process(new Timed()).name('timer-proc').executeAndCollect());
    assert.ok(e instanceof JobExecutionError, describeChain(e));
    assert.match(e.message, /timer-proc/);
    assert.match(e.message, /keyed stream/);
    assert.match(e.message, /keyBy/);
  });

  it('processing-time timers and timer deletion on a non-keyed stream: the same error', opts, async () => {
    for (const call of ['registerProcessingTimeTimer', 'deleteEventTimeTimer', 'deleteProcessingTimeTimer'] as const) {
      class Timed extends ProcessFunction<number, number> {
        processElement(x: number, ctx: ProcessContext): void {
          ctx.timerService()[call](x);
        }
      }
      const env = inline(1);
      const e = await failure(() => env.fromSequence(1, 3).process(new Timed()).name(`non-keyed-${call}`).executeAndCollect());
      assert.match(e.message, new RegExp(`non-keyed-${call}.*keyed stream`), describeChain(e));
    }
  });
});
