/**
 * The web UI's entry: a router over the location's hash and a poll loop that refreshes the
 * page shown every 1.5 s. Routes:
 *
 *   #/                                   the cluster overview
 *   #/jobs/:jid                          a job and its graph
 *   #/jobs/:jid/exceptions | /config     its exceptions, its configuration
 *   #/jobs/:jid/checkpoints              its checkpoints
 *   #/jobs/:jid/checkpoints/:cid         one checkpoint, each vertex and subtask
 *   #/jobs/:jid/checkpoints/:cid/timeline  its barrier timeline
 */
import './style.css';
import { h } from './dom.ts';
import type { Page } from './page.ts';
import { jobPage, type JobTab } from './pages/job.ts';
import { overviewPage } from './pages/overview.ts';

const POLL_MS = 1500;

function route(hash: string): Page {
  const path = hash.replace(/^#/, '').split('/').filter(Boolean);
  if (path[0] === 'jobs' && path[1] !== undefined && /^[0-9a-f]{32}$/.test(path[1])) {
    const jid = path[1];
    const rest = path.slice(2);
    let tab: JobTab | undefined;
    if (rest.length === 0) tab = { kind: 'graph' };
    else if (rest.length === 1 && rest[0] === 'exceptions') tab = { kind: 'exceptions' };
    else if (rest.length === 1 && rest[0] === 'config') tab = { kind: 'config' };
    else if (rest[0] === 'checkpoints' && rest.length === 1) tab = { kind: 'checkpoints' };
    else if (rest[0] === 'checkpoints' && /^\d+$/.test(rest[1] ?? '') && rest.length === 2) tab = { kind: 'checkpoint', id: Number(rest[1]) };
    else if (rest[0] === 'checkpoints' && /^\d+$/.test(rest[1] ?? '') && rest[2] === 'timeline' && rest.length === 3) tab = { kind: 'timeline', id: Number(rest[1]) };
    if (tab) return jobPage(jid, tab);
  }
  if (path.length === 0) return overviewPage();
  const el = h('div', { class: 'page' }, h('section', { class: 'card' }, h('h2', {}, 'Not found'), h('p', {}, `No page at ${hash}. `, h('a', { href: '#/' }, 'Go to the overview'))));
  return { el, refresh: async () => {} };
}

const app = document.getElementById('app')!;
const status = document.getElementById('top-status')!;
let page: Page = route(location.hash);
let generation = 0;
let timer: ReturnType<typeof setTimeout> | undefined;

/** Refreshes the page shown, then schedules the next poll; a failure is shown, and polling goes on. */
async function poll(): Promise<void> {
  const mine = ++generation;
  clearTimeout(timer);
  const shown = page;
  try {
    await shown.refresh();
    if (mine !== generation) return;
    status.textContent = `updated ${new Date().toLocaleTimeString()}`;
    status.className = 'top-status';
    document.body.dataset['refreshes'] = String(Number(document.body.dataset['refreshes'] ?? 0) + 1);
  } catch (e) {
    if (mine !== generation) return;
    status.textContent = `cannot read the JobManager: ${e instanceof Error ? e.message : String(e)}`;
    status.className = 'top-status error';
  }
  timer = setTimeout(() => void poll(), POLL_MS);
}

function show(): void {
  page.dispose?.();
  page = route(location.hash);
  app.replaceChildren(page.el);
  void poll();
}

window.addEventListener('hashchange', show);
app.replaceChildren(page.el);
void poll();
