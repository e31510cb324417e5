/** Time-series charts of the checkpoint history with uPlot: one chart, its series, data replaced per poll. */
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { bytes, duration, h } from './dom.ts';

export interface SeriesSpec {
  label: string;
  colour: string;
  /** Points without a line (events such as failures); a line series spans the gaps they leave. */
  pointsOnly?: boolean;
}

/** A chart over trigger time (ms since the epoch); values formatted as durations or sizes. */
export class TimeChart {
  readonly el: HTMLElement;
  #plot: uPlot | undefined;
  readonly #host: HTMLElement;
  readonly #empty: HTMLElement = h('p', { class: 'empty' }, 'No checkpoint has ended yet.');

  constructor(
    readonly title: string,
    readonly unit: 'ms' | 'bytes',
    readonly series: SeriesSpec[],
    testId: string,
  ) {
    this.#host = h('div', { class: 'chart-host' });
    this.el = h('figure', { class: 'chart', 'data-testid': testId }, h('figcaption', {}, title), this.#empty, this.#host);
  }

  /** Sets the points: x in ms since the epoch, one array of values per series. */
  update(x: number[], ys: (number | null)[][]): void {
    this.el.dataset['points'] = String(x.length);
    this.#empty.hidden = x.length > 0;
    this.#host.hidden = x.length === 0;
    if (x.length === 0) return;
    const data: uPlot.AlignedData = [x.map((t) => t / 1000), ...ys];
    const width = Math.max(320, this.#host.clientWidth || 520);
    if (!this.#plot) {
      const fmt = this.unit === 'ms' ? (v: number) => duration(v) : (v: number) => bytes(v);
      this.#plot = new uPlot(
        {
          width,
          height: 220,
          // From 0, and at least 10 ms or 1 KiB high, so that small figures do not get fractional ticks.
          scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(max * 1.15, this.unit === 'ms' ? 10 : 1024)] } },
          axes: [{ stroke: '#5b6470' }, { stroke: '#5b6470', size: 70, values: (_u, splits) => splits.map(fmt) }],
          series: [
            {},
            ...this.series.map((s) => ({
              label: s.label,
              stroke: s.colour,
              width: 2,
              spanGaps: true,
              points: { show: true, size: s.pointsOnly ? 9 : 6, fill: s.colour },
              ...(s.pointsOnly ? { paths: () => null } : {}),
              value: (_u: uPlot, v: number | null) => (v === null ? '—' : fmt(v)),
            })),
          ],
          legend: { show: true },
        },
        data,
        this.#host,
      );
    } else {
      if (Math.abs(this.#plot.width - width) > 4) this.#plot.setSize({ width, height: 220 });
      this.#plot.setData(data);
    }
  }

  dispose(): void {
    this.#plot?.destroy();
  }
}
