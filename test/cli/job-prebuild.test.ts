/**
 * Jobs prebuilt to plain JavaScript for the compiled engine (src/cli/job-prebuild.ts): what is
 * bundled and what stays an import, `import.meta` of bundled modules, reuse while nothing changed
 * and a rebuild when an imported file, a tsconfig or the cache itself changes, and the jobs left
 * to the loader hooks (CommonJS, no node_modules above, code esbuild rejects).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { prebuiltJob } from '../../src/cli/job-prebuild.ts';
import { isPrebuiltJob } from '../../src/runtime/worker/prebuilt-job.mjs';

const work = mkdtempSync(join(tmpdir(), 'weir-prebuild-test-'));
after(() => rmSync(work, { recursive: true, force: true }));

function write(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
}

/**
 * A project: a job importing a TypeScript helper (which reads a file beside itself through
 * import.meta.url), a JavaScript package and a TypeScript workspace package.
 */
function project(name: string): string {
  const root = join(work, name);
  write(join(root, 'package.json'), '{ "type": "module" }\n');
  write(join(root, 'node_modules/plain-dep/package.json'), '{ "name": "plain-dep", "type": "module", "exports": "./index.js" }\n');
  write(join(root, 'node_modules/plain-dep/index.js'), 'export const plain = "plain-dep";\n');
  write(join(root, 'node_modules/ts-dep/package.json'), '{ "name": "ts-dep", "type": "module", "exports": "./index.ts" }\n');
  write(join(root, 'node_modules/ts-dep/index.ts'), 'export const typed: string = "ts-dep";\n');
  write(join(root, 'src/data.txt'), 'from data.txt');
  write(
    join(root, 'src/helper.ts'),
    "import { readFileSync } from 'node:fs';\nexport const helperUrl: string = import.meta.url;\nexport const data: string = readFileSync(new URL('./data.txt', import.meta.url), 'utf8');\nexport const label = (n: number): string => `n=${n}`;\n",
  );
  write(
    join(root, 'src/job.ts'),
    "import { data, helperUrl, label } from './helper.ts';\nimport { plain } from 'plain-dep';\nimport { typed } from 'ts-dep';\nexport const result = { data, helperUrl, jobUrl: import.meta.url, label: label(2), plain, typed };\n",
  );
  return root;
}

/** Imports a prebuilt module in a plain Node process (no TypeScript loader) and returns its `result`. */
function runPlain(url: string): Record<string, string> {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', `const m = await import(${JSON.stringify(url)}); console.log(JSON.stringify(m.result));`], {
    encoding: 'utf8',
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as Record<string, string>;
}

function bundleOf(url: string): string {
  return readFileSync(fileURLToPath(url), 'utf8');
}

