/** Number formatting shared by every section (pure, unit-tested). */

export { formatDuration } from '../../util/duration.ts';

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

/**
 * The change of a ratio in percentage points: 0.42 → 0.45 is "+3.0 pts", not "+7.1%" (a relative
 * change of a rate reads as a bigger move than it is).
 */
export function formatPointChange(value: number | null, previous: number | null): string {
  if (value === null || previous === null || !Number.isFinite(value) || !Number.isFinite(previous)) return 'no comparison';
  const points = (value - previous) * 100;
  const rounded = Math.round(points * 10) / 10;
  const sign = rounded > 0 ? '+' : rounded < 0 ? '−' : '±';
  return `${sign}${Math.abs(rounded).toFixed(1)} pts`;
}
