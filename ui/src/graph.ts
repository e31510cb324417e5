/**
 * The job graph: vertices (operators chained into one task) laid out by dagre from left to
 * right, drawn as SVG, with each vertex's live figures. The layout is computed again only when
 * the vertices or edges change; a poll just updates texts and colours.
 */
import dagre from '@dagrejs/dagre';
import type { PlanNode } from './api.ts';
import { h, percent, rate, s } from './dom.ts';

/** What a vertex shows. Undefined figures are drawn as '—'. */
export interface VertexView {
  id: string;
  name: string;
  parallelism: number;
  status: string;
  inRate?: number | undefined;
  outRate?: number | undefined;
  /** Share of time busy, 0..1 (the vertex's average over subtasks). */
  busy?: number | undefined;
  /** Share of time back-pressured, 0..1 (its worst subtask) and Flink's level for it. */
  backPressure?: number | undefined;
  level?: string | undefined;
  watermark?: string | undefined;
}

const WIDTH = 280;
const LINE = 17;
const CHARS = 36;

/** Background by busy time: pale blue when idle, through amber, to red when busy all the time; grey when unknown. */
export function busyColour(busy: number | undefined): string {
  if (busy === undefined || !Number.isFinite(busy)) return 'rgb(238, 240, 243)';
  const b = Math.min(1, Math.max(0, busy));
  const stops: [number, number, number][] = [
    [227, 237, 249],
    [250, 226, 170],
    [240, 132, 122],
  ];
  const [from, to, t] = b < 0.5 ? [stops[0]!, stops[1]!, b * 2] : [stops[1]!, stops[2]!, (b - 0.5) * 2];
  const c = from.map((v, i) => Math.round(v + (to[i]! - v) * t));
  return `rgb(${c.join(', ')})`;
}

/** The stripe on a vertex's left edge: Flink's back-pressure levels. */
export function levelColour(level: string | undefined): string {
  switch (level) {
    case 'ok':
      return '#2e8b57';
    case 'low':
      return '#e0a030';
    case 'high':
      return '#c0392b';
    default:
      return '#9aa3ad';
  }
}

/** A path through dagre's edge points, its corners rounded by quadratic curves through their midpoints. */
function smoothPath(points: { x: number; y: number }[]): string {
  const f = (n: number) => n.toFixed(1);
  if (points.length < 3) return points.map((p, i) => `${i === 0 ? 'M' : 'L'} ${f(p.x)} ${f(p.y)}`).join(' ');
  let d = `M ${f(points[0]!.x)} ${f(points[0]!.y)}`;
  for (let i = 1; i < points.length - 1; i++) {
    const p = points[i]!;
    const next = points[i + 1]!;
    const mx = i === points.length - 2 ? next.x : (p.x + next.x) / 2;
    const my = i === points.length - 2 ? next.y : (p.y + next.y) / 2;
    d += ` Q ${f(p.x)} ${f(p.y)} ${f(mx)} ${f(my)}`;
  }
  return d;
}

const clip = (text: string, n = CHARS): string => (text.length > n ? `${text.slice(0, n - 1)}…` : text);

/** Operators of a vertex, from its name ("a -> b -> c"). */
const operatorsOf = (name: string): string[] => name.split(' -> ');

interface NodeParts {
  group: SVGGElement;
  body: SVGRectElement;
  stripe: SVGRectElement;
  status: SVGTextElement;
  rates: SVGTextElement;
  load: SVGTextElement;
  watermark: SVGTextElement;
}

export class GraphView {
  readonly el: HTMLElement = h('div', { class: 'graph', 'data-testid': 'job-graph' });
  #selected: string | undefined;

  /** `onSelect` is called with a vertex's id when it is clicked. */
  constructor(private readonly onSelect: (id: string) => void = () => {}) {}

