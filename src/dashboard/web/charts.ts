/**
 * Chart.js, tree-shaken: only the controllers, elements and scales used here are registered,
 * which keeps app.js small. Every chart also has a data table beside it for screen readers.
 */
import { BarController, BarElement, CategoryScale, Chart, Legend, LinearScale, LineController, LineElement, PointElement, Tooltip, type ChartConfiguration } from 'chart.js';
import { el } from './dom.ts';

Chart.register(BarController, BarElement, LineController, LineElement, PointElement, CategoryScale, LinearScale, Tooltip, Legend);
Chart.defaults.font.family = 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
Chart.defaults.color = '#334155';
Chart.defaults.animation = false;

/**
 * Ten series colours (Explore shows up to 10 breakdown series), after Okabe–Ito: each at least
 * 3:1 against white, and any two at least 17 apart in CIEDE2000 (tests/unit/dashboard-palette.test.ts)
 * so no two lines of one chart read as the same series.
 */
export const PALETTE = ['#0b5fa5', '#d55e00', '#009e73', '#a4307d', '#6b5b00', '#5d4037', '#00838f', '#cc79a7', '#b5231a', '#3b8a00'];

const charts = new WeakMap<HTMLCanvasElement, Chart>();

/** A canvas in a sized box; `label` describes the chart for assistive technology. */
export function chartBox(label: string, height = 220): { box: HTMLElement; canvas: HTMLCanvasElement } {
  const canvas = el('canvas', { role: 'img', 'aria-label': label });
  const box = el('div', { class: 'chart', 'data-height': height }, canvas);
  box.classList.add(`h${height}`);
  return { box, canvas };
}

export function draw(canvas: HTMLCanvasElement, config: ChartConfiguration): void {
  charts.get(canvas)?.destroy();
  charts.set(canvas, new Chart(canvas, { ...config, options: { responsive: true, maintainAspectRatio: false, ...config.options } }));
}

/**
 * The top of a percentage axis scaled to the data (a curve at 5–12 % fills the chart instead of
 * hugging the floor of a 0–100 axis): the highest value plus a tenth, rounded up to a whole 10
 * (a whole 1 under 10 %), never past 100. With no value yet, the whole 0–100.
 */
export function percentAxisMax(values: readonly (number | null)[]): number {
  const highest = Math.max(0, ...values.filter((v): v is number => v !== null && Number.isFinite(v)));
  if (highest === 0) return 100;
  const step = highest < 10 ? 1 : 10;
  return Math.min(100, Math.ceil((highest * 1.1) / step) * step);
}
