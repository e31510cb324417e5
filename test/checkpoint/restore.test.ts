/**
 * Restoring: from a retained checkpoint through the CLI, refusing state of operators the job no
 * longer has (unless allowed), falling back from a corrupt checkpoint to the one before it after
 * a worker thread is killed, and clear errors for paths that are not checkpoints.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadCheckpoint } from '../../src/checkpoint/filesystem-checkpoint-storage.ts';
import { killSlot, runJob, startJob } from '../../src/testing/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'weir-restore-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const canon = (xs: readonly unknown[]): string[] => xs.map((x) => JSON.stringify(x)).sort();

function weir(...args: string[]) {
  return spawnSync(process.execPath, ['bin/weir.mjs', ...args], { encoding: 'utf8', timeout: 60_000 });
}

/** Runs the keyed golden pipeline slowly, takes `count` checkpoints, cancels, and returns their directories. */
async function retainedCheckpoints(count: number, extra: Record<string, unknown> = {}): Promise<string[]> {
  const client = await startJob('test/jobs/golden.ts', {
    args: ['keyed', '40000', JSON.stringify({ dir, interval: 60_000, retain: true, throttle: 5, source: 'function', ...extra })],
    parallelism: 2,
    mode: 'inline',
    config: { 'state.checkpoints.num-retained': count },
  });
  const dirs: string[] = [];
  for (let i = 0; i < count; i++) {
    await new Promise((r) => setTimeout(r, 100));
    dirs.push(await client.triggerCheckpoint());
  }
  await client.cancel();
  await assert.rejects(client.getJobExecutionResult(), /cancelled/);
  return dirs;
}

describe('restore from a retained checkpoint', () => {
  let chk: string;
  before(async () => {
    const [first] = await retainedCheckpoints(1);
    assert.ok(first !== undefined, 'a retained checkpoint');
    chk = first;
  });

  it('`weir run -s <chk>` restores it: the final per-key totals equal a straight run', async () => {
    const straight = canon((await runJob('test/jobs/golden.ts', { args: ['keyed', '40000', '{}'], parallelism: 1, mode: 'inline' })).collected)
      .filter((s) => s.startsWith('["stats"'));
    const out = join(dir, 'cli-out.json');
    const r = weir('run', '-s', chk!, 'test/jobs/golden-to-file.ts', out, 'keyed', '40000', JSON.stringify({ dir, source: 'function', interval: 50 }));
    assert.equal(r.status, 0, r.stderr);
    const got = canon(JSON.parse(readFileSync(out, 'utf8')) as unknown[]).filter((s) => s.startsWith('["stats"'));
    assert.deepEqual(got, straight);
  });

  it('state of an operator the job no longer has is refused, naming it; -n skips it', () => {
    const r = weir('run', '-s', chk!, 'test/jobs/golden-to-file.ts', join(dir, 'x.json'), 'union', '2000', JSON.stringify({ dir, source: 'function' }));
    assert.equal(r.status, 1);
    assert.match(r.stderr, /holds state for operator "[^"]+" \(uid "(stats|count-by-mod7|numbers-source)"/);
    assert.match(r.stderr, /allow non-restored state/);
    const n = weir('run', '-s', chk!, '-n', 'test/jobs/golden-to-file.ts', join(dir, 'y.json'), 'union', '2000', JSON.stringify({ dir, source: 'function' }));
    assert.equal(n.status, 0, n.stderr);
    const rows = JSON.parse(readFileSync(join(dir, 'y.json'), 'utf8')) as unknown[][];
    assert.ok(rows.some((x) => x[0] === 'union-total'), 'the union job ran to its end');
  });

  it("`weir run -s <job dir>` resumes from the newest complete checkpoint, passing over a partial one and saying which", async () => {
    const straight = canon((await runJob('test/jobs/golden.ts', { args: ['keyed', '40000', '{}'], parallelism: 1, mode: 'inline' })).collected)
      .filter((s) => s.startsWith('["stats"'));
    // A copy of the job's checkpoint directory in a base directory of its own, with a newer
    // checkpoint that a crash left without _metadata.
    const base = mkdtempSync(join(dir, 'base-'));
    const jobDir = join(base, basename(dirname(chk)));
    cpSync(dirname(chk), jobDir, { recursive: true });
    mkdirSync(join(jobDir, 'chk-999'));
    writeFileSync(join(jobDir, 'chk-999', 'op-partial.kstate'), 'half a file');
    for (const [pointer, name] of [[jobDir, 'job-dir.json'], [base, 'base-dir.json']] as const) {
      const out = join(dir, name);
      const r = weir('run', '-s', pointer, 'test/jobs/golden-to-file.ts', out, 'keyed', '40000', JSON.stringify({ dir, source: 'function', interval: 50 }));
      assert.equal(r.status, 0, r.stderr);
      const chosen = join(jobDir, basename(chk));
      assert.ok(
        r.stderr.includes(`weir: restoring from ${chosen}, the newest complete checkpoint in ${pointer} (passed over chk-999: `),
        r.stderr,
      );
      const got = canon(JSON.parse(readFileSync(out, 'utf8')) as unknown[]).filter((s) => s.startsWith('["stats"'));
      assert.deepEqual(got, straight, `restored through ${pointer}`);
    }
    // With a second job's directory beside it, the base directory no longer names one job.
    cpSync(dirname(chk), join(base, 'f'.repeat(32)), { recursive: true });
    const r = weir('run', '-s', base, 'test/jobs/golden-to-file.ts', join(dir, 'two.json'), 'keyed', '100', '{}');
    assert.equal(r.status, 1);
    assert.match(r.stderr, /holds the checkpoints of 2 jobs \([0-9a-f]{32}, f{32}\); pass the directory of the job to restore/);
  });

  it('a path that is not a checkpoint fails with an error saying what is missing', () => {
    const empty = mkdtempSync(join(dir, 'empty-'));
    const r = weir('run', '-s', empty, 'test/jobs/golden-to-file.ts', join(dir, 'z.json'), 'keyed', '100', '{}');
    assert.equal(r.status, 1);
    assert.match(r.stderr, /_metadata/);
  });
});

