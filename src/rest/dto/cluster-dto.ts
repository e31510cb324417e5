/** What the server says about itself (GET /config): Flink's DashboardConfiguration with weir's version and revision. */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DashboardConfiguration } from '../rest-types.ts';

/** The package root: src/rest/dto (or dist/rest/dto) three levels down. */
const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

export function weirVersion(): string {
  try {
    return String((JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version?: unknown }).version ?? 'unknown');
  } catch {
    return 'unknown';
  }
}

/** The commit the package's git checkout is at, read from its files (no git process); "unknown" without one. */
export function gitRevision(): string {
  try {
    let gitDir = join(PACKAGE_ROOT, '.git');
    if (!existsSync(gitDir)) return 'unknown';
    if (statSync(gitDir).isFile()) {
      const m = /^gitdir:\s*(.+)$/m.exec(readFileSync(gitDir, 'utf8'));
      if (!m) return 'unknown';
      gitDir = resolve(PACKAGE_ROOT, m[1]!.trim());
    }
    const head = readFileSync(join(gitDir, 'HEAD'), 'utf8').trim();
    if (/^[0-9a-f]{40}$/.test(head)) return head;
    const ref = /^ref:\s*(\S+)$/.exec(head)?.[1];
    if (ref === undefined) return 'unknown';
    // A linked worktree keeps its branches in the common directory.
    const common = existsSync(join(gitDir, 'commondir')) ? resolve(gitDir, readFileSync(join(gitDir, 'commondir'), 'utf8').trim()) : gitDir;
    for (const dir of [gitDir, common]) {
      const loose = join(dir, ref);
      if (existsSync(loose)) return readFileSync(loose, 'utf8').trim();
    }
    const packed = join(common, 'packed-refs');
    if (existsSync(packed)) {
      for (const line of readFileSync(packed, 'utf8').split('\n')) {
        const [sha, name] = line.trim().split(' ');
        if (name === ref && sha && /^[0-9a-f]{40}$/.test(sha)) return sha;
      }
    }
  } catch {
    // unreadable checkout: the revision is not known
  }
  return 'unknown';
}

export function dashboardConfiguration(version: string, revision: string): DashboardConfiguration {
  const now = new Date();
  return {
    'refresh-interval': 3000,
    'timezone-name': Intl.DateTimeFormat().resolvedOptions().timeZone ?? 'UTC',
    'timezone-offset': -now.getTimezoneOffset() * 60_000,
    'weir-version': version,
    'weir-revision': revision,
    features: { 'web-submit': false, 'web-cancel': true, 'web-rescale': false, 'web-history': false },
  };
}
