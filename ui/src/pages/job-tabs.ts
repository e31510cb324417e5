/** A job's tabs besides the checkpoints: the graph with its vertices, exceptions, configuration. */
import { get, jobPath, optional, type BackPressure, type JobConfig, type JobDetails, type JobExceptions, type VertexDetails } from '../api.ts';
import { badge, facts, h, percent, rate, section, table, time } from '../dom.ts';
import { GraphView, graphLegend, type VertexView } from '../graph.ts';
import type { JobBody } from './job.ts';

/** Records in and out per second from the counts of successive polls. */
class Rates {
  readonly #last = new Map<string, { t: number; read: number; written: number }>();
  readonly #rates = new Map<string, { in: number; out: number }>();

  sample(id: string, t: number, read: number | undefined, written: number | undefined): { in?: number; out?: number } {
    if (read === undefined || written === undefined) return {};
    const last = this.#last.get(id);
    if (last && t > last.t) {
      const dt = (t - last.t) / 1000;
      this.#rates.set(id, { in: Math.max(0, (read - last.read) / dt), out: Math.max(0, (written - last.written) / dt) });
    }
    if (!last || t > last.t) this.#last.set(id, { t, read, written });
    return this.#rates.get(id) ?? {};
  }
}

const MIN_WATERMARK = -9.2e18;

/** A watermark as a time (or a number, for event times that are not epoch ms); 'none yet' before the first. */
function showWatermark(min: number | undefined): string | undefined {
  if (min === undefined) return undefined;
  if (!Number.isFinite(min) || min <= MIN_WATERMARK) return 'none yet';
  return min > 1e11 ? time(min) : String(min);
}

/** The lowest input watermark of a vertex's subtasks from Flink's /watermarks answer. */
function lowestInput(entries: { id: string; value: string }[] | undefined): number | undefined {
  const input = (entries ?? []).filter((e) => e.id.endsWith('currentInputWatermark'));
  return input.length === 0 ? undefined : Math.min(...input.map((e) => Number(e.value)));
}

/** Flink's aggregated subtask metrics: one entry per metric id with the aggregations asked for. */
type Aggregated = { id: string; min?: number; sum?: number }[];
const AGGREGATED = 'subtasks/metrics?get=numRecordsInPerSecond,numRecordsOutPerSecond,currentInputWatermark,currentOutputWatermark&agg=min,sum';

const sum = (xs: (number | undefined)[]): number | undefined => (xs.some((x) => x === undefined) ? undefined : xs.reduce<number>((a, b) => a + (b ?? 0), 0));

