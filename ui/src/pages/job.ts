/**
 * A job: its header (status, times, restarts), the actions (checkpoint, savepoint, stop with a
 * savepoint, cancel; each confirmed in a dialog, its outcome followed until it is known), tabs,
 * and the tab's body: the graph, exceptions, configuration or the checkpoint pages.
 */
import { ApiError, get, jobPath, optional, send, type JobDetails, type OperationResult, type VertexDetails } from '../api.ts';
import { confirmDialog, type Field } from '../dialog.ts';
import { badge, duration, facts, h, time } from '../dom.ts';
import type { Page } from '../page.ts';
import { checkpointBody, checkpointsBody, timelineBody } from './checkpoints.ts';
import { configBody, exceptionsBody, graphBody } from './job-tabs.ts';

export type JobTab = { kind: 'graph' } | { kind: 'exceptions' } | { kind: 'config' } | { kind: 'checkpoints' } | { kind: 'checkpoint'; id: number } | { kind: 'timeline'; id: number };

/** The body under a job's tabs. */
export interface JobBody {
  readonly el: HTMLElement;
  refresh(job: JobDetails): Promise<void>;
  dispose?(): void;
}

const TERMINAL = new Set(['FINISHED', 'FAILED', 'CANCELED']);

function bodyFor(jid: string, tab: JobTab): JobBody {
  switch (tab.kind) {
    case 'graph':
      return graphBody(jid);
    case 'exceptions':
      return exceptionsBody(jid);
    case 'config':
      return configBody(jid);
    case 'checkpoints':
      return checkpointsBody(jid);
    case 'checkpoint':
      return checkpointBody(jid, tab.id);
    case 'timeline':
      return timelineBody(jid, tab.id);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function jobPage(jid: string, tab: JobTab): Page {
  const base = jobPath(jid);
  const header = h('div', { class: 'job-header' });
  const notices = h('ul', { class: 'notices', 'data-testid': 'notices' });
  const body = bodyFor(jid, tab);
  let job: JobDetails | undefined;

  /** A line under the actions that follows an operation until its outcome is known. */
  const notice = (text: string) => {
    const li = h('li', { class: 'notice notice-pending', 'data-testid': 'notice' }, text);
    notices.prepend(li);
    return {
      done(message: string | Node, ok: boolean) {
        li.className = `notice ${ok ? 'notice-ok' : 'notice-error'}`;
        li.replaceChildren(message);
      },
    };
  };

  /** Polls a savepoint or checkpoint trigger until it is COMPLETED. */
  async function outcome(path: string): Promise<OperationResult['operation']> {
    for (;;) {
      const r = await get<OperationResult>(path);
      if (r.status.id === 'COMPLETED') return r.operation;
      await sleep(400);
    }
  }

  async function act(what: string, run: () => Promise<string | Node>): Promise<void> {
    const n = notice(`${what}: in progress…`);
    try {
      n.done(await run(), true);
    } catch (e) {
      n.done(`${what} failed: ${e instanceof Error ? e.message : String(e)}`, false);
    }
  }

  const failure = (op: OperationResult['operation']): string | undefined => {
    const cause = op?.['failure-cause'];
    return cause ? (cause['stack-trace'].split('\n')[0] ?? cause.class) : undefined;
  };

  const savepointFields: Field[] = [{ name: 'target', label: 'Target directory (empty: the job’s state.savepoints.dir)', kind: 'text', placeholder: '/path/to/savepoints' }];
  const actions: { label: string; id: string; danger?: boolean; run: () => Promise<void> }[] = [
    {
      label: 'Trigger checkpoint',
      id: 'action-checkpoint',
      run: async () => {
        const ok = await confirmDialog({ title: 'Trigger a checkpoint', message: `Take a checkpoint of “${job?.name}” now, regardless of the interval?`, confirm: 'Trigger checkpoint' });
        if (!ok) return;
        await act('Checkpoint', async () => {
          const { 'request-id': rid } = await send<{ 'request-id': string }>('POST', `${base}/checkpoints`, {});
          const op = await outcome(`${base}/checkpoints/${rid}`);
          const why = failure(op);
          if (why) throw new Error(why);
          return h('span', {}, 'Checkpoint ', h('a', { href: `#/jobs/${jid}/checkpoints/${op?.checkpointId}` }, String(op?.checkpointId)), ' completed');
        });
      },
    },
    {
      label: 'Savepoint',
      id: 'action-savepoint',
      run: async () => {
        const v = await confirmDialog({ title: 'Take a savepoint', message: `Take a savepoint of “${job?.name}”? The job keeps running.`, confirm: 'Take savepoint', fields: savepointFields });
        if (!v) return;
        await act('Savepoint', async () => {
          const target = String(v['target'] ?? '');
          const { 'request-id': rid } = await send<{ 'request-id': string }>('POST', `${base}/savepoints`, { 'target-directory': target === '' ? null : target, 'cancel-job': false });
          const op = await outcome(`${base}/savepoints/${rid}`);
          const why = failure(op);
          if (why) throw new Error(why);
          return h('span', {}, 'Savepoint completed: ', h('code', { 'data-testid': 'savepoint-location' }, op?.location ?? '?'));
        });
      },
    },
    {
      label: 'Stop with savepoint',
      id: 'action-stop',
      run: async () => {
        const v = await confirmDialog({
          title: 'Stop with a savepoint',
          message: `Stop “${job?.name}”: take a savepoint, after which its sources emit nothing more, and end the job FINISHED.`,
          confirm: 'Stop job',
          danger: true,
          fields: [...savepointFields, { name: 'drain', label: 'Drain: send the maximal watermark first, so timers fire and windows close (for a job that will not be resumed)', kind: 'checkbox' }],
        });
        if (!v) return;
        await act('Stop with savepoint', async () => {
          const target = String(v['target'] ?? '');
          const { 'request-id': rid } = await send<{ 'request-id': string }>('POST', `${base}/stop`, { targetDirectory: target === '' ? null : target, drain: v['drain'] === true });
          const op = await outcome(`${base}/savepoints/${rid}`);
          const why = failure(op);
          if (why) throw new Error(why);
          return h('span', {}, 'Stopped with savepoint: ', h('code', {}, op?.location ?? '?'));
        });
      },
    },
    {
      label: 'Cancel job',
      id: 'action-cancel',
      danger: true,
      run: async () => {
        const ok = await confirmDialog({ title: 'Cancel the job', message: `Cancel “${job?.name}”? Its tasks stop now, without a savepoint.`, confirm: 'Cancel job', danger: true });
        if (!ok) return;
        await act('Cancel', async () => {
          await send('PATCH', `${base}?mode=cancel`);
          return 'Job cancelled';
        });
      },
    },
  ];
  const buttons = actions.map((a) => h('button', { type: 'button', class: a.danger ? 'danger' : 'primary', 'data-testid': a.id, onclick: () => void a.run() }, a.label));

  const tabs: [string, string, JobTab['kind'][]][] = [
    ['Graph', `#/jobs/${jid}`, ['graph']],
    ['Checkpoints', `#/jobs/${jid}/checkpoints`, ['checkpoints', 'checkpoint', 'timeline']],
    ['Exceptions', `#/jobs/${jid}/exceptions`, ['exceptions']],
    ['Configuration', `#/jobs/${jid}/config`, ['config']],
  ];
  const nav = h('nav', { class: 'tabs' }, ...tabs.map(([label, href, kinds]) => h('a', { href, class: kinds.includes(tab.kind) ? 'active' : undefined }, label)));

  const el = h('div', { class: 'page job' }, header, h('div', { class: 'actions' }, ...buttons), notices, nav, body.el);

  /** Restarts: the numRestarts metric where the server has it, else the attempt its subtasks report. */
  async function restarts(j: JobDetails): Promise<number | undefined> {
    const m = await optional<{ id: string; value: string }[]>('job-metrics', `${base}/metrics?get=numRestarts`);
    const v = m?.find((e) => e.id === 'numRestarts')?.value;
    if (v !== undefined) return Number(v);
    const first = j.vertices[0];
    if (!first) return undefined;
    const d = await get<VertexDetails>(`${base}/vertices/${first.id}`).catch(() => undefined);
    return d?.subtasks[0]?.attempt;
  }

  return {
    el,
    async refresh() {
      let j: JobDetails;
      try {
        j = await get<JobDetails>(base);
      } catch (e) {
        if (e instanceof ApiError && e.status === 404) {
          header.replaceChildren(h('h1', {}, 'Unknown job'), h('p', {}, `This cluster has no job ${jid}.`));
          return;
        }
        throw e;
      }
      job = j;
      const terminal = TERMINAL.has(j.state);
      for (const b of buttons) b.disabled = terminal;
      const n = await restarts(j);
      header.replaceChildren(
        h('h1', {}, j.name, ' ', h('span', { 'data-testid': 'job-state' }, badge(j.state))),
        facts([
          ['Job id', h('code', {}, j.jid)],
          ['Started', time(j['start-time'])],
          ['Ended', time(j['end-time'])],
          ['Duration', duration(j.duration)],
          ['Restarts', n === undefined ? '—' : String(n)],
          ['Max parallelism', String(j.maxParallelism)],
        ]),
      );
      await body.refresh(j);
    },
    dispose() {
      body.dispose?.();
    },
  };
}
