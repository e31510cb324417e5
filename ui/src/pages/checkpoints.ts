/**
 * A job's checkpoints: counts, the latest ones, the history (kept in the page for the charts:
 * the server keeps the last ten), charts of duration and size, the configuration, the summary;
 * one checkpoint with each vertex and subtask; and one checkpoint's barrier timeline.
 */
import { ApiError, get, jobPath, type CheckpointEntry, type CheckpointingStatistics, type JobDetails, type SubtaskCheckpoints } from '../api.ts';
import { TimeChart } from '../charts.ts';
import { badge, bytes, duration, facts, h, section, stat, table, time } from '../dom.ts';
import { checkpointHint, timelineLegend, timelineSvg, type TimelineRow } from '../timeline.ts';
import type { JobBody } from './job.ts';

/** The checkpoints seen since the page was loaded, per job, by id: the most recent CHART_POINTS. */
const seen = new Map<string, Map<number, CheckpointEntry>>();
const CHART_POINTS = 600;

const typeOf = (c: CheckpointEntry): string => c.checkpoint_type.replaceAll('_', ' ').toLowerCase();

function historyRow(jid: string, c: CheckpointEntry): (Node | string)[] {
  const link = `#/jobs/${jid}/checkpoints/${c.id}`;
  return [
    h('a', { href: link, 'data-testid': 'checkpoint-link' }, String(c.id)),
    badge(c.status),
    typeOf(c),
    time(c.trigger_timestamp),
    duration(c.end_to_end_duration),
    bytes(c.checkpointed_size),
    bytes(c.state_size),
    bytes(c.processed_data),
    bytes(c.persisted_data),
    `${c.num_acknowledged_subtasks}/${c.num_subtasks}`,
    h('span', { class: 'row-links' }, h('a', { href: link }, 'details'), ' · ', h('a', { href: `${link}/timeline`, 'data-testid': 'timeline-link' }, 'timeline')),
  ];
}

const HISTORY_HEAD = ['Id', 'Status', 'Type', 'Triggered', 'End to end', 'Checkpointed size', 'Full size', 'Processed', 'Persisted', 'Acknowledged', ''];

function summaryTable(summary: Record<string, Record<string, number>>): HTMLElement {
  const keys = Object.keys(summary);
  if (keys.length === 0) return h('p', { class: 'empty' }, 'none');
  const stats = [...new Set(keys.flatMap((k) => Object.keys(summary[k] ?? {})))];
  const fmt = (k: string, v: number | undefined) => (v === undefined ? '—' : k.includes('duration') ? duration(v) : bytes(v));
  return table(
    ['', ...stats],
    keys.map((k) => [k.replaceAll('_', ' '), ...stats.map((st) => fmt(k, summary[k]?.[st]))]),
  );
}

