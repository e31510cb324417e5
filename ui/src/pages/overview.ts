/** The cluster: slots, TaskManagers, and the running and finished jobs. */
import { get, type ClusterOverview, type JobOverview, type TaskManagerInfo } from '../api.ts';
import { badge, bytes, duration, h, section, stat, table, time } from '../dom.ts';
import type { Page } from '../page.ts';

const TERMINAL = new Set(['FINISHED', 'FAILED', 'CANCELED']);

function jobsTable(jobs: JobOverview[], testId: string): HTMLElement {
  if (jobs.length === 0) return h('p', { class: 'empty', 'data-testid': testId }, 'none');
  const sorted = [...jobs].sort((a, b) => b['start-time'] - a['start-time']);
  return table(
    ['Name', 'Status', 'Start', 'End', 'Duration', 'Tasks', 'Job id'],
    sorted.map((j) => [
      h('a', { href: `#/jobs/${j.jid}`, class: 'job-link' }, j.name),
      badge(j.state),
      time(j['start-time']),
      time(j['end-time']),
      duration(j.duration),
      String(j.tasks['total'] ?? '—'),
      h('code', {}, j.jid),
    ]),
    { 'data-testid': testId, class: 'jobs' },
  );
}

export function overviewPage(): Page {
  const el = h('div', { class: 'page overview' });
  return {
    el,
    async refresh() {
      const [o, jobs, tms] = await Promise.all([
        get<ClusterOverview>('/overview'),
        get<{ jobs: JobOverview[] }>('/jobs/overview'),
        get<{ taskmanagers: TaskManagerInfo[] }>('/taskmanagers'),
      ]);
      const running = jobs.jobs.filter((j) => !TERMINAL.has(j.state));
      const finished = jobs.jobs.filter((j) => TERMINAL.has(j.state));
      el.replaceChildren(
        h(
          'div',
          { class: 'stats' },
          stat('Available task slots', o['slots-available'], 'slots-available'),
          stat('Total task slots', o['slots-total'], 'slots-total'),
          stat('TaskManagers', o.taskmanagers, 'taskmanagers'),
          stat('Running jobs', o['jobs-running'], 'jobs-running'),
          stat('Finished', o['jobs-finished']),
          stat('Cancelled', o['jobs-cancelled']),
          stat('Failed', o['jobs-failed']),
        ),
        section('Running jobs', jobsTable(running, 'running-jobs')),
        section('Completed jobs', jobsTable(finished, 'completed-jobs')),
        section(
          'TaskManagers',
          table(
            ['Id', 'Slots', 'Free slots', 'CPU cores', 'Memory', 'Free memory'],
            tms.taskmanagers.map((t) => [t.id, t.slotsNumber, t.freeSlots, t.hardware.cpuCores, bytes(t.hardware.physicalMemory), bytes(t.hardware.freeMemory)]),
            { 'data-testid': 'taskmanagers-table' },
          ),
        ),
        h('p', { class: 'footnote' }, `weir ${o['flink-version']} (${o['flink-commit'].slice(0, 12)})`),
      );
    },
  };
}
