/**
 * The web UI in a real browser (Debian's Chromium through playwright-core) against a real
 * cluster: the JobManager's REST port serves it, and a running job with checkpoints is looked at
 * and acted on through it: the overview, the job graph and its vertices, the checkpoint history
 * growing, one checkpoint's subtasks and barrier timeline, a checkpoint and a savepoint taken
 * from the page, and the job cancelled from it.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import type { TestCluster } from '../support/rest-cluster.ts';
import { ensureUiBuilt, launchBrowser, skipReason, startUiCluster, webUiJob } from './ui-support.ts';

const skip = skipReason();
let cluster: TestCluster;
let browser: Browser;
let page: Page;
let jid: string;

before(async () => {
  await ensureUiBuilt();
  cluster = await startUiCluster(4);
  if (skip) return;
  [browser, jid] = await Promise.all([launchBrowser(), cluster.client.submitJob({ jobModule: webUiJob(), programArgs: ['clicks and views', '30'] })]);
  page = await browser.newPage({ viewport: { width: 1300, height: 900 } });
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(e.message));
  // A 404 of an optional route (one a server may not have) is the browser's console error too.
  page.on('console', (m) => {
    if (m.type() === 'error' && !/status of 404/.test(m.text())) problems.push(m.text());
  });
  (page as unknown as { problems: string[] }).problems = problems;
});

after(async () => {
  await browser?.close();
  await cluster?.close();
});

/** Polls `probe` (which reads the page through locators) every 200 ms until it holds, for at most 15 s. */
async function until(what: string, probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const problems = (): string[] => (page as unknown as { problems: string[] }).problems;

test('GET / redirects to the UI; /web/ serves its page, script and styles with their content types', async () => {
  const root = await fetch(`${cluster.base}/`, { redirect: 'manual' });
  assert.equal(root.status, 302);
  assert.equal(root.headers.get('location'), '/web/');
  const index = await fetch(`${cluster.base}/web/`);
  assert.equal(index.status, 200);
  assert.equal(index.headers.get('content-type'), 'text/html; charset=utf-8');
  assert.match(index.headers.get('content-security-policy') ?? '', /default-src 'self'/, 'the page may load only what this server serves');
  const html = await index.text();
  const script = /<script[^>]+src="(\/web\/assets\/[^"]+\.js)"/.exec(html)?.[1];
  const style = /<link[^>]+href="(\/web\/assets\/[^"]+\.css)"/.exec(html)?.[1];
  assert.ok(script && style, `the page names its script and stylesheet: ${html}`);
  assert.doesNotMatch(html, /https?:\/\//, 'nothing is loaded from elsewhere');
  const js = await fetch(cluster.base + script);
  assert.equal(js.headers.get('content-type'), 'text/javascript; charset=utf-8');
  assert.match(js.headers.get('cache-control') ?? '', /immutable/);
  assert.ok((await js.text()).length > 10_000, 'the bundle has uPlot and dagre in it');
  assert.equal((await fetch(cluster.base + style)).headers.get('content-type'), 'text/css; charset=utf-8');
  const missing = await fetch(`${cluster.base}/web/assets/nope.js`);
  assert.equal(missing.status, 404);
  assert.deepEqual(await missing.json(), { errors: ['Not found: /web/assets/nope.js'] });
  assert.equal((await fetch(`${cluster.base}/web/%2e%2e/package.json`)).status, 404, 'no way out of the assets');
  assert.equal((await fetch(`${cluster.base}/jobs/overview`)).status, 200, 'the API beside it');
});

test('the overview shows the slots, the TaskManager and the running job', { skip }, async () => {
  await page.goto(`${cluster.base}/`);
  assert.match(page.url(), /\/web\/$/);
  await page.locator('[data-testid="running-jobs"] a', { hasText: 'clicks and views' }).waitFor();
  assert.equal(await page.locator('[data-testid="slots-total"] .stat-value').textContent(), '4');
  assert.equal(await page.locator('[data-testid="slots-available"] .stat-value').textContent(), '2', 'the job holds 2 of the 4 slots');
  assert.equal(await page.locator('[data-testid="taskmanagers"] .stat-value').textContent(), '1');
  assert.equal(await page.locator('[data-testid="taskmanagers-table"] tbody tr').count(), 1);
  await page.locator('[data-testid="running-jobs"] a').first().click();
  await page.waitForURL(`**/web/#/jobs/${jid}`);
});