describe('prebuilt jobs', () => {
  it('bundles the job, its own modules and TypeScript packages; keeps JavaScript packages as imports; import.meta names each file', async () => {
    const root = project('basic');
    const url = await prebuiltJob(join(root, 'src/job.ts'));
    assert.ok(url !== undefined, 'the job was not prebuilt');
    assert.ok(isPrebuiltJob(url));
    assert.ok(fileURLToPath(url).startsWith(join(root, 'node_modules', '.cache', 'weir', 'jobs')), url);
    const text = bundleOf(url);
    assert.match(text, /from "plain-dep"/, 'a JavaScript package stays an import');
    assert.doesNotMatch(text, /from "ts-dep"/, 'a TypeScript package is bundled');
    assert.deepEqual(runPlain(url), {
      data: 'from data.txt',
      helperUrl: pathToFileURL(join(root, 'src/helper.ts')).href,
      jobUrl: pathToFileURL(join(root, 'src/job.ts')).href,
      label: 'n=2',
      plain: 'plain-dep',
      typed: 'ts-dep',
    });
  });

  it('reuses the bundle while nothing changed, and builds again when an imported file or a tsconfig changes', async () => {
    const root = project('reuse');
    const job = join(root, 'src/job.ts');
    const url = (await prebuiltJob(job))!;
    const bundle = fileURLToPath(url);
    // Files written now and bundled at once leave no record (their mtime is the build's time);
    // set them in the past, as they are for a job not being edited, and build once more.
    const past = new Date(Date.now() - 60_000);
    for (const f of ['src/job.ts', 'src/helper.ts', 'node_modules/ts-dep/index.ts']) utimesSync(join(root, f), past, past);
    await prebuiltJob(job);
    const built = statSync(bundle).mtimeMs;
    const again = await prebuiltJob(job);
    assert.equal(again, url);
    assert.equal(statSync(bundle).mtimeMs, built, 'an unchanged job was bundled again');

    write(join(root, 'src/helper.ts'), "export const helperUrl = 'edited';\nexport const data = 'edited';\nexport const label = (n: number): string => `m=${n}`;\n");
    utimesSync(join(root, 'src/helper.ts'), past, new Date(Date.now() - 30_000));
    const edited = (await prebuiltJob(job))!;
    assert.equal(runPlain(edited).label, 'm=2', 'an edit of an imported module was not picked up');

    const rebuiltAt = statSync(bundle).mtimeMs;
    write(join(root, 'tsconfig.json'), '{ "compilerOptions": { "target": "es2022" } }\n');
    utimesSync(join(root, 'tsconfig.json'), past, past);
    await prebuiltJob(job);
    assert.ok(statSync(bundle).mtimeMs > rebuiltAt, 'a new tsconfig.json did not cause a rebuild');
  });

  it('a damaged cache record is rebuilt, not trusted', async () => {
    const root = project('damaged');
    const job = join(root, 'src/job.ts');
    const url = (await prebuiltJob(job))!;
    const dir = dirname(fileURLToPath(url));
    writeFileSync(join(dir, 'manifest.json'), '{ not json');
    const again = (await prebuiltJob(job))!;
    assert.equal(runPlain(again).typed, 'ts-dep');
  });

  it('leaves CommonJS jobs, jobs with no node_modules above them and jobs esbuild rejects to the loader hooks', async () => {
    const root = project('left');
    write(join(root, 'src/job.cts'), "const { plain } = require('plain-dep');\nmodule.exports = { plain };\n");
    assert.equal(await prebuiltJob(join(root, 'src/job.cts')), undefined);

    const cjs = join(work, 'cjs-project');
    write(join(cjs, 'package.json'), '{ "type": "commonjs" }\n');
    mkdirSync(join(cjs, 'node_modules'), { recursive: true });
    write(join(cjs, 'job.ts'), 'export const x = 1;\n');
    assert.equal(await prebuiltJob(join(cjs, 'job.ts')), undefined, 'a .ts job in a CommonJS package is CommonJS');

    write(join(root, 'src/broken.ts'), 'export const x = ;\n');
    assert.equal(await prebuiltJob(join(root, 'src/broken.ts')), undefined);
    const jobs = join(root, 'node_modules', '.cache', 'weir', 'jobs');
    for (const d of existsSync(jobs) ? readdirSync(jobs) : []) {
      const files = readdirSync(join(jobs, d));
      assert.ok(files.every((f) => f === 'job.mjs' || f === 'manifest.json'), `temporary files left: ${files.join(', ')}`);
    }
  });

  it('a job outside any project with node_modules is left to the loader hooks', async (t) => {
    // Only where no directory above the temporary directory has a node_modules of its own.
    let d = work;
    for (; dirname(d) !== d; d = dirname(d)) {
      try {
        if (statSync(join(d, 'node_modules')).isDirectory()) return t.skip(`${d} has a node_modules directory`);
      } catch {
        // none here
      }
    }
    const lone = join(work, 'lone');
    write(join(lone, 'job.mjs'), 'export const x = 1;\n');
    assert.equal(await prebuiltJob(join(lone, 'job.mjs')), undefined);
  });
});
