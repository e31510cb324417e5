/**
 * The package as users get it: `npm pack`, the tarball installed into fresh projects of both
 * module types ("type": "module" and "type": "commonjs"), and then what a user does with it —
 * `node app.mjs` with a job importing weir, a CommonJS program (`require('weir')` and
 * `await import('weir')`), `npx weir run` on .ts, .mts, .js and .mjs jobs at parallelism 2, the
 * declarations under tsc, and the mistakes a user can make, each answered with what to change.
 *
 * Every job is the same keyed count: 1..1000 keyed by n % 4, a running count per key, printed when
 * it reaches its total (250 for each of the four keys). One pack and two installs (in parallel)
 * serve every case. The installs ask the npm registry only for what the local cache lacks.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const EXPECTED = ['key 0: 250', 'key 1: 250', 'key 2: 250', 'key 3: 250'];

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end (asynchronously, so that two can run at once). */
function run(command: string, args: readonly string[], cwd: string, timeoutMs = 120_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env: { ...process.env, npm_config_update_notifier: 'false' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function show(r: Run): string {
  return `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
}

/**
 * The counts at their totals, sorted. Printed by a job's sink (`printed`), each line must carry
 * the prefix of one of the two subtasks ("1> ", "2> ") of a parallelism-2 sink.
 */
function counts(r: Run, printed = true): string[] {
  assert.equal(r.code, 0, show(r));
  const lines = r.stdout.split('\n').filter((l) => l.includes('key '));
  for (const l of lines) assert.match(l, printed ? /^[12]> key \d: 250$/ : /^key \d: 250$/, `unexpected output:\n${show(r)}`);
  return lines.map((l) => l.replace(/^\d+> /, '')).sort();
}

// ---- the jobs --------------------------------------------------------------------------------

/** The pipeline, in JavaScript that is also valid TypeScript where `T` adds the annotations. */
const pipeline = (t: boolean) => `
const env = StreamExecutionEnvironment.getExecutionEnvironment();
env.setParallelism(2);
env
  .fromSequence(1, 1000)
  .map((n${t ? ': number' : ''}) => [n % 4, 1]${t ? ' as [number, number]' : ''})
  .keyBy((p${t ? ': [number, number]' : ''}) => p[0])
  .reduce((a${t ? ': [number, number]' : ''}, b${t ? ': [number, number]' : ''}) => [a[0], a[1] + b[1]]${t ? ' as [number, number]' : ''})
  .filter((p${t ? ': [number, number]' : ''}) => p[1] === 250)
  .map((p${t ? ': [number, number]' : ''}) => \`key \${p[0]}: \${p[1]}\`)
  .print();
`;

/** An ES module job: awaits execute() at the top level. */
const esmJob = (t: boolean) => `import { StreamExecutionEnvironment } from 'weir';\n${pipeline(t)}await env.execute('keyed count');\n`;

/** A job that CommonJS can load: no top-level await; a failure still fails the process. */
const commonJsTsJob = `import { StreamExecutionEnvironment } from 'weir';\n${pipeline(true)}env.execute('keyed count').catch((e: unknown) => {\n  console.error(e);\n  process.exitCode = 1;\n});\n`;
const commonJsJsJob = `const { StreamExecutionEnvironment } = require('weir');\n${pipeline(false)}env.execute('keyed count').catch((e) => {\n  console.error(e);\n  process.exitCode = 1;\n});\n`;

/** A plain Node program (no weir command, no TypeScript loader) that collects the same counts. */
const appMjs = `import { StreamExecutionEnvironment } from 'weir';
import { runJob } from 'weir/testing';
import * as nexmark from 'weir/nexmark';
import { FileSink, FileSource } from 'weir/connectors/file';
if (typeof runJob !== 'function' || Object.keys(nexmark).length === 0) throw new Error('weir/testing or weir/nexmark is missing');
if (typeof FileSource.forRecordStreamFormat !== 'function' || typeof FileSink.forRowFormat !== 'function') throw new Error('weir/connectors/file is missing');
// The PostgreSQL and NATS connectors need their optional peer packages, which this project does not install.
for (const entry of ['weir/connectors/pg', 'weir/connectors/nats']) {
  const failed = await import(entry).then(() => undefined, (e) => e);
  if (failed === undefined || !/Cannot find (package|module)/.test(String(failed.message))) throw new Error(\`\${entry} without its peer packages: \${failed}\`);
}
${pipeline(false).replace('.print();', '.executeAndCollect();').replace('env\n  .fromSequence', 'const out = await env\n  .fromSequence')}
for (const line of out.sort()) console.log(line);
`;

/**
 * A CommonJS program (Node 20.19 or later can require() weir's ES modules). Workers re-import the
 * program and capture its execute() call while it is evaluated, so a CommonJS module builds and
 * executes its job in its body, without awaiting anything first; `import('weir')` afterwards
 * reaches the same instance.
 */
const appCjs = `const { StreamExecutionEnvironment } = require('weir');
${pipeline(false).replace('.print();', '.executeAndCollect();').replace('env\n  .fromSequence', 'const collected = env\n  .fromSequence')}
collected
  .then(async (out) => {
    const imported = await import('weir');
    if (imported.StreamExecutionEnvironment !== StreamExecutionEnvironment) throw new Error('require() and import() gave different instances of weir');
    for (const line of out.sort()) console.log(line);
  })
  .catch((e) => {
    console.error(e);
    process.exitCode = 1;
  });
`;

/**
 * A CommonJS program that loads weir with `await import('weir')` (any Node 20) and so builds its
 * job only after an await: it runs the job inline (every subtask on its own thread), because
 * workers could not capture an execute() call made after the module was evaluated.
 */
const appImportCjs = `(async () => {
  const { StreamExecutionEnvironment } = await import('weir');
  ${pipeline(false).replace('.print();', '.executeAndCollect();').replace('env\n  .fromSequence', 'const out = await env\n  .fromSequence').replace('env.setParallelism(2);', "env.setParallelism(2).setExecutionMode('inline');").split('\n').join('\n  ')}
  for (const line of out.sort()) console.log(line);
})().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
`;

/** Type-checks against the installed declarations; the second line must be rejected. */
const typedTs = `import { StreamExecutionEnvironment, type DataStream } from 'weir';
import { runJob } from 'weir/testing';
const env: StreamExecutionEnvironment = StreamExecutionEnvironment.getExecutionEnvironment();
const s: DataStream<number> = env.fromSequence(1, 10);
// @ts-expect-error: the element type is number
const wrong: DataStream<string> = env.fromSequence(1, 10);
export { s, wrong, runJob };
`;

// ---- the projects ----------------------------------------------------------------------------

let work: string;
const project: Record<'module' | 'commonjs', string> = { module: '', commonjs: '' };

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'weir-package-'));
  const pack = await run('npm', ['pack', '--pack-destination', work], ROOT, 180_000);
  assert.equal(pack.code, 0, `npm pack failed\n${show(pack)}`);
  const tarball = readdirSync(work).find((f) => f.endsWith('.tgz'));
  assert.ok(tarball, `npm pack left no tarball in ${work}`);
  const installs = (['module', 'commonjs'] as const).map(async (type) => {
    const dir = join(work, type);
    mkdirSync(dir);
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: `weir-package-test-${type}`, private: true, type }) + '\n');
    const r = await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error', join(work, tarball)], dir, 180_000);
    assert.equal(r.code, 0, `npm install of the tarball into a "type": "${type}" project failed\n${show(r)}`);
    project[type] = dir;
  });
  await Promise.all(installs);
  const write = (type: 'module' | 'commonjs', name: string, text: string) => writeFileSync(join(project[type], name), text);
  for (const type of ['module', 'commonjs'] as const) {
    write(type, 'app.mjs', appMjs);
    write(type, 'app.cjs', appCjs);
    write(type, 'app-import.cjs', appImportCjs);
    write(type, 'job.mts', esmJob(true));
    write(type, 'job.mjs', esmJob(false));
  }
  write('module', 'job.ts', esmJob(true));
  write('module', 'job.js', esmJob(false));
  write('module', 'typed.ts', typedTs);
  // Named so that tsx, which reads tsconfig.json, does not apply it to the jobs.
  write(
    'module',
    'tsconfig.typed.json',
    JSON.stringify({ compilerOptions: { strict: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', skipLibCheck: true, types: [], noEmit: true }, files: ['typed.ts'] }),
  );
  write('commonjs', 'job.ts', commonJsTsJob);
  write('commonjs', 'job.js', commonJsJsJob);
  write('commonjs', 'esm-job.ts', esmJob(true));
  write('commonjs', 'no-execute.mjs', `import { StreamExecutionEnvironment } from 'weir';\nStreamExecutionEnvironment.getExecutionEnvironment().fromSequence(1, 3).print();\n`);
});

after(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

const opts = { timeout: 90_000 };

describe('the packed tarball', () => {
  it('holds dist/ with declarations and the built web UI, bin/, README and docs, and neither sources nor tests', opts, async () => {
    const r = await run('tar', ['tzf', join(work, readdirSync(work).find((f) => f.endsWith('.tgz'))!)], work);
    const files = r.stdout.split('\n').filter(Boolean).map((f) => f.replace(/^package\//, ''));
    for (const f of ['package.json', 'README.md', 'bin/weir.mjs', 'dist/index.js', 'dist/index.d.ts', 'dist/testing/index.d.ts', 'dist/nexmark/index.js', 'dist/runtime/worker/worker-bootstrap.mjs', 'dist/cli/main.js', 'dist/ui/index.html']) {
      assert.ok(files.includes(f), `${f} is missing from the tarball`);
    }
    assert.ok(files.some((f) => f.startsWith('docs/')), 'docs/ is missing from the tarball');
    const unwanted = files.filter((f) => f.startsWith('src/') || f.startsWith('test/') || f.startsWith('bench/') || f.endsWith('.test.js') || f.endsWith('.ts') && !f.endsWith('.d.ts'));
    assert.deepEqual(unwanted, []);
  });
});

// The cases of a project run two at a time (each is a process of its own, most of them a job on
// worker threads): about half the wall time of running them one by one on two cores.
const concurrently = { concurrency: 2 };

for (const type of ['module', 'commonjs'] as const) {
  describe(`installed in a "type": "${type}" project`, () => {
    describe('what a user runs', concurrently, () => {
      it('node app.mjs: a plain Node program runs a job (and finds weir/testing and weir/nexmark)', opts, async () => {
        assert.deepEqual(counts(await run(process.execPath, ['app.mjs'], project[type]), false), EXPECTED);
      });

      it('node app.cjs: a CommonJS program uses require("weir") and import("weir") (one instance)', opts, async () => {
        assert.deepEqual(counts(await run(process.execPath, ['app.cjs'], project[type]), false), EXPECTED);
      });

      it('node app-import.cjs: a CommonJS program uses await import("weir") (inline execution)', opts, async () => {
        assert.deepEqual(counts(await run(process.execPath, ['app-import.cjs'], project[type]), false), EXPECTED);
      });

      for (const job of ['job.ts', 'job.mts', 'job.js', 'job.mjs']) {
        it(`npx weir run -p 2 ${job}`, opts, async () => {
          assert.deepEqual(counts(await run('npx', ['--no-install', 'weir', 'run', '-p', '2', job], project[type])), EXPECTED);
        });
      }
    });

    // An ES module job is prebuilt to plain JavaScript (no loader hooks in any thread) and kept
    // under node_modules/.cache; a CommonJS one is loaded through the hooks and leaves nothing there.
    it('ES module jobs run prebuilt, from a cache kept in the project; CommonJS jobs through the loader hooks', opts, async () => {
      const cache = join(project[type], 'node_modules', '.cache', 'weir', 'jobs');
      const bundles = existsSync(cache) ? readdirSync(cache).length : 0;
      assert.equal(bundles, type === 'module' ? 4 : 2, `prebuilt jobs in ${cache}`);
    });
  });
}

describe('declarations', () => {
  it('tsc checks a program against the installed weir, weir/testing (and rejects a wrong element type)', opts, async () => {
    const r = await run(
      process.execPath,
      [TSC, '-p', 'tsconfig.typed.json'],
      project.module,
    );
    assert.equal(r.code, 0, show(r));
  });
});

describe('mistakes, each answered with what to change', concurrently, () => {
  it('an ES module .ts job in a CommonJS project: rename it to .mts or set "type": "module"', opts, async () => {
    const r = await run('npx', ['--no-install', 'weir', 'run', 'esm-job.ts'], project.commonjs);
    assert.notEqual(r.code, 0, show(r));
    assert.match(r.stderr, /esm-job\.ts is loaded as CommonJS/, show(r));
    assert.match(r.stderr, /Rename it to esm-job\.mts, or add "type": "module" to .*package\.json/, show(r));
  });

  it('a job module that never calls execute()', opts, async () => {
    const r = await run('npx', ['--no-install', 'weir', 'run', 'no-execute.mjs'], project.commonjs);
    assert.equal(r.code, 1, show(r));
    assert.match(r.stderr, /no-execute\.mjs did not call env\.execute\(\): a job module builds its pipeline and then awaits env\.execute\(name\)/, show(r));
  });

  it('a job file that does not exist', opts, async () => {
    const r = await run('npx', ['--no-install', 'weir', 'run', 'no-such-job.ts'], project.commonjs);
    assert.equal(r.code, 2, show(r));
    assert.match(r.stderr, /job file not found: .*no-such-job\.ts \(a relative path is taken from the current directory, .*\); name the job's \.ts, \.mts, \.js or \.mjs file/, show(r));
  });
});
