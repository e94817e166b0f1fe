/**
 * SVG histogram of one detector's scores with a draggable threshold (pointer or arrow keys).
 * Bar heights are on a log scale: outlier scores are heavy-tailed and the flagged tail would be invisible otherwise.
 */
import type { ScoreKey } from '../../../src/core/types';
import { formatScore, h, setText, svg } from '../dom';
import type { Histogram } from '../model';

const BINS = 64;
const HEIGHT = 120;
const MARGIN = { left: 6, right: 6, top: 8, bottom: 20 };

export { BINS as HISTOGRAM_BINS };

export class HistogramView {
  readonly element: HTMLElement;
  private readonly chart: SVGSVGElement;
  private readonly bars: SVGGElement;
  private readonly line: SVGLineElement;
  private readonly handle: SVGRectElement;
  private readonly minLabel: SVGTextElement;
  private readonly maxLabel: SVGTextElement;
  private readonly caption: HTMLElement;
  private width = 600;
  private data: Histogram | null = null;
  private key: ScoreKey = 'kdist';
  private threshold: number | null = null;
  private dragging = false;

  /** `onThreshold` receives a raw score of the current detector; `final` is false while dragging. */
  constructor(private readonly onThreshold: (raw: number, final: boolean) => void) {
    this.chart = svg('svg', { class: 'histogram-chart', height: HEIGHT, role: 'slider', tabindex: 0, 'aria-label': 'Flag threshold' });
    this.bars = svg('g', { class: 'bins' });
    this.line = svg('line', { class: 'threshold-line' });
    this.handle = svg('rect', { class: 'threshold-handle', width: 10, height: 14, rx: 2 });
    this.minLabel = svg('text', { class: 'axis-label', 'text-anchor': 'start' });
    this.maxLabel = svg('text', { class: 'axis-label', 'text-anchor': 'end' });
    this.chart.append(this.bars, this.line, this.handle, this.minLabel, this.maxLabel);
    this.caption = h('div', { className: 'histogram-caption' });
    this.element = h('div', { className: 'histogram' }, [this.chart, this.caption]);

    this.chart.addEventListener('pointerdown', (event) => {
      if (!this.data || this.data.total === 0 || event.button !== 0) return;
      this.dragging = true;
      this.chart.setPointerCapture(event.pointerId);
      this.emitFromPointer(event, false);
    });
    this.chart.addEventListener('pointermove', (event) => {
      if (this.dragging) this.emitFromPointer(event, false);
    });
    const end = (event: PointerEvent): void => {
      if (!this.dragging) return;
      this.dragging = false;
      this.emitFromPointer(event, true);
    };
    this.chart.addEventListener('pointerup', end);
    this.chart.addEventListener('pointercancel', end);
    this.chart.addEventListener('keydown', (event) => this.onKey(event));
    new ResizeObserver(() => {
      const width = Math.floor(this.chart.getBoundingClientRect().width);
      if (width > 0 && width !== this.width) {
        this.width = width;
        this.draw();
      }
    }).observe(this.chart);
  }

  update(data: Histogram, key: ScoreKey, threshold: number | null): void {
    this.data = data;
    this.key = key;
    this.threshold = threshold;
    this.draw();
  }

  /** Only moves the threshold marker (cheap; used while dragging). */
  setThreshold(threshold: number | null): void {
    this.threshold = threshold;
    this.drawThreshold();
  }

  private get plotWidth(): number {
    return Math.max(10, this.width - MARGIN.left - MARGIN.right);
  }

  private xOf(value: number): number {
    const data = this.data;
    if (!data) return MARGIN.left;
    return MARGIN.left + ((value - data.min) / (data.max - data.min)) * this.plotWidth;
  }

  private valueAt(x: number): number {
    const data = this.data;
    if (!data) return 0;
    const fraction = Math.min(1, Math.max(0, (x - MARGIN.left) / this.plotWidth));
    return data.min + fraction * (data.max - data.min);
  }

  private emitFromPointer(event: PointerEvent, final: boolean): void {
    const rect = this.chart.getBoundingClientRect();
    const value = this.valueAt(event.clientX - rect.left);
    this.setThreshold(value);
    this.onThreshold(value, final);
  }

