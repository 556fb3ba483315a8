/**
 * A tile's sparkline: a small inline SVG (no chart instance per tile). The last point is hollow
 * and the line to it dashed when that period is incomplete, so a partial week does not read as a
 * drop.
 */
const SVG = 'http://www.w3.org/2000/svg';

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>): SVGElementTagNameMap[K] {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
}

/** Scales values into a width × height box (pure; null values leave a gap). */
export function sparkPoints(values: (number | null)[], width: number, height: number, pad = 3): ({ x: number; y: number } | null)[] {
  const finite = values.filter((v): v is number => v !== null && Number.isFinite(v));
  if (!finite.length) return values.map(() => null);
  const min = Math.min(0, ...finite);
  const max = Math.max(...finite);
  const span = max - min || 1;
  const step = values.length > 1 ? (width - 2 * pad) / (values.length - 1) : 0;
  return values.map((v, i) => (v === null || !Number.isFinite(v) ? null : { x: pad + i * step, y: height - pad - ((v - min) / span) * (height - 2 * pad) }));
}

export function sparkline(values: (number | null)[], incomplete: boolean[], label: string, width = 160, height = 36): SVGSVGElement {
  const root = svg('svg', { viewBox: `0 0 ${width} ${height}`, width, height, role: 'img', 'aria-label': label, class: 'spark' });
  const title = svg('title', {});
  title.textContent = label;
  root.appendChild(title);
  const points = sparkPoints(values, width, height);
  // One segment per pair of neighbours: dashed when either end is an incomplete period.
  points.forEach((p, i) => {
    const q = points[i + 1];
    if (!p || !q) return;
    const partial = incomplete[i] || incomplete[i + 1];
    root.appendChild(svg('line', { x1: p.x.toFixed(1), y1: p.y.toFixed(1), x2: q.x.toFixed(1), y2: q.y.toFixed(1), class: partial ? 'spark-line partial' : 'spark-line' }));
  });
  const last = [...points].reverse().find((p) => p !== null);
  const lastIndex = points.lastIndexOf(last ?? null);
  if (last) root.appendChild(svg('circle', { cx: last.x.toFixed(1), cy: last.y.toFixed(1), r: 2.5, class: incomplete[lastIndex] ? 'spark-dot partial' : 'spark-dot' }));
  return root;
}