export function graphBody(jid: string): JobBody {
  const base = jobPath(jid);
  let selected: string | undefined;
  let last: JobDetails | undefined;
  const detail = h('div', { class: 'vertex-detail', 'data-testid': 'vertex-detail' }, h('p', { class: 'empty' }, 'Click a vertex (in the graph or the table) to see its subtasks.'));
  const select = (id: string) => {
    selected = id;
    view.select(id);
    for (const tr of list.querySelectorAll('tbody tr')) tr.classList.toggle('selected', (tr as HTMLElement).dataset['vertexId'] === id);
    if (last) void showSubtasks(last).catch(() => {});
  };
  const view = new GraphView(select);
  const rates = new Rates();
  const list = h('div', { class: 'vertex-list' });

  /** The selected vertex's subtasks: records, busy, back-pressured and idle shares, watermark. */
  async function showSubtasks(job: JobDetails): Promise<void> {
    const v = job.vertices.find((x) => x.id === selected);
    if (!v) return;
    const [details, bp, wm] = await Promise.all([
      get<VertexDetails>(`${base}/vertices/${v.id}`),
      get<BackPressure>(`${base}/vertices/${v.id}/backpressure`).catch(() => undefined),
      optional<{ id: string; value: string }[]>('watermarks', `${base}/vertices/${v.id}/watermarks`).catch(() => undefined),
    ]);
    if (v.id !== selected) return;
    const ratios = new Map((bp?.status === 'ok' ? (bp.subtasks ?? []) : []).map((s) => [s.subtask, s]));
    detail.replaceChildren(
      h('h3', {}, `Subtasks of ${v.name}`),
      table(
        ['Subtask', 'Status', 'Attempt', 'Records in', 'Records out', 'Busy', 'Back-pressured', 'Idle', 'Input watermark'],
        details.subtasks.map((st) => {
          const r = ratios.get(st.subtask);
          const w = wm?.find((e) => e.id === `${st.subtask}.currentInputWatermark`);
          return [
            `${st.subtask + 1}/${v.parallelism}`,
            badge(st.status),
            st.attempt,
            st.metrics['read-records'] ?? '—',
            st.metrics['write-records'] ?? '—',
            percent(r?.busyRatio),
            r ? `${percent(r.ratio)} (${r['backpressure-level']})` : '—',
            percent(r?.idleRatio),
            w === undefined ? '—' : (showWatermark(Number(w.value)) ?? '—'),
          ];
        }),
        { 'data-testid': 'subtask-metrics' },
      ),
    );
  }

  const el = h(
    'div',
    { class: 'tab-body' },
    section('Job graph', view.el, graphLegend(), detail),
    section(
      'Vertices',
      list,
      h('p', { class: 'footnote' }, 'Rates are per second over all subtasks; busy is the average share of time the subtasks were busy, back-pressured the highest share of any subtask; the watermark is the lowest input watermark of the subtasks (of a source: its output watermark).'),
    ),
  );
  return {
    el,
    async refresh(job: JobDetails) {
      const sources = new Set(job.plan.nodes.filter((n) => (n.inputs ?? []).length === 0).map((n) => n.id));
      const views = await Promise.all(
        job.vertices.map(async (v): Promise<VertexView & { read?: number | undefined; written?: number | undefined }> => {
          // Where the server has Flink's metric routes: its per-second rates and watermarks;
          // otherwise rates from the record counts of successive polls and the /watermarks route.
          const [details, bp, agg] = await Promise.all([
            v.metrics?.['read-records'] !== undefined ? undefined : get<VertexDetails>(`${base}/vertices/${v.id}`).catch(() => undefined),
            get<BackPressure>(`${base}/vertices/${v.id}/backpressure`).catch(() => undefined),
            optional<Aggregated>('subtask-metrics', `${base}/vertices/${v.id}/${AGGREGATED}`).catch(() => undefined),
          ]);
          const metric = (id: string) => agg?.find((m) => m.id === id);
          const wm =
            agg === undefined
              ? lowestInput(await optional<{ id: string; value: string }[]>('watermarks', `${base}/vertices/${v.id}/watermarks`).catch(() => undefined))
              : metric(sources.has(v.id) ? 'currentOutputWatermark' : 'currentInputWatermark')?.min;
          const read = v.metrics?.['read-records'] ?? sum(details?.subtasks.map((s) => s.metrics['read-records']) ?? [undefined]);
          const written = v.metrics?.['write-records'] ?? sum(details?.subtasks.map((s) => s.metrics['write-records']) ?? [undefined]);
          const derived = rates.sample(v.id, details?.now ?? job.now, read, written);
          const inRate = metric('numRecordsInPerSecond')?.sum;
          const outRate = metric('numRecordsOutPerSecond')?.sum;
          const r = inRate !== undefined && outRate !== undefined ? { in: inRate, out: outRate } : derived;
          const subtasks = bp?.status === 'ok' ? (bp.subtasks ?? []) : [];
          const busy = subtasks.length > 0 ? subtasks.reduce((a, s) => a + (s.busyRatio ?? 0), 0) / subtasks.length : undefined;
          const backPressure = subtasks.length > 0 ? Math.max(...subtasks.map((s) => s.ratio)) : undefined;
          return {
            id: v.id,
            name: v.name,
            parallelism: v.parallelism,
            status: v.status,
            inRate: r.in,
            outRate: r.out,
            busy,
            backPressure,
            level: bp?.status === 'ok' ? bp['backpressure-level'] : undefined,
            watermark: showWatermark(wm),
            read,
            written,
          };
        }),
      );
      view.update(job.plan.nodes, views);
      const vertexTable = table(
        ['Name', 'Status', 'Parallelism', 'Records in', 'Records out', 'In/s', 'Out/s', 'Busy', 'Back-pressured', 'Watermark'],
        views.map((v) => [v.name, badge(v.status), v.parallelism, v.read ?? '—', v.written ?? '—', rate(v.inRate), rate(v.outRate), percent(v.busy), v.level ? `${percent(v.backPressure)} (${v.level})` : '—', v.watermark ?? '—']),
        { 'data-testid': 'vertex-table' },
      );
      vertexTable.querySelectorAll('tbody tr').forEach((tr, i) => {
        const id = views[i]!.id;
        (tr as HTMLElement).dataset['vertexId'] = id;
        tr.classList.toggle('selected', id === selected);
        tr.addEventListener('click', () => select(id));
      });
      list.replaceChildren(vertexTable);
      last = job;
      if (selected !== undefined) await showSubtasks(job);
    },
  };
}

export function exceptionsBody(jid: string): JobBody {
  const el = h('div', { class: 'tab-body' });
  return {
    el,
    async refresh() {
      const x = await get<JobExceptions>(`${jobPath(jid)}/exceptions`);
      const history = x.exceptionHistory?.entries ?? [];
      el.replaceChildren(
        section(
          'Root exception',
          x['root-exception'] === null ? h('p', { class: 'empty' }, 'The job has not failed.') : h('div', {}, h('p', {}, time(x.timestamp ?? 0)), h('pre', { class: 'stack' }, x['root-exception'])),
        ),
        section(
          'Exception history',
          history.length === 0
            ? h('p', { class: 'empty' }, 'none')
            : h('div', {}, ...history.map((e) => h('details', { class: 'exception' }, h('summary', {}, `${time(e.timestamp)} — ${e.exceptionName}${e.taskName ? ` in ${e.taskName}` : ''}`), h('pre', { class: 'stack' }, e.stacktrace)))),
        ),
      );
    },
  };
}

const show = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v));

export function configBody(jid: string): JobBody {
  const el = h('div', { class: 'tab-body' });
  return {
    el,
    async refresh(job: JobDetails) {
      const c = await get<JobConfig>(`${jobPath(jid)}/config`);
      const exec = c['execution-config'];
      const user = (exec['user-config'] ?? {}) as Record<string, unknown>;
      el.replaceChildren(
        section(
          'Execution configuration',
          facts(
            Object.entries(exec)
              .filter(([k]) => k !== 'user-config')
              .map(([k, v]) => [k, show(v)]),
            { 'data-testid': 'execution-config' },
          ),
        ),
        section('User configuration', Object.keys(user).length === 0 ? h('p', { class: 'empty' }, 'none') : facts(Object.entries(user).map(([k, v]) => [k, show(v)]))),
        section(
          'Status timestamps',
          table(
            ['Status', 'Since'],
            Object.entries(job.timestamps)
              .filter(([, t]) => t > 0)
              .sort((a, b) => a[1] - b[1])
              .map(([k, t]) => [k, time(t)]),
          ),
        ),
      );
    },
  };
}
