/** Number formatting shared by every section (pure, unit-tested). */

import { pointChange } from '../../util/kpi-change.ts';

export { formatDuration } from '../../util/duration.ts';

const integer = new Intl.NumberFormat('en-GB', { maximumFractionDigits: 0 });
const decimal = new Intl.NumberFormat('en-GB', { maximumFractionDigits: 2 });

export function formatCount(n: number): string {
  return integer.format(n);
}

/** The noun for a count: "event" for 1, "events" otherwise (0 events, 2 events). */
export function plural(n: number, one: string, many = `${one}s`): string {
  return n === 1 ? one : many;
}

/** 0.4567 → "45.7%"; a rate above 0 too small to show is "<0.1%", never a 0.0% that reads as none. */
export function formatPercent(ratio: number | null, digits = 1): string {
  if (ratio === null || !Number.isFinite(ratio)) return '–';
  const smallest = 10 ** -digits;
  if (ratio > 0 && ratio * 100 < smallest / 2) return `<${smallest.toFixed(digits)}%`;
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

/** The change of a rate in percentage points (util/kpi-change.ts): "+3.0 pts". */
export function formatPointChange(value: number | null, previous: number | null): string {
  const points = pointChange(value, previous);
  if (points === null) return 'no comparison';
  const sign = points > 0 ? '+' : points < 0 ? '−' : '±';
  return `${sign}${Math.abs(points).toFixed(1)} pts`;
}

/** An event's name, or for a call without one (identify, alias, a page without a name) its type: "(identify)". */
export function eventLabel(event: string, type: string): string {
  return event || `(${type || 'no name'})`;
}
