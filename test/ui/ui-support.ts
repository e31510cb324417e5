/**
 * What the web UI's browser tests share: Debian's Chromium driven by playwright-core (present:
 * launched; absent: the tests skip, except under CI=true where they fail), the built UI
 * (rebuilt when ui/ is newer), and a cluster running the web UI's job.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { ensureUiBuilt } from '../../ui/build.mjs';
import { jobFixture, startTestCluster, type TestCluster } from '../support/rest-cluster.ts';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { JobSubmission } from '../../src/cluster/dispatcher.ts';

export const CHROMIUM = '/usr/bin/chromium';

/**
 * Why the browser tests cannot run here, or undefined when they can. Under CI=true a missing
 * browser is a failure, not a reason to skip.
 */
export function skipReason(): string | undefined {
  if (existsSync(CHROMIUM)) return undefined;
  const why = `${CHROMIUM} is missing (Debian's chromium package); the web UI's browser tests need it`;
  if (process.env['CI'] === 'true') throw new Error(`${why}, and CI=true makes them mandatory`);
  return `${why}: skipped`;
}

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  });
}

export { ensureUiBuilt };

/** A cluster with checkpoint and savepoint directories in its fresh directory. */
export function startUiCluster(slots = 4): Promise<TestCluster> {
  return startTestCluster({ slots, config: (root) => ({ 'state.checkpoints.dir': join(root, 'checkpoints'), 'state.savepoints.dir': join(root, 'savepoints') }) });
}

/** test/fixtures/web-ui-job.ts as a submission carries it. */
export function webUiJob(): JobSubmission['jobModule'] {
  return { fileName: 'web-ui-job.ts', source: readFileSync(fileURLToPath(new URL('../fixtures/web-ui-job.ts', import.meta.url)), 'utf8') };
}

export { jobFixture };
