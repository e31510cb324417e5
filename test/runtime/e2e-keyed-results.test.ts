/**
 * End to end: keyed state, keyed aggregations, union and connect give the same final per-key
 * results at parallelism 1, 2 and 4 on worker threads and inline, and those results equal a
 * plain computation of the answer.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { runJob } from 'weir/testing';

const JOB = 'test/jobs/keyed-results.ts';
const N = 20000;

const RUNS = [
  { label: 'threads p=1', mode: 'threads', parallelism: 1 },
  { label: 'threads p=2', mode: 'threads', parallelism: 2 },
  { label: 'threads p=4', mode: 'threads', parallelism: 4 },
  { label: 'inline p=1', mode: 'inline', parallelism: 1 },
  { label: 'inline p=4', mode: 'inline', parallelism: 4 },
] as const;

type Row = readonly unknown[];

/**
 * Reduces a run's output to final per-key results. Running aggregations emit one record per
 * input; their final value is the largest (every aggregate here only grows). Timer-emitted
 * summaries must appear exactly once per key.
 */
function finals(rows: unknown[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const r of rows as Row[]) {
    const [tag, key] = r;
    const id = `${String(tag)}/${String(key)}`;
    switch (tag) {
      case 'stats':
      case 'co':
        assert.equal(out[id], undefined, `${id} reported more than once`);
        out[id] = r.slice(2);
        break;
      case 'sum':
      case 'max':
      case 'comap':
        out[id] = Math.max((out[id] as number | undefined) ?? -Infinity, r[2] as number);
        break;
      case 'union': {
        const prev = out[id] as [number, number] | undefined;
        if (!prev || (r[3] as number) > prev[1]) out[id] = [r[2], r[3]];
        break;
      }
      default:
        assert.fail(`unexpected record ${JSON.stringify(r)}`);
    }
  }
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => a.localeCompare(b)));
}

function expected(variant: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const seq = Array.from({ length: N }, (_, i) => i + 1);
  if (variant === 'keyed') {
    for (let m = 0; m < 7; m++) {
      const vs = seq.filter((x) => x % 7 === m).map((x) => x * 3);
      const buckets = new Map<number, number>();
      for (const v of vs) buckets.set(v % 5, (buckets.get(v % 5) ?? 0) + 1);
      const sum = vs.reduce((a, b) => a + b, 0);
      out[`stats/k${m}`] = [vs.length, sum, vs.length, [...buckets].sort((a, b) => a[0] - b[0]), 'EVENT_TIME', Number.MAX_SAFE_INTEGER];
      out[`sum/${m}`] = seq.filter((x) => x % 7 === m).reduce((a, b) => a + b, 0);
    }
    for (let m = 0; m < 3; m++) out[`max/${m}`] = Math.max(...seq.map((x) => x * 3).filter((v) => v % 3 === m), -Infinity);
    // v = 3x is always divisible by 3: only key 0 exists.
    delete out['max/1'];
    delete out['max/2'];
  } else if (variant === 'union') {
    const all = Array.from({ length: 2 * N }, (_, i) => i + 1);
    for (const parity of ['even', 'odd']) {
      const xs = all.filter((x) => (x % 2 === 0) === (parity === 'even'));
      out[`union/${parity}`] = [xs.reduce((a, b) => a + b, 0), xs.length];
    }
  } else {
    const evens = seq.filter((x) => x % 2 === 0);
    for (let m = 0; m < 5; m++) {
      const l = evens.filter((v) => v % 5 === m);
      const r = seq.filter((v) => v % 5 === m);
      out[`co/${m}`] = [
        [l.length, l.reduce((a, b) => a + b, 0)],
        [r.length, r.reduce((a, b) => a + b, 0)],
      ];
    }
    out['comap/even'] = evens.reduce((a, b) => a + b, 0);
    for (let m = 0; m < 3; m++) out[`comap/k${m}`] = seq.filter((x) => x % 3 === m).reduce((a, b) => a + b, 0);
  }
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => a.localeCompare(b)));
}

for (const variant of ['keyed', 'union', 'connect']) {
  describe(`${variant}: same final results at every parallelism and mode`, () => {
    const results = new Map<string, Record<string, unknown>>();
    const counts = new Map<string, number>();

    for (const run of RUNS) {
      it(`${run.label} equals the plain computation`, async () => {
        const { collected } = await runJob(JOB, { args: [variant, String(N)], mode: run.mode, parallelism: run.parallelism });
        counts.set(run.label, collected.length);
        const got = finals(collected);
        results.set(run.label, got);
        assert.deepEqual(got, expected(variant));
      });
    }

    it('every run gives identical final results and record counts', () => {
      assert.equal(results.size, RUNS.length, `only ${[...results.keys()].join(', ')} completed`);
      const [first, ...rest] = [...results.values()];
      for (const r of rest) assert.deepEqual(r, first);
      const n = [...counts.values()];
      for (const c of n) assert.equal(c, n[0]);
    });
  });
}