export function checkpointsBody(jid: string): JobBody {
  const base = jobPath(jid);
  const durationChart = new TimeChart(
    'End-to-end duration',
    'ms',
    [
      { label: 'end to end', colour: '#2f7fe0' },
      { label: 'failed after', colour: '#c0392b', pointsOnly: true },
    ],
    'duration-chart',
  );
  const sizeChart = new TimeChart(
    'Size',
    'bytes',
    [
      { label: 'checkpointed', colour: '#22a06b' },
      { label: 'persisted in-flight data', colour: '#e8a317' },
    ],
    'size-chart',
  );
  const top = h('div', {});
  const charts = section('Over time', h('div', { class: 'charts' }, durationChart.el, sizeChart.el));
  const rest = h('div', {});
  const el = h('div', { class: 'tab-body' }, top, charts, rest);
  return {
    el,
    async refresh() {
      const [st, config] = await Promise.all([
        get<CheckpointingStatistics>(`${base}/checkpoints`),
        get<Record<string, unknown>>(`${base}/checkpoints/config`).catch((e: unknown) => (e instanceof ApiError && e.status === 404 ? undefined : Promise.reject(e))),
      ]);
      const known = seen.get(jid) ?? new Map<number, CheckpointEntry>();
      seen.set(jid, known);
      for (const c of st.history) known.set(c.id, c);
      if (known.size > CHART_POINTS) for (const id of [...known.keys()].sort((a, b) => a - b).slice(0, known.size - CHART_POINTS)) known.delete(id);
      const ended = [...known.values()].filter((c) => c.status === 'COMPLETED' || c.status === 'FAILED').sort((a, b) => a.trigger_timestamp - b.trigger_timestamp);
      const done = ended.filter((c) => c.status === 'COMPLETED');
      durationChart.update(
        ended.map((c) => c.trigger_timestamp),
        [
          ended.map((c) => (c.status === 'COMPLETED' ? c.end_to_end_duration : null)),
          ended.map((c) => (c.status === 'FAILED' ? Math.max(0, (c.failure_timestamp ?? c.trigger_timestamp) - c.trigger_timestamp) : null)),
        ],
      );
      sizeChart.update(
        done.map((c) => c.trigger_timestamp),
        [done.map((c) => c.checkpointed_size), done.map((c) => c.persisted_data)],
      );
      const { completed, failed, restored, savepoint } = st.latest;
      top.replaceChildren(
        h(
          'div',
          { class: 'stats' },
          stat('Triggered', st.counts.total, 'count-total'),
          stat('In progress', st.counts.in_progress),
          stat('Completed', st.counts.completed, 'count-completed'),
          stat('Failed', st.counts.failed),
          stat('Restored', st.counts.restored),
        ),
        section(
          'Latest',
          h(
            'div',
            { class: 'latest' },
            h('div', {}, h('h3', {}, 'Completed'), completed ? facts([['Id', h('a', { href: `#/jobs/${jid}/checkpoints/${completed.id}` }, String(completed.id))], ['Completed', time(completed.latest_ack_timestamp)], ['End to end', duration(completed.end_to_end_duration)], ['Size', bytes(completed.checkpointed_size)], ['Path', h('code', {}, completed.external_path ?? '—')]]) : h('p', { class: 'empty' }, 'none')),
            h('div', {}, h('h3', {}, 'Failed'), failed ? facts([['Id', String(failed.id)], ['Failed', time(failed.failure_timestamp)], ['Cause', failed.failure_message ?? '—']]) : h('p', { class: 'empty' }, 'none')),
            h('div', {}, h('h3', {}, 'Savepoint'), savepoint ? facts([['Id', String(savepoint.id)], ['Completed', time(savepoint.latest_ack_timestamp)], ['Path', h('code', {}, savepoint.external_path ?? '—')]]) : h('p', { class: 'empty' }, 'none')),
            h('div', {}, h('h3', {}, 'Restored'), restored ? facts([['Id', String(restored.id)], ['Restored', time(restored.restore_timestamp)], ['From', restored.is_savepoint ? 'savepoint' : 'checkpoint'], ['Path', h('code', {}, restored.external_path)]]) : h('p', { class: 'empty' }, 'none')),
          ),
        ),
      );
      rest.replaceChildren(
        section('History', st.history.length === 0 ? h('p', { class: 'empty', 'data-testid': 'history-empty' }, 'No checkpoints yet.') : table(HISTORY_HEAD, st.history.map((c) => historyRow(jid, c)), { 'data-testid': 'checkpoint-history' })),
        section('Summary of completed checkpoints', st.counts.completed === 0 ? h('p', { class: 'empty' }, 'none') : summaryTable(st.summary as never)),
        section(
          'Configuration',
          config === undefined
            ? h('p', { class: 'empty' }, 'Checkpointing is not enabled for this job.')
            : facts(
                Object.entries(config).map(([k, v]) => [k.replaceAll('_', ' '), typeof v === 'object' && v !== null ? Object.entries(v).map(([a, b]) => `${a.replaceAll('_', ' ')}: ${String(b)}`).join(', ') : ['interval', 'timeout', 'min_pause', 'aligned_checkpoint_timeout'].includes(k) ? duration(Number(v)) : String(v)]),
                { 'data-testid': 'checkpoint-config' },
              ),
        ),
      );
    },
    dispose() {
      durationChart.dispose();
      sizeChart.dispose();
    },
  };
}

