/**
 * Metric reporters of a cluster started with `weir start-cluster`, through real processes and
 * real HTTP: `-D metrics.reporter.*` starts a Prometheus endpoint in the JobManager process (the
 * JobManager and job scopes) and one in the TaskManager process (its process figures, its tasks
 * and operators), on the first free ports of the configured range; a task's `tm_id` is the id the
 * REST API names the TaskManager by (verbatim with filterLabelValueCharacters=false, filtered as
 * every label value by default); stop-cluster closes both endpoints; a bad value, or a port
 * taken in either process, fails the start with the key in the message and leaves no cluster.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { RestClient } from '../../src/rest/rest-client.ts';
import { poll } from '../support/poll.ts';

const root = mkdtempSync(join(tmpdir(), 'weir-reporters-'));
const FLINK_FACTORY = 'org.apache.flink.metrics.prometheus.PrometheusReporterFactory';

function weir(dir: string, ...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['bin/weir.mjs', ...args], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, WEIR_CLUSTER_DIR: dir } });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function ok(dir: string, ...args: string[]): string {
  const r = weir(dir, ...args);
  if (r.status !== 0) {
    const logs = ['jobmanager.log', 'taskmanager.log'].map((f) => join(dir, 'log', f)).filter(existsSync);
    assert.fail(`weir ${args.join(' ')} exited ${r.status}\nstdout: ${r.stdout}\nstderr: ${r.stderr}\n${logs.map((f) => `${f}:\n${readFileSync(f, 'utf8').split('\n').slice(-20).join('\n')}`).join('\n')}`);
  }
  return r.stdout;
}

const listening = (s: Server) => new Promise<void>((resolve) => s.once('listening', () => resolve()));
const closed = (s: Server) => new Promise<void>((resolve) => s.close(() => resolve()));

/** The first of `n` consecutive ports that are free on 127.0.0.1 now. */
async function freePorts(n: number): Promise<number> {
  for (;;) {
    const probe = createServer().listen(0, '127.0.0.1');
    await listening(probe);
    const first = (probe.address() as { port: number }).port;
    await closed(probe);
    if (first + n > 65535) continue;
    const taken: Server[] = [];
    let free = true;
    for (let p = first; p < first + n && free; p++) {
      const s = createServer();
      free = await new Promise<boolean>((resolve) => {
        s.once('error', () => resolve(false));
        s.listen(p, '127.0.0.1', () => resolve(true));
      });
      if (free) taken.push(s);
    }
    await Promise.all(taken.map(closed));
    if (free) return first;
  }
}

const scrape = async (port: number): Promise<string> => {
  const r = await fetch(`http://127.0.0.1:${port}/metrics`);
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type') ?? '', /^text\/plain/);
  return r.text();
};

/** Whether something accepts connections on the port. */
const answers = (port: number): Promise<boolean> =>
  fetch(`http://127.0.0.1:${port}/metrics`).then(
    () => true,
    () => false,
  );

const reEscape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const filtered = (s: string) => s.replace(/[^a-zA-Z0-9:_]/g, '_');

after(() => {
  rmSync(root, { recursive: true, force: true });
});

