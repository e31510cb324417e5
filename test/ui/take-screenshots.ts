/**
 * Takes the screenshots of docs/web-ui.md (docs/images/web-ui-*.png) from a real cluster running
 * the web UI's job, in Debian's Chromium:
 *
 *   node --import tsx test/ui/take-screenshots.ts [out dir]
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureUiBuilt, launchBrowser, startUiCluster, webUiJob } from './ui-support.ts';

const out = process.argv[2] ?? fileURLToPath(new URL('../../docs/images/', import.meta.url));
mkdirSync(out, { recursive: true });
await ensureUiBuilt();
const cluster = await startUiCluster();
const browser = await launchBrowser();
try {
  const finished = await cluster.client.submitJob({ jobModule: webUiJob(), programArgs: ['clicks and views (earlier run)'] });
  await new Promise((r) => setTimeout(r, 1500));
  await cluster.client.cancelJob(finished);
  const jid = await cluster.client.submitJob({ jobModule: webUiJob(), programArgs: ['clicks and views', '150'] });
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const base = cluster.base;
  const shot = async (name: string, fullPage = true) => {
    await page.screenshot({ path: join(out, `web-ui-${name}.png`), fullPage });
    console.log(`wrote ${join(out, `web-ui-${name}.png`)}`);
  };

  await page.goto(`${base}/`);
  await page.locator('[data-testid="running-jobs"] a').first().waitFor();
  await shot('overview');

  await page.goto(`${base}/web/#/jobs/${jid}`);
  await page.locator('[data-testid="job-graph"] g.vertex').first().waitFor();
  // Rates need two polls, back-pressure a full second of figures.
  await page.locator('g.vertex[data-level="high"], g.vertex[data-level="low"]').first().waitFor({ timeout: 20_000 }).catch(() => {});
  await page.locator('g.vertex', { hasText: 'enrich' }).click();
  await page.locator('[data-testid="subtask-metrics"]').waitFor();
  await page.waitForTimeout(1600);
  await shot('job-graph');

  await page.goto(`${base}/web/#/jobs/${jid}/checkpoints`);
  for (let i = 0; i < 100 && Number(await page.locator('[data-testid="duration-chart"]').getAttribute('data-points')) < 8; i++) await page.waitForTimeout(200);
  await page.waitForTimeout(1600);
  await shot('checkpoints');

  const stats = await cluster.client.checkpoints(jid);
  const slowest = [...stats.history].filter((c) => c.status === 'COMPLETED').sort((a, b) => b.end_to_end_duration - a.end_to_end_duration)[0]!;
  await page.goto(`${base}/web/#/jobs/${jid}/checkpoints/${slowest.id}`);
  await page.locator('[data-testid="subtask-table"]').first().waitFor();
  await shot('checkpoint-details');

  await page.goto(`${base}/web/#/jobs/${jid}/checkpoints/${slowest.id}/timeline`);
  await page.locator('[data-testid="timeline-svg"]').waitFor();
  await page.waitForTimeout(300);
  await shot('barrier-timeline');
  await cluster.client.cancelJob(jid);

  // Checkpoints that expire: a 60 ms timeout under the same load.
  const expiring = await cluster.client.submitJob({
    jobModule: webUiJob(),
    programArgs: ['expiring checkpoints', '150'],
    config: { 'execution.checkpointing.timeout': '60 ms', 'execution.checkpointing.tolerable-failed-checkpoints': '1000' },
  });
  let failed: number | undefined;
  for (let i = 0; i < 100 && failed === undefined; i++) {
    await page.waitForTimeout(200);
    const history = (await cluster.client.checkpoints(expiring)).history;
    failed = history.find((c) => c.status === 'FAILED' && c.num_acknowledged_subtasks > 0)?.id;
  }
  if (failed !== undefined) {
    await page.goto(`${base}/web/#/jobs/${expiring}/checkpoints/${failed}/timeline`);
    await page.locator('[data-testid="timeline-svg"]').waitFor();
    await page.waitForTimeout(300);
    await shot('failed-checkpoint');
  }
  await cluster.client.cancelJob(expiring);
} finally {
  await browser.close();
  await cluster.close();
}