  /** Marks the vertex `id` as the one shown in detail. */
  select(id: string | undefined): void {
    this.#selected = id;
    for (const [vid, p] of this.#nodes) p.group.classList.toggle('selected', vid === id);
  }

  #key = '';
  readonly #nodes = new Map<string, NodeParts>();

  /** Draws the plan (laid out again if its shape changed) with the figures of `views`. */
  update(plan: PlanNode[], views: VertexView[]): void {
    const key = JSON.stringify(plan.map((n) => [n.id, n.description, (n.inputs ?? []).map((i) => [i.id, i.ship_strategy])]));
    if (key !== this.#key) {
      this.#key = key;
      this.#layout(plan, views);
    }
    for (const v of views) this.#fill(v);
  }

  #layout(plan: PlanNode[], views: VertexView[]): void {
    const byId = new Map(views.map((v) => [v.id, v]));
    const g = new dagre.graphlib.Graph();
    g.setGraph({ rankdir: 'LR', nodesep: 36, ranksep: 90, edgesep: 20, marginx: 16, marginy: 16 });
    g.setDefaultEdgeLabel(() => ({}));
    for (const n of plan) {
      const ops = operatorsOf(byId.get(n.id)?.name ?? n.description);
      g.setNode(n.id, { width: WIDTH, height: 30 + ops.length * LINE + 4 * LINE + 10 });
    }
    for (const n of plan) {
      for (const input of n.inputs ?? []) if (g.hasNode(input.id)) g.setEdge(input.id, n.id, { label: input.ship_strategy, width: input.ship_strategy.length * 7 + 8, height: 14, labelpos: 'c' });
    }
    dagre.layout(g);
    const graph = g.graph();
    const width = Math.ceil(graph.width ?? 400);
    const height = Math.ceil(graph.height ?? 200);
    const svg = s('svg', { width, height, viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': 'job graph' });
    svg.append(
      s('defs', {}, s('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' }, s('path', { d: 'M 0 0 L 10 5 L 0 10 z', fill: '#5b6470' }))),
    );
    for (const e of g.edges()) {
      const edge = g.edge(e) as { points: { x: number; y: number }[]; x?: number; y?: number; label?: string };
      const d = smoothPath(edge.points);
      svg.append(s('path', { d, class: 'edge', 'marker-end': 'url(#arrow)' }));
      if (edge.label && edge.x !== undefined && edge.y !== undefined) {
        svg.append(s('text', { x: edge.x, y: edge.y - 4, class: 'edge-label', 'text-anchor': 'middle' }, edge.label));
      }
    }
    this.#nodes.clear();
    for (const n of plan) {
      const box = g.node(n.id) as { x: number; y: number; width: number; height: number };
      const v = byId.get(n.id);
      const name = v?.name ?? n.description;
      const ops = operatorsOf(name);
      const x = box.x - box.width / 2;
      const y = box.y - box.height / 2;
      const group = s('g', { class: 'vertex', 'data-vertex-id': n.id, transform: `translate(${x.toFixed(1)} ${y.toFixed(1)})` });
      const body = s('rect', { class: 'vertex-body', width: box.width, height: box.height, rx: 6 });
      const stripe = s('rect', { class: 'vertex-stripe', width: 7, height: box.height, rx: 3 });
      group.append(s('title', {}, name), body, stripe);
      group.addEventListener('click', () => this.onSelect(n.id));
      let ty = 20;
      group.append(s('text', { x: 16, y: ty, class: 'vertex-title' }, `Parallelism ${v?.parallelism ?? n.parallelism}`));
      ops.forEach((op, i) => {
        ty += LINE;
        group.append(s('text', { x: 16, y: ty, class: 'vertex-op' }, i === 0 ? clip(op) : `→ ${clip(op, CHARS - 2)}`));
      });
      ty += 6;
      const line = (cls: string) => {
        ty += LINE;
        const t = s('text', { x: 16, y: ty, class: cls });
        group.append(t);
        return t;
      };
      const parts: NodeParts = { group, body, stripe, status: line('vertex-fig'), rates: line('vertex-fig'), load: line('vertex-fig'), watermark: line('vertex-fig') };
      this.#nodes.set(n.id, parts);
      group.classList.toggle('selected', n.id === this.#selected);
      svg.append(group);
    }
    this.el.replaceChildren(svg);
  }

  #fill(v: VertexView): void {
    const p = this.#nodes.get(v.id);
    if (!p) return;
    p.body.setAttribute('fill', busyColour(v.busy));
    p.stripe.setAttribute('fill', levelColour(v.level));
    p.group.dataset['level'] = v.level ?? 'unknown';
    p.status.textContent = v.status;
    p.rates.textContent = `in ${rate(v.inRate)} · out ${rate(v.outRate)}`;
    p.load.textContent = `busy ${percent(v.busy)} · back-pressured ${percent(v.backPressure)}`;
    p.watermark.textContent = `watermark ${v.watermark ?? '—'}`;
  }
}

/** The legend under the graph: what the colours mean. */
export function graphLegend(): HTMLElement {
  const swatch = (colour: string, label: string) => h('span', { class: 'swatch' }, h('i', { style: `background:${colour}` }), label);
  return h(
    'div',
    { class: 'legend' },
    h('span', { class: 'legend-title' }, 'Fill, busy time:'),
    swatch(busyColour(0), 'idle'),
    swatch(busyColour(0.5), '50%'),
    swatch(busyColour(1), 'busy'),
    h('span', { class: 'legend-title' }, 'Edge stripe, back-pressure:'),
    swatch(levelColour('ok'), 'ok (≤ 10%)'),
    swatch(levelColour('low'), 'low (≤ 50%)'),
    swatch(levelColour('high'), 'high'),
    swatch(levelColour(undefined), 'not reported yet'),
  );
}