describe('metric reporters of a cluster started with weir start-cluster', () => {
  it('the JobManager and the TaskManager each serve their scopes, tasks carry the REST TaskManager id, and stop-cluster closes both', async () => {
    const dir = join(root, 'running');
    const p = await freePorts(4);
    // Two reporters: `prom` with Flink's defaults, `raw` with label values kept as they are.
    const out = ok(
      dir,
      'start-cluster', '--port', '0', '--slots', '2',
      '-D', `metrics.reporter.prom.factory.class=${FLINK_FACTORY}`,
      '-D', `metrics.reporter.prom.port=${p}-${p + 1}`,
      '-D', 'metrics.reporter.raw.factory.class=prometheus',
      '-D', `metrics.reporter.raw.port=${p + 2}-${p + 3}`,
      '-D', 'metrics.reporter.raw.filterLabelValueCharacters=false',
    );
    const rest = /REST API at (http:\/\/\S+),/.exec(out)?.[1];
    assert.ok(rest, out);
    try {
      // The JobManager starts its reporters before the TaskManager: it has the first port of each range.
      const [jmProm, tmProm, jmRaw, tmRaw] = [p, p + 1, p + 2, p + 3];
      const jobId = /JobID ([0-9a-f]{32})/.exec(ok(dir, 'run', '-d', '-m', rest.replace('http://', ''), '-p', '2', 'test/jobs/cluster-unbounded.ts', 'reporter job'))?.[1];
      assert.ok(jobId);
      const client = new RestClient(rest);
      const tms = (await client.taskManagers()).taskmanagers;
      assert.equal(tms.length, 1);
      const tmId = tms[0]!.id;

      // The TaskManager's endpoint: its tasks' metrics, labelled with the REST API's TaskManager id.
      const sourceOut = new RegExp(`^weir_taskmanager_job_task_operator_numRecordsOut\\{[^}]*operator_name="ticks"[^}]*tm_id="${reEscape(tmId)}"[^}]*\\} [1-9]`, 'm');
      const tmText = await poll('the source operator numRecordsOut on the TaskManager endpoint', 15_000, async () => {
        const t = await scrape(tmRaw);
        return sourceOut.test(t) ? t : undefined;
      });
      assert.match(tmText, new RegExp(`^weir_taskmanager_job_task_numRecordsIn\\{[^}]*job_id="${jobId}"[^}]*task_name="count per key -> discard"[^}]*tm_id="${reEscape(tmId)}"`, 'm'));
      assert.match(tmText, new RegExp(`^weir_taskmanager_Status_Node_Memory_RSS\\{host="[^"]+",tm_id="${reEscape(tmId)}"\\} [1-9]`, 'm'));
      assert.doesNotMatch(tmText, /^weir_jobmanager_/m, 'the JobManager scopes are the JobManager endpoint’s');
      // Flink's default filter: the same id with `_` for every other character, as every label value.
      assert.match(await scrape(tmProm), new RegExp(`^weir_taskmanager_job_task_operator_numRecordsOut\\{[^}]*tm_id="${reEscape(filtered(tmId))}"`, 'm'));

      // The JobManager's endpoint: the JobManager process and the job, no task series twice.
      const jmText = await scrape(jmProm);
      assert.match(jmText, new RegExp(`^weir_jobmanager_job_uptime\\{[^}]*job_id="${jobId}"[^}]*job_name="reporter_job"[^}]*\\} [1-9]`, 'm'));
      assert.match(jmText, /^weir_jobmanager_Status_Node_Memory_Heap_Used\{host="[^"]+"\} [1-9]/m);
      assert.doesNotMatch(jmText, /^weir_taskmanager_/m, 'the TaskManager scopes are the TaskManager endpoint’s');
      assert.match(await scrape(jmRaw), /^weir_jobmanager_job_numRestarts\{[^}]*job_name="reporter job"[^}]*\} 0$/m);

      // The REST API names the same TaskManager wherever it names one.
      const job = await client.jobDetails(jobId);
      const vertex = await client.vertexDetails(jobId, job.vertices[0]!.id);
      assert.ok(vertex.subtasks.every((s) => s['taskmanager-id'] === tmId), JSON.stringify(vertex.subtasks.map((s) => s['taskmanager-id'])));
      assert.ok((await client.taskManagerMetrics(tmId)).length > 0);
      assert.match(await client.prometheusMetrics(), new RegExp(`tm_id="${reEscape(filtered(tmId))}"`));
    } finally {
      ok(dir, 'stop-cluster');
    }
    for (const port of [p, p + 1, p + 2, p + 3]) assert.equal(await answers(port), false, `port ${port} closed with the cluster`);
  });

  it('a bad reporter value is refused before anything starts, naming the key', () => {
    const dir = join(root, 'bad-value');
    const r = weir(dir, 'start-cluster', '--port', '0', '-D', 'metrics.reporter.prom.factory.class=prometheus', '-D', 'metrics.reporter.prom.port=70000');
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /metrics\.reporter\.prom\.port: "70000" is not a port/);
    const unknown = weir(dir, 'start-cluster', '--port', '0', '-D', 'metric.reporter.prom.port=9249');
    assert.equal(unknown.status, 2, unknown.stderr);
    assert.match(unknown.stderr, /-D metric\.reporter\.prom\.port: a cluster reads only metrics\.\* options/);
    assert.equal(existsSync(join(dir, 'cluster.json')), false);
  });

  it('a port taken in the TaskManager, or in the JobManager, fails the start naming the key and leaves no cluster', async () => {
    // One port: the JobManager takes it, the TaskManager finds none.
    const dir = join(root, 'port-taken');
    const q = await freePorts(1);
    const tm = weir(dir, 'start-cluster', '--port', '0', '-D', 'metrics.reporter.prom.factory.class=prometheus', '-D', `metrics.reporter.prom.port=${q}`);
    assert.equal(tm.status, 1, tm.stderr);
    assert.match(tm.stderr, new RegExp(`the TaskManager did not start: metrics\\.reporter\\.prom\\.port: no free port in ${q} on 127\\.0\\.0\\.1`));
    assert.equal(existsSync(join(dir, 'cluster.json')), false);
    assert.equal(await answers(q), false, 'the JobManager closed its endpoint as it gave up');

    // The port is taken before the JobManager starts.
    const blocker = createServer().listen(q, '127.0.0.1');
    await listening(blocker);
    try {
      const jm = weir(dir, 'start-cluster', '--port', '0', '-D', 'metrics.reporter.prom.factory.class=prometheus', '-D', `metrics.reporter.prom.port=${q}`);
      assert.equal(jm.status, 1, jm.stderr);
      assert.match(jm.stderr, new RegExp(`cannot start the metric reporters: metrics\\.reporter\\.prom\\.port: no free port in ${q} on 127\\.0\\.0\\.1`));
      assert.doesNotMatch(readFileSync(join(dir, 'log', 'jobmanager.log'), 'utf8').split('\n').filter(Boolean).at(-1) ?? '', /TaskManager started/);
    } finally {
      await closed(blocker);
    }
    assert.equal(existsSync(join(dir, 'cluster.json')), false);
  });
});
