/** Alerts as code: tracking-plan/alerts.yaml, after parsing and validation. Pure data. */

export type AlertRule =
  | { kind: 'kpi'; id: string; kpi: string; below?: number; above?: number; changePct?: number }
  | { kind: 'event_silent'; id: string; event: string; forMs: number }
  | { kind: 'violation_rate'; id: string; above: number; windowMs: number }
  | { kind: 'freshness'; id: string; aboveMs: number }
  | { kind: 'dead_letter'; id: string };

export interface Webhook {
  url: string;
  /** json: Balise's own body; slack: `{ text }`, what Slack's incoming webhooks (and Mattermost's) take. */
  format: 'json' | 'slack';
}

export interface AlertsConfig {
  /** How often the rules are evaluated. */
  everyMs: number;
  webhooks: Webhook[];
  rules: AlertRule[];
}

/** One evaluation of one rule: its measured value and whether it fires. */
export interface Evaluation {
  alert: string;
  firing: boolean;
  value: number | null;
  message: string;
}

/** What a notification says: an alert started firing, or stopped. */
export interface AlertNotice extends Evaluation {
  status: 'firing' | 'resolved';
  at: string;
}
