/** The barrier timeline of one checkpoint drawn as SVG, and its legend (the model: barrier-model.ts). */
import { h, s } from './dom.ts';
import { duration } from './format.ts';
import { PHASE_COLOURS, PHASE_LABELS, phasesOf, type PhaseName, type TimelineRow } from './barrier-model.ts';

export { checkpointHint, type TimelineRow } from './barrier-model.ts';

/** The timeline as SVG, `width` pixels wide; `elapsed` is how long the checkpoint has run (ms). */
export function timelineSvg(rows: TimelineRow[], width: number, elapsed: number): SVGSVGElement {
  const LABEL = 250;
  const ROW = 24;
  const TOP = 28;
  const plot = Math.max(200, width - LABEL - 20);
  const ends = rows.map((r) => phasesOf(r.subtask)?.at(-1)?.to ?? elapsed);
  const span = Math.max(1, elapsed, ...ends);
  const x = (ms: number) => LABEL + (ms / span) * plot;
  const height = TOP + rows.length * ROW + 8;
  const svg = s('svg', { width, height, viewBox: `0 0 ${width} ${height}`, class: 'timeline', 'data-testid': 'timeline-svg' });
  svg.append(
    s(
      'defs',
      {},
      s('pattern', { id: 'pending-hatch', width: 8, height: 8, patternUnits: 'userSpaceOnUse', patternTransform: 'rotate(45)' }, s('rect', { width: 8, height: 8, fill: '#eef0f2' }), s('rect', { width: 4, height: 8, fill: '#cfd4da' })),
    ),
  );
  const step = niceStep(span / 6);
  for (let t = 0; t <= span + 1e-9; t += step) {
    svg.append(s('line', { x1: x(t), x2: x(t), y1: TOP - 6, y2: height - 4, class: 'tick' }), s('text', { x: x(t), y: TOP - 10, class: 'tick-label', 'text-anchor': 'middle' }, duration(t)));
  }
  rows.forEach((r, i) => {
    const y = TOP + i * ROW;
    const label = `${r.vertex} (${r.subtask.index + 1}/${r.parallelism})`;
    const g = s('g', { class: 'timeline-row', 'data-testid': 'timeline-row' });
    g.append(s('text', { x: LABEL - 8, y: y + 15, class: 'row-label', 'text-anchor': 'end' }, s('title', {}, label), label.length > 34 ? `${label.slice(0, 33)}…` : label));
    const phases = phasesOf(r.subtask);
    if (!phases) {
      g.append(s('rect', { x: x(0), y: y + 4, width: Math.max(1, x(elapsed) - x(0)), height: ROW - 8, class: 'bar-pending', fill: 'url(#pending-hatch)' }, s('title', {}, 'no acknowledgement')));
    } else {
      for (const p of phases) {
        if (p.to <= p.from) continue;
        g.append(
          s(
            'rect',
            { x: x(p.from), y: y + 4, width: Math.max(1, x(p.to) - x(p.from)), height: ROW - 8, fill: PHASE_COLOURS[p.name], 'data-phase': p.name },
            s('title', {}, `${PHASE_LABELS[p.name]}: ${duration(p.to - p.from)} (${duration(p.from)} → ${duration(p.to)})`),
          ),
        );
      }
    }
    svg.append(g);
  });
  return svg;
}

function niceStep(raw: number): number {
  const p = 10 ** Math.floor(Math.log10(Math.max(raw, 1e-3)));
  for (const m of [1, 2, 5, 10]) if (m * p >= raw) return m * p;
  return 10 * p;
}

export function timelineLegend(): HTMLElement {
  return h(
    'div',
    { class: 'legend' },
    ...(Object.keys(PHASE_COLOURS) as PhaseName[]).map((n) => h('span', { class: 'swatch' }, h('i', { style: `background:${PHASE_COLOURS[n]}` }), PHASE_LABELS[n])),
    h('span', { class: 'swatch' }, h('i', { class: 'pending-swatch' }), 'not acknowledged'),
  );
}
