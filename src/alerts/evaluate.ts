/** Pure: a rule and its measurement → an evaluation; a previous state and an evaluation → what to send. */
import type { AlertNotice, AlertRule, Evaluation } from './model.ts';

export interface Measurement {
  value: number | null;
  /** For KPI rules: the previous period's value. */
  previous?: number | null;
}

const human = (ms: number): string =>
  ms >= 86_400_000 ? `${Math.round(ms / 86_400_000)}d` : ms >= 3_600_000 ? `${Math.round(ms / 3_600_000)}h` : ms >= 60_000 ? `${Math.round(ms / 60_000)}m` : `${Math.round(ms / 1000)}s`;

export function evaluate(rule: AlertRule, m: Measurement): Evaluation {
  const at = (firing: boolean, message: string): Evaluation => ({ alert: rule.id, firing, value: m.value, message });
  switch (rule.kind) {
    case 'kpi': {
      const v = m.value;
      if (v === null) return at(false, `KPI ${rule.kpi} has no value for the period`);
      if (rule.below !== undefined && v < rule.below) return at(true, `KPI ${rule.kpi} is ${v}, below ${rule.below}`);
      if (rule.above !== undefined && v > rule.above) return at(true, `KPI ${rule.kpi} is ${v}, above ${rule.above}`);
      const p = m.previous ?? null;
      if (rule.changePct !== undefined && p !== null && p !== 0) {
        const pct = ((v - p) / Math.abs(p)) * 100;
        if (Math.abs(pct) > rule.changePct) return at(true, `KPI ${rule.kpi} moved ${pct > 0 ? '+' : ''}${pct.toFixed(1)}% versus the previous period (${p} → ${v}), more than ${rule.changePct}%`);
      }
      return at(false, `KPI ${rule.kpi} is ${v}`);
    }
    case 'event_silent':
      return m.value === null
        ? at(true, `event ${rule.event} has never been received`)
        : at(m.value > rule.forMs, `event ${rule.event} last received ${human(m.value)} ago${m.value > rule.forMs ? `, silent for more than ${human(rule.forMs)}` : ''}`);
    case 'violation_rate': {
      const v = m.value ?? 0;
      return at(v > rule.above, `violation rate ${(v * 100).toFixed(1)}% over the last ${human(rule.windowMs)}${v > rule.above ? `, above ${(rule.above * 100).toFixed(1)}%` : ''}`);
    }
    case 'freshness':
      return m.value === null
        ? at(false, 'no event stored yet')
        : at(m.value > rule.aboveMs, `newest event arrived ${human(m.value)} ago${m.value > rule.aboveMs ? `, more than ${human(rule.aboveMs)}` : ''}`);
    case 'dead_letter': {
      const n = m.value ?? 0;
      return at(n > 0, `${n} job(s) in the dead letter${n > 0 ? ': run `balise replay dead-letter` once the cause is fixed' : ''}`);
    }
  }
}

/** A notice when the state flips (fires, or resolves); nothing while it stays the same. */
export function transition(wasFiring: boolean, e: Evaluation, now: number): AlertNotice | undefined {
  if (e.firing === wasFiring) return undefined;
  return { ...e, status: e.firing ? 'firing' : 'resolved', at: new Date(now).toISOString() };
}
