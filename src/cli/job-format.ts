/**
 * What to change when a job module fails to load because Node loads it as CommonJS: a `.ts` or
 * `.js` job follows the "type" of the nearest package.json, and npm's default (no "type", or
 * "commonjs") makes it CommonJS, where `import`/`export` (for `.js`) and top-level
 * `await env.execute()` (for either) cannot work. The errors Node and tsx give for that name
 * the symptom, not the fix.
 */
import { readFileSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';

/** The nearest package.json above `file` and whether it declares "type": "module". */
export function nearestPackage(file: string): { path: string | undefined; module: boolean } {
  for (let dir = dirname(file); ; dir = dirname(dir)) {
    const path = join(dir, 'package.json');
    try {
      return { path, module: (JSON.parse(readFileSync(path, 'utf8')) as { type?: unknown }).type === 'module' };
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') return { path, module: false };
    }
    if (dirname(dir) === dir) return { path: undefined, module: false };
  }
}

/** Messages of the failures an ES module loaded as CommonJS ends in (Node's and tsx's). */
const ESM_AS_COMMONJS = [
  /Top-level await is currently not supported with the "cjs" output format/,
  /Cannot use import statement outside a module/,
  /Unexpected token 'export'/,
  /await is only valid in async functions and the top level bodies of modules/,
  /Cannot require\(\) ES Module .* in a cycle/,
];

function messages(e: unknown): string {
  let text = '';
  for (let c = e, depth = 0; c !== undefined && c !== null && depth < 5; c = (c as { cause?: unknown }).cause, depth++) {
    text += `${c instanceof Error ? c.message : String(c)}\n`;
  }
  return text;
}

/**
 * Explains `error` from importing the job module at `jobPath` when the cause is that the module is
 * written as an ES module but loads as CommonJS; undefined for any other failure.
 */
export function moduleFormatHint(jobPath: string, error: unknown): string | undefined {
  const ext = extname(jobPath);
  if (ext !== '.ts' && ext !== '.tsx' && ext !== '.js') return undefined;
  const text = messages(error);
  if (!ESM_AS_COMMONJS.some((p) => p.test(text))) return undefined;
  const pkg = nearestPackage(jobPath);
  if (pkg.module) return undefined;
  const name = basename(jobPath);
  const renamed = `${name.slice(0, -ext.length)}${ext === '.js' ? '.mjs' : '.mts'}`;
  const where = pkg.path === undefined ? 'no package.json above it declares "type": "module"' : `${pkg.path} does not declare "type": "module"`;
  return (
    `${name} is loaded as CommonJS (${where}; CommonJS is npm's default), but it is written as an ES module ` +
    `(import/export, or a top-level await of env.execute()). Rename it to ${renamed}, or add "type": "module" to ` +
    `${pkg.path ?? 'the package.json of your project'}.`
  );
}