test('the job graph shows each vertex (operators chained into tasks) with its figures', { skip }, async () => {
  const vertices = page.locator('[data-testid="job-graph"] g.vertex');
  await vertices.first().waitFor();
  const job = await cluster.client.jobDetails(jid);
  assert.equal(await vertices.count(), job.vertices.length);
  assert.equal(job.vertices.length, 4, 'two sources, the keyed count, the map chained with the sink');
  for (const v of job.vertices) {
    const node = page.locator(`g.vertex[data-vertex-id="${v.id}"]`);
    assert.equal(await node.locator('title').textContent(), v.name);
    assert.match((await node.textContent()) ?? '', new RegExp(`Parallelism ${v.parallelism}`));
  }
  const enrich = job.vertices.find((v) => v.name === 'enrich -> discard');
  assert.ok(enrich, 'the map and the sink are one task');
  const chained = page.locator(`g.vertex[data-vertex-id="${enrich.id}"] .vertex-op`);
  assert.deepEqual(await chained.allTextContents(), ['enrich', '→ discard']);
  assert.ok((await page.locator('[data-testid="job-graph"] path.edge').count()) >= 3, 'the edges are drawn');
  // Records per second need two polls; back-pressure a full second of figures.
  const keyed = page.locator('[data-testid="vertex-table"] tbody tr', { hasText: 'count per user' }).locator('td');
  await until('records per second and back-pressure', async () => /\d[kM]?\/s/.test((await keyed.nth(5).textContent()) ?? '') && (await page.locator(`g.vertex[data-vertex-id="${enrich.id}"]`).getAttribute('data-level')) !== 'unknown');
  const fill = await page.locator(`g.vertex[data-vertex-id="${enrich.id}"] rect.vertex-body`).getAttribute('fill');
  assert.match(fill ?? '', /^rgb\(/, 'coloured by its busy time');
  assert.match((await page.locator(`g.vertex[data-vertex-id="${enrich.id}"]`).textContent()) ?? '', /busy \d+%/);

  // A vertex clicked in the graph shows its subtasks.
  await page.locator(`g.vertex[data-vertex-id="${enrich.id}"]`).click();
  const subtasks = page.locator('[data-testid="subtask-metrics"] tbody tr');
  await subtasks.first().waitFor();
  assert.equal(await subtasks.count(), 2);
  const first = await subtasks.first().locator('td').allTextContents();
  assert.equal(first[0], '1/2');
  assert.ok(Number(first[3]) > 0, `records in: ${first.join(' | ')}`);
  assert.match(first[5] ?? '', /^\d+%$/, 'busy share');
  assert.match(await page.locator('[data-testid="vertex-detail"] h3').textContent() ?? '', /^Subtasks of enrich -> discard$/);
});

test("the job's configuration and exceptions tabs", { skip }, async () => {
  await page.locator('nav.tabs a', { hasText: 'Configuration' }).click();
  const config = page.locator('[data-testid="execution-config"]');
  await config.waitFor();
  const text = (await config.textContent()) ?? '';
  assert.match(text, /execution-modePIPELINED/);
  assert.match(text, /job-parallelism2/);
  assert.match(text, /restart-strategyRestart with exponential delay/);
  await page.locator('nav.tabs a', { hasText: 'Exceptions' }).click();
  await page.getByText('The job has not failed.').waitFor();
});

test('the checkpoint history grows, with charts of duration and size and the configuration', { skip }, async () => {
  await page.locator('nav.tabs a', { hasText: 'Checkpoints' }).click();
  const completed = page.locator('[data-testid="count-completed"] .stat-value');
  await completed.waitFor();
  const first = Number(await completed.textContent());
  await until('two more completed checkpoints', async () => Number(await completed.textContent()) >= first + 2);
  const rows = page.locator('[data-testid="checkpoint-history"] tbody tr');
  assert.ok((await rows.count()) >= 2);
  assert.ok((await rows.allTextContents()).filter((r) => /COMPLETED/.test(r)).length >= 2, 'completed checkpoints in the history');
  await until('three points in the duration chart', async () => Number(await page.locator('[data-testid="duration-chart"]').getAttribute('data-points')) >= 3);
  assert.equal(await page.locator('[data-testid="duration-chart"] canvas').count(), 1, 'uPlot drew the chart');
  assert.equal(await page.locator('[data-testid="size-chart"] canvas').count(), 1);
  const config = (await page.locator('[data-testid="checkpoint-config"]').textContent()) ?? '';
  assert.match(config, /exactly_once/);
  assert.match(config, /interval250 ms/);
});

test("one checkpoint's subtasks and its barrier timeline, with a hint drawn from them", { skip }, async () => {
  const link = page.locator('[data-testid="checkpoint-history"] [data-testid="checkpoint-link"]').nth(1);
  const cid = Number(await link.textContent());
  // The history moves on with every poll: click the link by its checkpoint id.
  await page.locator('[data-testid="checkpoint-link"]', { hasText: new RegExp(`^${cid}$`) }).click();
  await page.waitForURL(`**/checkpoints/${cid}`);
  const tables = page.locator('[data-testid="subtask-table"]');
  await tables.first().waitFor();
  assert.equal(await tables.count(), 4, 'one table per vertex');
  const job = await cluster.client.jobDetails(jid);
  for (const v of job.vertices) {
    const subtasks = (await cluster.client.checkpointSubtasks(jid, cid, v.id)).subtasks;
    const table = page.locator(`[data-testid="subtask-table"][data-vertex-id="${v.id}"] tbody tr`);
    assert.equal(await table.count(), v.parallelism);
    for (const [i, st] of subtasks.entries()) {
      const cells = await table.nth(i).locator('td').allTextContents();
      assert.equal(cells[1], 'completed');
      assert.ok('start_delay' in st);
      assert.equal(cells[7], `${st.start_delay} ms`, `start delay of ${v.name} ${i}`);
      assert.equal(cells[5], `${st.checkpoint.async} ms`, `async part of ${v.name} ${i}`);
    }
  }
  await page.locator('[data-testid="timeline-link"]').click();
  await page.waitForURL(`**/checkpoints/${cid}/timeline`);
  await page.locator('[data-testid="timeline-svg"]').waitFor();
  assert.equal(await page.locator('[data-testid="timeline-row"]').count(), 8, 'a bar per subtask');
  // A phase that took 0 ms has no bar of its own (a quick checkpoint may have no acknowledgement
  // or start delay at all), but every subtask's bar has at least one phase.
  const phases = await page.locator('[data-testid="timeline-svg"] rect[data-phase]').count();
  assert.ok(phases >= 8, `every subtask's bar shows its phases (${phases} drawn)`);
  const hint = (await page.locator('[data-testid="timeline-hint"]').textContent()) ?? '';
  assert.match(hint, new RegExp(`^Checkpoint ${cid}(:| was quick)`));
  assert.match(hint, /its slowest subtask, .+ \(\d\/2\), acknowledged after \d+ ms/);
});

test('a checkpoint and a savepoint taken from the page complete; cancelling from the page ends the job', { skip }, async () => {
  await page.locator('[data-testid="action-checkpoint"]').click();
  await page.locator('[data-testid="dialog-confirm"]').click();
  const done = page.locator('[data-testid="notice"].notice-ok', { hasText: /^Checkpoint \d+ completed$/ });
  await done.waitFor({ timeout: 15_000 });

  await page.locator('[data-testid="action-savepoint"]').click();
  await page.locator('[data-testid="confirm-dialog"]').waitFor();
  await page.locator('[data-testid="dialog-confirm"]').click();
  const location = page.locator('[data-testid="savepoint-location"]');
  await location.waitFor({ timeout: 15_000 });
  const path = (await location.textContent()) ?? '';
  assert.ok(path.startsWith(join(cluster.root, 'savepoints')), `into the job's state.savepoints.dir: ${path}`);
  assert.ok(existsSync(join(path, '_metadata')), `the savepoint is on disk: ${path}`);
  assert.equal((await cluster.client.jobDetails(jid)).state, 'RUNNING', 'a savepoint leaves the job running');

  // Dismissing the dialog does nothing.
  await page.locator('[data-testid="action-cancel"]').click();
  await page.locator('[data-testid="dialog-cancel"]').click();
  assert.equal((await cluster.client.jobDetails(jid)).state, 'RUNNING');

  await page.locator('[data-testid="action-cancel"]').click();
  await page.locator('[data-testid="dialog-confirm"]').click();
  await page.locator('[data-testid="notice"].notice-ok', { hasText: 'Job cancelled' }).waitFor({ timeout: 15_000 });
  assert.equal((await cluster.client.jobDetails(jid)).state, 'CANCELED');
  await page.locator('[data-testid="job-state"]', { hasText: 'CANCELED' }).waitFor({ timeout: 5000 });
  assert.equal(await page.locator('[data-testid="action-savepoint"]').isDisabled(), true, 'no actions on an ended job');
  assert.deepEqual(problems(), [], 'no errors in the page');
});
