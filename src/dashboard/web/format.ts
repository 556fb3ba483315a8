/** Number formatting shared by every section (pure, unit-tested). */

const integer = new Intl.NumberFormat('en-GB', { maximumFractionDigits: 0 });
const decimal = new Intl.NumberFormat('en-GB', { maximumFractionDigits: 2 });

export function formatCount(n: number): string {
  return integer.format(n);
}

/** 0.4567 → "45.7%". */
export function formatPercent(ratio: number | null, digits = 1): string {
  if (ratio === null || !Number.isFinite(ratio)) return '–';
  return `${(ratio * 100).toFixed(digits)}%`;
}

/** A KPI value with its unit: ratios shown as percentages when the unit is "%". */
export function formatKpi(value: number | null, unit: string): string {
  if (value === null || !Number.isFinite(value)) return '–';
  if (unit === '%') return formatPercent(value);
  const text = Number.isInteger(value) ? integer.format(value) : decimal.format(value);
  return unit ? `${text} ${unit}`.replace(' /', '/') : text;
}

/** A signed change such as "+12.5%", "−3.0%"; words when the previous period was empty. */
export function formatChange(change: number | null, previous: number | null, value: number | null): string {
  if (change === null) {
    if (previous === 0) return value ? 'new this period' : 'no change';
    return 'no comparison';
  }
  const sign = change > 0 ? '+' : change < 0 ? '−' : '±';
  return `${sign}${Math.abs(change * 100).toFixed(1)}%`;
}

/** Milliseconds → "3 h", "2.5 d", "45 min", "12 s". */
export function formatDuration(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms)) return '–';
  const s = ms / 1000;
  if (s < 60) return `${Math.round(s)} s`;
  if (s < 3600) return `${Math.round(s / 60)} min`;
  if (s < 86_400) return `${decimal.format(Math.round((s / 3600) * 10) / 10)} h`;
  return `${decimal.format(Math.round((s / 86_400) * 10) / 10)} d`;
}