  private onKey(event: KeyboardEvent): void {
    if (!this.data || this.data.total === 0) return;
    const step = (this.data.max - this.data.min) / BINS;
    const current = this.threshold ?? (this.key === 'clipScore' ? this.data.min : this.data.max);
    let next: number | null = null;
    if (event.key === 'ArrowLeft' || event.key === 'ArrowDown') next = current - step;
    else if (event.key === 'ArrowRight' || event.key === 'ArrowUp') next = current + step;
    if (next === null) return;
    event.preventDefault();
    event.stopPropagation();
    next = Math.min(this.data.max, Math.max(this.data.min, next));
    this.setThreshold(next);
    this.onThreshold(next, true);
  }

  private draw(): void {
    this.chart.setAttribute('viewBox', `0 0 ${this.width} ${HEIGHT}`);
    this.chart.setAttribute('width', String(this.width));
    const data = this.data;
    this.bars.replaceChildren();
    if (!data || data.total === 0) {
      setText(this.caption, 'No values for this detector.');
      setText(this.minLabel, '');
      setText(this.maxLabel, '');
      this.drawThreshold();
      return;
    }
    const peak = Math.log1p(Math.max(...data.counts));
    const binWidth = this.plotWidth / BINS;
    const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
    data.counts.forEach((count, bin) => {
      if (count === 0) return;
      const height = Math.max(1, (Math.log1p(count) / peak) * plotHeight);
      const lower = data.min + (bin / BINS) * (data.max - data.min);
      const upper = data.min + ((bin + 1) / BINS) * (data.max - data.min);
      const rect = svg('rect', {
        class: 'bin',
        x: MARGIN.left + bin * binWidth + 0.5,
        y: MARGIN.top + plotHeight - height,
        width: Math.max(0.5, binWidth - 1),
        height,
      });
      rect.dataset.lower = String(lower);
      rect.dataset.upper = String(upper);
      const tip = svg('title');
      tip.textContent = `${formatScore(lower)} – ${formatScore(upper)}: ${count}`;
      rect.append(tip);
      this.bars.append(rect);
    });
    for (const [label, value, x] of [
      [this.minLabel, data.min, MARGIN.left],
      [this.maxLabel, data.max, this.width - MARGIN.right],
    ] as const) {
      label.setAttribute('x', String(x));
      label.setAttribute('y', String(HEIGHT - 5));
      setText(label, formatScore(value));
    }
    this.drawThreshold();
  }

  private drawThreshold(): void {
    const data = this.data;
    const t = this.threshold;
    const visible = data !== null && data.total > 0 && t !== null;
    this.line.classList.toggle('hidden', !visible);
    this.handle.classList.toggle('hidden', !visible);
    this.chart.dataset.threshold = t === null ? '' : String(t);
    if (!visible || !data || t === null) {
      this.chart.removeAttribute('aria-valuenow');
      setText(this.caption, data && data.total > 0 ? 'Drag on the chart to set a score threshold.' : this.caption.textContent ?? '');
      for (const bar of this.bars.children) bar.classList.remove('flagged');
      return;
    }
    const x = Math.min(this.width - MARGIN.right, Math.max(MARGIN.left, this.xOf(t)));
    for (const [name, value] of [
      ['x1', x],
      ['x2', x],
      ['y1', MARGIN.top - 4],
      ['y2', HEIGHT - MARGIN.bottom],
    ] as const) {
      this.line.setAttribute(name, String(value));
    }
    this.handle.setAttribute('x', String(x - 5));
    this.handle.setAttribute('y', String(MARGIN.top - 8));
    this.chart.setAttribute('aria-valuenow', String(t));
    const lowIsSuspicious = this.key === 'clipScore';
    // A bin is drawn as flagged when its samples lie (at least partly) on the flagged side of the threshold.
    for (const bar of this.bars.children) {
      const lower = Number((bar as SVGElement).dataset.lower);
      const upper = Number((bar as SVGElement).dataset.upper);
      bar.classList.toggle('flagged', lowIsSuspicious ? lower <= t : upper > t);
    }
    setText(this.caption, `Threshold ${formatScore(t)}: samples ${lowIsSuspicious ? 'at or below' : 'at or above'} it are flagged. Bar heights: log scale.`);
  }
}
