/**
 * rocksdb-restore: how long a canonical (full) snapshot takes to restore into the RocksDB backend
 * from the file-system storage, against the heap backend decoding the same files.
 *
 *   node --import tsx bench/rocksdb-restore.ts write <dir> [keys]   builds the snapshot once (heap backend)
 *   node --import tsx bench/rocksdb-restore.ts heap <dir>           times readKeyedSnapshot + restore on the heap
 *   node --import tsx bench/rocksdb-restore.ts rocksdb <dir>        times readKeyedSnapshot + restoreInto on RocksDB
 *   node --import tsx bench/rocksdb-restore.ts ab <dir> <runs> [<other checkout>]
 *                                                                   alternates heap, RocksDB (and RocksDB from
 *                                                                   another checkout's sources) in fresh processes
 *
 * The snapshot: `keys` keys (1M by default) of one ValueState holding a number, maxParallelism
 * 128, one subtask. WEIR_SRC names the checkout whose src/ the measuring process imports (this
 * one by default), so that the same script times an older version of the code.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const MAX = 128;
const RANGE = { start: 0, end: MAX - 1 };
const SCOPE = { jobId: 'bench', operatorId: 'op', operatorName: 'restore bench', subtaskIndex: 0, parallelism: 1, maxParallelism: MAX, keyGroupRange: RANGE };
const HERE = fileURLToPath(new URL('.', import.meta.url));
const SRC = resolve(process.env.WEIR_SRC ?? join(HERE, '..'), 'src');

// biome-ignore lint/suspicious/noExplicitAny: the modules are imported from a checkout chosen at run time
async function load(path: string): Promise<any> {
  return import(pathToFileURL(join(SRC, path)).href);
}

async function backends(localDir: string) {
  const { Configuration } = await load('api/configuration.ts');
  const { resolveStateBackend } = await load('state/state-backend-registry.ts');
  const { EmbeddedRocksDBStateBackend } = await load('state/rocksdb/embedded-rocksdb-state-backend.ts');
  const { ValueStateDescriptor } = await load('api/state.ts');
  return {
    heap: () => resolveStateBackend(new Configuration({ 'state.backend.type': 'hashmap' })),
    rocksdb: () => new EmbeddedRocksDBStateBackend({ localDir }),
    countD: new ValueStateDescriptor('count', 0),
  };
}

async function write(dir: string, keys: number): Promise<void> {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const b = await backends(join(dir, 'local'));
  const heap = b.heap();
  const live = heap.createKeyedStateBackend(SCOPE);
  const count = live.getValueState(b.countD);
  for (let k = 0; k < keys; k++) {
    live.setCurrentKey(`k${k}`);
    count.update(k);
  }
  const snapshot = live.snapshot();
  const result = await heap.writeKeyedSnapshot({
    snapshot,
    keyGroupRange: RANGE,
    filePrefix: 'op-0',
    sink: async (name: string, payload: Uint8Array) => {
      await writeFile(join(dir, name), payload);
      return { path: name, size: payload.byteLength, checksum: 'unchecked' };
    },
  });
  snapshot.release();
  writeFileSync(join(dir, 'handles.json'), JSON.stringify(result.files));
  console.log(JSON.stringify({ keys, files: result.files.length, bytes: result.bytes }));
}

async function restore(dir: string, which: 'heap' | 'rocksdb'): Promise<void> {
  const localDir = join(dir, `local-${process.pid}`);
  const b = await backends(localDir);
  const handles = JSON.parse(readFileSync(join(dir, 'handles.json'), 'utf8'));
  const backend = which === 'heap' ? b.heap() : b.rocksdb();
  const started = performance.now();
  const restored = await backend.readKeyedSnapshot(handles, (h: { path: string }) => readFile(join(dir, h.path)), RANGE);
  const read = performance.now() - started;
  const target = backend.createKeyedStateBackend(SCOPE);
  if (restored.restoreInto !== undefined) await restored.restoreInto(target);
  else target.restore(restored.data);
  const ms = performance.now() - started;
  const count = target.getValueState(b.countD);
  target.setCurrentKey('k12345');
  if (count.value() !== 12345) throw new Error(`k12345 restored as ${count.value()}`);
  target.dispose();
  rmSync(localDir, { recursive: true, force: true });
  console.log(JSON.stringify({ which, src: SRC, readMs: Math.round(read), ms: Math.round(ms), maxRssMiB: Math.round(process.resourceUsage().maxRSS / 1024) }));
}

function ab(dir: string, runs: number, other: string | undefined): void {
  const self = fileURLToPath(import.meta.url);
  const child = (mode: string, src?: string): string =>
    execFileSync(process.execPath, ['--import', 'tsx', self, mode, dir], { env: { ...process.env, ...(src ? { WEIR_SRC: src } : {}) }, encoding: 'utf8' }).trim();
  const load = (): string => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  for (let i = 0; i < runs; i++) {
    console.log(`run ${i + 1}, load ${load()}`);
    console.log(`  heap    ${child('heap')}`);
    console.log(`  rocksdb ${child('rocksdb')}`);
    if (other !== undefined) console.log(`  rocksdb ${child('rocksdb', other)}`);
  }
}

const [mode, dir, arg, other] = process.argv.slice(2);
if (dir === undefined) throw new Error('usage: rocksdb-restore.ts write|heap|rocksdb|ab <dir> ...');
if (mode === 'write') await write(dir, Number(arg ?? 1_000_000));
else if (mode === 'heap' || mode === 'rocksdb') await restore(dir, mode);
else if (mode === 'ab') ab(dir, Number(arg ?? 3), other);
else throw new Error(`unknown mode ${mode}`);