/** The checkpoint's details and each vertex's subtasks, in the job's vertex order. */
interface CheckpointData {
  c: CheckpointEntry;
  vertices: { id: string; name: string; parallelism: number; subtasks: SubtaskCheckpoints }[];
  /** Read earlier: the server no longer keeps this checkpoint. */
  evicted?: boolean;
}

/**
 * Ended checkpoints read in this page, by job and id, the most recent 50: they do not change,
 * and the server keeps only its last ten, which frequent checkpoints push out within seconds.
 */
const ended = new Map<string, CheckpointData>();

async function readCheckpoint(jid: string, cid: number, job: JobDetails): Promise<CheckpointData> {
  const base = jobPath(jid);
  const key = `${jid}/${cid}`;
  try {
    const c = await get<CheckpointEntry>(`${base}/checkpoints/details/${cid}`);
    const vertices = await Promise.all(
      job.vertices.map(async (v) => ({ id: v.id, name: v.name, parallelism: v.parallelism, subtasks: await get<SubtaskCheckpoints>(`${base}/checkpoints/details/${cid}/subtasks/${v.id}`) })),
    );
    if (c.status !== 'IN_PROGRESS') {
      ended.delete(key);
      ended.set(key, { c, vertices });
      if (ended.size > 50) ended.delete(ended.keys().next().value!);
    }
    return { c, vertices };
  } catch (e) {
    const known = ended.get(key);
    if (known && e instanceof ApiError && e.status === 404) return { ...known, evicted: true };
    throw e;
  }
}

function evictedNote(d: CheckpointData): HTMLElement | undefined {
  return d.evicted ? h('p', { class: 'footnote', 'data-testid': 'evicted' }, 'The JobManager no longer keeps this checkpoint in its statistics (it keeps the most recent ones); shown as last read.') : undefined;
}

const after = (trigger: number, ts: number | undefined): string => (ts === undefined || ts <= 0 ? '—' : `+${duration(ts - trigger)}`);

function missing(el: HTMLElement, jid: string, cid: number, e: unknown): boolean {
  if (e instanceof ApiError && e.status === 404) {
    el.replaceChildren(section(`Checkpoint ${cid}`, h('p', {}, e.message), h('a', { href: `#/jobs/${jid}/checkpoints` }, 'Back to the checkpoints')));
    return true;
  }
  return false;
}

function checkpointFacts(c: CheckpointEntry): HTMLElement {
  return facts([
    ['Status', badge(c.status)],
    ['Type', typeOf(c)],
    ['Triggered', time(c.trigger_timestamp)],
    ['Latest acknowledgement', time(c.latest_ack_timestamp)],
    ['End to end', duration(c.end_to_end_duration)],
    ['Checkpointed size', bytes(c.checkpointed_size)],
    ['Full size', bytes(c.state_size)],
    ['Processed during alignment', bytes(c.processed_data)],
    ['Persisted in-flight data', bytes(c.persisted_data)],
    ['Acknowledged', `${c.num_acknowledged_subtasks}/${c.num_subtasks}`],
    ['Path', c.external_path ? h('code', {}, c.external_path) : '—'],
    ...(c.failure_message ? ([['Failure', c.failure_message]] as [string, string][]) : []),
  ]);
}

/**
 * A page about one checkpoint: each refresh reads its statistics and draws what `render` makes of
 * them, or says the checkpoint is gone from the history when the REST API no longer has it.
 */
function checkpointPage(jid: string, cid: number, render: (data: CheckpointData, job: JobDetails, el: HTMLElement) => Node[]): JobBody {
  const el = h('div', { class: 'tab-body' });
  return {
    el,
    async refresh(job: JobDetails) {
      let data: CheckpointData;
      try {
        data = await readCheckpoint(jid, cid, job);
      } catch (e) {
        if (missing(el, jid, cid, e)) return;
        throw e;
      }
      el.replaceChildren(...render(data, job, el));
    },
  };
}

