// The layer rule of src/: every import points down (or within a layer), and no module imports
// itself back through a chain of others. Layers, lowest first:
//
//   core → api → graph → state → checkpoint → runtime → cluster → edges
//
// The edges (cli, rest, web, metrics, connectors, nexmark, testing, entrypoints and the package
// entry src/index.ts) may use every layer and each other, but no cycle. Connectors may use only
// core and api: they are written against the public API, as users write theirs.
//
// Type-only imports count as imports: a cycle of types is still two modules that cannot be
// understood one without the other. Run directly (`node scripts/check-layers.mjs`) it prints each
// violation and exits 1; `checkLayers()` returns them for the test suite.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export const LAYERS = ['core', 'api', 'graph', 'state', 'checkpoint', 'runtime', 'cluster'];
export const EDGES = ['cli', 'rest', 'web', 'metrics', 'connectors', 'nexmark', 'testing', 'entrypoints'];
/** Edges with a narrower rule than "anything below": folder → layers it may import. */
const RESTRICTED = { connectors: ['core', 'api', 'connectors'] };

const IMPORT = /(?:^|[;\s])(?:import|export)\s+(?:type\s+)?(?:[^'";]*?\sfrom\s+)?['"](\.{1,2}\/[^'"]+)['"]|import\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g;

function sourceFiles(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...sourceFiles(path));
    else if (/\.(?:m?ts|mjs)$/.test(name) && !name.endsWith('.d.ts') && !name.endsWith('.d.mts')) out.push(path);
  }
  return out;
}

/** The layer of a path relative to src/: its first folder, or 'edge' for a top-level file. */
function layerOf(rel) {
  const parts = rel.split(sep);
  return parts.length === 1 ? 'index' : parts[0];
}

function rank(layer) {
  const i = LAYERS.indexOf(layer);
  if (i >= 0) return i;
  if (EDGES.includes(layer) || layer === 'index') return LAYERS.length;
  return -1;
}

/** Strips comments so that import-like text in documentation is not mistaken for an import. */
function code(text) {
  // Comments become blank (newlines kept), so line numbers still point into the file.
  return text.replace(/\/\*[\s\S]*?\*\//g, (c) => c.replace(/[^\n]/g, ' ')).replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
}

export function checkLayers(srcDir = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'src')) {
  const files = sourceFiles(srcDir);
  const graph = new Map();
  const problems = [];
  for (const file of files) {
    const rel = relative(srcDir, file);
    const from = layerOf(rel);
    if (rank(from) < 0) problems.push(`${rel}: folder '${from}' is not a known layer (add it to scripts/check-layers.mjs)`);
    const targets = [];
    for (const m of code(readFileSync(file, 'utf8')).matchAll(IMPORT)) {
      const spec = m[1] ?? m[2];
      const target = resolve(dirname(file), spec);
      const trel = relative(srcDir, target);
      if (trel.startsWith('..')) continue;
      targets.push(target);
      const to = layerOf(trel);
      const allowed = RESTRICTED[from];
      if (allowed !== undefined ? !allowed.includes(to) : rank(to) > rank(from) || (from !== 'index' && to === 'index')) {
        problems.push(`${rel} imports ${trel}: '${from}' may not depend on '${to}'`);
      }
    }
    graph.set(file, targets);
  }
  for (const cycle of cycles(graph)) {
    problems.push(`import cycle: ${[...cycle, cycle[0]].map((f) => relative(srcDir, f)).join(' → ')}`);
  }
  return problems;
}

/** Strongly connected components with more than one module (or a self-import), by Tarjan. */
function cycles(graph) {
  let index = 0;
  const stack = [];
  const on = new Set();
  const idx = new Map();
  const low = new Map();
  const out = [];
  const visit = (v) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)));
    }
    if (low.get(v) === idx.get(v)) {
      const comp = [];
      let w;
      do {
        w = stack.pop();
        on.delete(w);
        comp.push(w);
      } while (w !== v);
      if (comp.length > 1 || (graph.get(v) ?? []).includes(v)) out.push(comp.reverse());
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) visit(v);
  return out;
}

/**
 * The engine's layers read time only through the injected clock and schedule only through the
 * injected scheduler (core/time.ts), so tests can drive time by hand and nothing in the engine
 * depends on the wall clock behind a test's back. Edges (processes, clients, the command line)
 * may use real time.
 */
export const CLOCKED_LAYERS = ['api', 'graph', 'state', 'checkpoint', 'runtime', 'cluster'];
const CLOCK_READ = /\bDate\.now\s*\(|\bnew\s+Date\s*\(\s*\)|\bperformance\.now\s*\(|\bprocess\.hrtime\b|(?<![.\w])(?:setTimeout|setInterval)\s*\(|['"]node:timers(?:\/promises)?['"]/g;

export function checkClock(srcDir = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'src')) {
  const problems = [];
  for (const file of sourceFiles(srcDir)) {
    const rel = relative(srcDir, file);
    if (!CLOCKED_LAYERS.includes(layerOf(rel))) continue;
    // A worker's JavaScript bootstrap runs before any engine module is loaded; it only marks start-up phases.
    if (rel.endsWith('.mjs')) continue;
    const lines = code(readFileSync(file, 'utf8')).split('\n');
    lines.forEach((line, i) => {
      // A method of that name (e.g. a pending checkpoint's setTimeout(handle)) is not the global.
      if (/^\s*(?:[\w#]+\s+)*set(?:Timeout|Interval)\s*\([^)]*\)\s*:/.test(line)) return;
      for (const m of line.matchAll(CLOCK_READ)) {
        problems.push(`${rel}:${i + 1}: '${m[0].trim()}' reads or schedules on the wall clock; use the injected Clock/Scheduler (core/time.ts)`);
      }
    });
  }
  return problems;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const problems = [...checkLayers(), ...(process.argv.includes('--clock') ? checkClock() : [])];
  for (const p of problems) console.error(p);
  if (problems.length > 0) process.exit(1);
  console.log('layers: every import points down, no cycles');
}
