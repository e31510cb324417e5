import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// @ts-expect-error: a plain JavaScript module without declarations
import { checkClock, checkLayers } from '../../scripts/check-layers.mjs';

/** A scratch src/ folder and a function that writes one file into it. */
function scratchSrc(prefix: string): { src: string; put: (path: string, text: string) => void } {
  const src = mkdtempSync(join(tmpdir(), prefix));
  const put = (path: string, text: string): void => {
    mkdirSync(join(src, path, '..'), { recursive: true });
    writeFileSync(join(src, path), text);
  };
  return { src, put };
}

test('every import in src/ points down a layer and no module imports itself back', () => {
  assert.deepEqual(checkLayers(), []);
});

test('the check finds an upward import, a cycle and an unknown folder', () => {
  const { src, put } = scratchSrc('weir-layers-');
  put('core/a.ts', "import { b } from '../api/b.ts';\nexport const a = 1;\n");
  put('api/b.ts', "export const b = 1;\n");
  put('runtime/x.ts', "import type { Y } from './y.ts';\nexport type X = Y;\n");
  put('runtime/y.ts', "import type { X } from './x.ts';\nexport type Y = X;\n");
  put('connectors/c.ts', "import { Z } from '../runtime/x.ts';\n// import '../cluster/not-real.ts';\n");
  put('odd/z.ts', 'export {};\n');
  const problems: string[] = checkLayers(src);
  assert.ok(problems.includes("core/a.ts imports api/b.ts: 'core' may not depend on 'api'"), problems.join('\n'));
  assert.ok(problems.some((p) => p.startsWith('import cycle: runtime/x.ts → runtime/y.ts → runtime/x.ts')), problems.join('\n'));
  assert.ok(problems.includes("connectors/c.ts imports runtime/x.ts: 'connectors' may not depend on 'runtime'"), problems.join('\n'));
  assert.ok(problems.some((p) => p.startsWith("odd/z.ts: folder 'odd' is not a known layer")), problems.join('\n'));
  assert.equal(problems.length, 4, problems.join('\n'));
});

test('the engine reads time and schedules only through the injected clock (core/time.ts)', () => {
  assert.deepEqual(checkClock(), []);
});

test('the clock check finds wall-clock reads and timers in engine layers, not in edges or comments', () => {
  const { src, put } = scratchSrc('weir-clock-');
  put('runtime/a.ts', "const t = Date.now();\n// Date.now() in a comment\nsetTimeout(() => {}, 1);\n");
  put('state/b.ts', "import { setImmediate } from 'node:timers/promises';\nconst s = performance.now();\n");
  put('checkpoint/c.ts', "class P {\n  setTimeout(handle: unknown): void {}\n}\nconst d = new Date();\n");
  put('cli/d.ts', 'const t = Date.now();\n');
  const problems: string[] = checkClock(src);
  assert.deepEqual(
    problems.map((p) => p.split(' reads')[0]),
    [
      "checkpoint/c.ts:4: 'new Date()'",
      "runtime/a.ts:1: 'Date.now('",
      "runtime/a.ts:3: 'setTimeout('",
      "state/b.ts:1: ''node:timers/promises''",
      "state/b.ts:2: 'performance.now('",
    ],
  );
});