export function checkpointBody(jid: string, cid: number): JobBody {
  return checkpointPage(jid, cid, (data) => {
    const { c, vertices } = data;
    const trigger = c.trigger_timestamp;
    return [
      section(
        `Checkpoint ${c.id}`,
        h('p', {}, h('a', { href: `#/jobs/${jid}/checkpoints` }, '← all checkpoints'), ' · ', h('a', { href: `#/jobs/${jid}/checkpoints/${cid}/timeline`, 'data-testid': 'timeline-link' }, 'barrier timeline →')),
        evictedNote(data),
        checkpointFacts(c),
      ),
      section(
        'Vertices',
        table(
          ['Vertex', 'Acknowledged', 'Latest acknowledgement', 'End to end', 'Checkpointed size', 'Full size', 'Processed', 'Persisted'],
          vertices.map((v) => {
            const t = v.subtasks;
            return [v.name, `${t.num_acknowledged_subtasks}/${t.num_subtasks}`, after(trigger, t.latest_ack_timestamp), duration(t.end_to_end_duration), bytes(t.checkpointed_size), bytes(t.state_size), bytes(t.processed_data), bytes(t.persisted_data)];
          }),
          { 'data-testid': 'checkpoint-vertices' },
        ),
      ),
      ...vertices.map((v) =>
        section(
          `Subtasks of ${v.name}`,
          table(
            ['Subtask', 'Status', 'Acknowledged', 'End to end', 'Sync', 'Async', 'Alignment', 'Start delay', 'Checkpointed size', 'Processed', 'Persisted', 'Unaligned'],
            v.subtasks.subtasks.map((st) =>
              st.status === 'completed'
                ? [
                    String(st.index + 1),
                    st.status,
                    after(trigger, st.ack_timestamp),
                    duration(st.end_to_end_duration),
                    duration(st.checkpoint?.sync),
                    duration(st.checkpoint?.async),
                    duration(st.alignment?.duration),
                    duration(st.start_delay),
                    bytes(st.checkpointed_size),
                    bytes(st.processed_data),
                    bytes(st.persisted_data),
                    st.unaligned_checkpoint ? 'yes' : 'no',
                  ]
                : [String(st.index + 1), st.status.replaceAll('_', ' '), '—', '—', '—', '—', '—', '—', '—', '—', '—', '—'],
            ),
            { 'data-testid': 'subtask-table', 'data-vertex-id': v.id },
          ),
        ),
      ),
    ];
  });
}

export function timelineBody(jid: string, cid: number): JobBody {
  return checkpointPage(jid, cid, (data, job, el) => {
    const { c, vertices } = data;
    const rows: TimelineRow[] = vertices.flatMap((v) => v.subtasks.subtasks.map((st) => ({ vertex: v.name, parallelism: v.parallelism, subtask: st })));
    const end = c.status === 'IN_PROGRESS' ? job.now : c.status === 'FAILED' ? (c.failure_timestamp ?? c.latest_ack_timestamp) : c.latest_ack_timestamp;
    const elapsed = Math.max(0, end - c.trigger_timestamp);
    const hint = checkpointHint(c, rows);
    const width = Math.max(640, el.clientWidth || 1000);
    return [
      section(
        `Barrier timeline of checkpoint ${c.id}`,
        h('p', {}, h('a', { href: `#/jobs/${jid}/checkpoints/${cid}` }, '← checkpoint details'), ` · ${badge(c.status).textContent} · triggered ${time(c.trigger_timestamp)} · ${duration(c.end_to_end_duration)} end to end · ${c.checkpoint_type.replaceAll('_', ' ').toLowerCase()}`),
        evictedNote(data),
        h('div', { class: `hint hint-${hint.phase?.replace(' ', '-') ?? (c.status === 'FAILED' ? 'failed' : 'none')}`, 'data-testid': 'timeline-hint' }, hint.text),
        timelineLegend(),
        h('div', { class: 'timeline-host' }, timelineSvg(rows, width - 40, elapsed)),
        h(
          'p',
          { class: 'footnote' },
          'Each bar starts at the trigger: start delay until the subtask’s first barrier arrived, alignment until its last one, the synchronous and asynchronous parts of its snapshot, then the time until the JobManager had its acknowledgement.',
        ),
      ),
    ];
  });
}