describe('corrupt checkpoints', () => {
  it('a corrupt state file in the newest checkpoint: after a worker thread is killed, the job restores the one before and the result is still exact', async () => {
    const straight = canon((await runJob('test/jobs/golden.ts', { args: ['keyed', '30000', '{}'], parallelism: 1, mode: 'inline' })).collected);
    const client = await startJob('test/jobs/golden.ts', {
      args: ['keyed', '30000', JSON.stringify({ dir, interval: 60_000, throttle: 5, source: 'function' })],
      parallelism: 2,
      config: { 'state.checkpoints.num-retained': 2 },
    });
    await new Promise((r) => setTimeout(r, 300));
    await client.triggerCheckpoint();
    await new Promise((r) => setTimeout(r, 100));
    const newest = await client.triggerCheckpoint();
    const kstate = readdirSync(newest).filter((f) => f.endsWith('.kstate'));
    assert.ok(kstate.length > 0);
    for (const f of kstate) {
      const p = join(newest, f);
      const bytes = readFileSync(p);
      bytes.writeUInt8(bytes.readUInt8(bytes.length - 1) ^ 0xff, bytes.length - 1);
      writeFileSync(p, bytes);
    }
    await killSlot(client, 0);
    const result = (await client.getJobExecutionResult()) as unknown as { collected: Map<string, unknown[]> };
    assert.deepEqual(canon([...result.collected.values()].flat()), straight);
    assert.equal(await client.getNumRestarts(), 2, 'one restart for the killed thread, one after the corrupt checkpoint failed to load');
  });

  /**
   * Two checkpoints on request with `config`, the shared files of the newest that the one before
   * does not list (suffix `ext`) corrupted, a slot killed: the newest fails its checksums and the
   * one before is restored, exactly.
   */
  async function corruptNewestShared(name: string, config: Record<string, unknown>, ext: string): Promise<void> {
    const straight = canon((await runJob('test/jobs/golden.ts', { args: ['keyed', '30000', '{}'], parallelism: 1, mode: 'inline' })).collected);
    const client = await startJob('test/jobs/golden.ts', {
      args: ['keyed', '30000', JSON.stringify({ dir: join(dir, name), interval: 60_000, throttle: 5, source: 'function' })],
      parallelism: 2,
      config: { 'state.checkpoints.num-retained': 2, 'state.backend.type': 'rocksdb', ...config },
    });
    await new Promise((r) => setTimeout(r, 300));
    const previous = await client.triggerCheckpoint();
    await new Promise((r) => setTimeout(r, 100));
    const newest = await client.triggerCheckpoint();
    const filesOf = async (chk: string) =>
      new Set((await loadCheckpoint(chk)).metadata.operators.flatMap((o) => o.subtasks.flatMap((t) => t?.files ?? [])).filter((f) => f.path.endsWith(ext)).map((f) => f.path));
    const before = await filesOf(previous);
    const own = [...(await filesOf(newest))].filter((p) => !before.has(p));
    assert.ok(own.length > 0, `the newest checkpoint uploaded ${ext} files of its own`);
    const jobDir = dirname(newest);
    for (const f of own) {
      const p = join(jobDir, f);
      const bytes = readFileSync(p);
      bytes.writeUInt8(bytes.readUInt8(bytes.length >> 1) ^ 0xff, bytes.length >> 1);
      writeFileSync(p, bytes);
    }
    await killSlot(client, 0);
    const result = (await client.getJobExecutionResult()) as unknown as { collected: Map<string, unknown[]> };
    assert.deepEqual(canon([...result.collected.values()].flat()), straight);
    assert.equal(await client.getNumRestarts(), 2, 'one restart for the killed thread, one after the corrupt checkpoint failed to load');
  }

  it('RocksDB, incremental: a corrupt SST file of the newest checkpoint is detected by its checksum, the one before is restored and the result is exact', async () => {
    await corruptNewestShared('rocksdb-corrupt', { 'state.backend.incremental': true }, '.sst');
  });

  it('RocksDB, change log: a corrupt log segment of the newest checkpoint is detected by its checksum, the one before (its materialization) is restored and the result is exact', async () => {
    await corruptNewestShared('changelog-corrupt', { 'state.backend.changelog.enabled': true }, '.clog');
  });

  it('`weir run -s` on a checkpoint with a damaged file reports the file', async () => {
    const [chk] = await retainedCheckpoints(1);
    const f = readdirSync(chk!).find((x) => x.endsWith('.kstate'))!;
    writeFileSync(join(chk!, f), readFileSync(join(chk!, f)).subarray(0, 20));
    const r = weir('run', '-s', chk!, 'test/jobs/golden-to-file.ts', join(dir, 'c.json'), 'keyed', '100', '{}');
    assert.equal(r.status, 1);
    assert.match(r.stderr, new RegExp(`Corrupt checkpoint data in .*${f.replace(/[.]/g, '\\.')}`));
  });
});
