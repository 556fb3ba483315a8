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

/** Colour-blind-safe palette (Okabe–Ito, darkened for contrast on white). */
export const PALETTE = ['#0b5fa5', '#c75400', '#00795c', '#a4307d', '#6b5b00', '#3a7ca8', '#b5231a', '#4b4b4b'];

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
