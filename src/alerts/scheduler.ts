/**
 * Evaluates tracking-plan/alerts.yaml on a schedule. Every process with the engine runs this,
 * but only the one holding a Redis leader key evaluates (several workers never double-notify);
 * whether each alert is firing lives in Redis too, so a new leader does not fire again what its
 * predecessor already announced. A notice goes to the webhooks and into `alert_events`.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { KpiDefinitions } from '../analytics/model.ts';
import type { Warehouse } from '../warehouse/client.ts';
import { insertJsonLines } from '../warehouse/insert.ts';
import { evaluate, transition } from './evaluate.ts';
import { measure } from './measure.ts';
import type { AlertNotice, AlertsConfig } from './model.ts';
import { notify } from './notify.ts';

export interface AlertSchedulerDeps {
  warehouse: Warehouse;
  redis: Redis;
  /** Key prefix (a `{hash tag}`), e.g. the queue's. */
  prefix: string;
  /** Read at every tick, so an edited alerts.yaml applies without a restart. */
  alerts: () => Promise<AlertsConfig | undefined>;
  kpis: () => Promise<KpiDefinitions>;
  deadLetterCount: () => Promise<number>;
  /** The project time zone of KPI periods (decision 0038); default UTC. */
  timeZone?: () => string;
  logger: Logger;
  /** Overrides the file's `every` (tests). */
  everyMs?: number;
}

export interface AlertScheduler {
  /** One evaluation, if this process is the leader; returns the notices sent. */
  tick(): Promise<AlertNotice[]>;
  stop(): Promise<void>;
}

const DEFAULT_EVERY_MS = 60_000;

export function startAlertScheduler(deps: AlertSchedulerDeps): AlertScheduler {
  const token = randomUUID();
  const leaderKey = `${deps.prefix}:alerts:leader`;
  const stateKey = `${deps.prefix}:alerts:firing`;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<AlertNotice[]> | undefined;
  let stopped = false;

  /** Takes the leader key, or keeps it; true when this process leads for the next ttl. */
  const lead = async (ttlMs: number): Promise<boolean> => {
    if ((await deps.redis.set(leaderKey, token, 'PX', ttlMs, 'NX')) === 'OK') return true;
    if ((await deps.redis.get(leaderKey)) !== token) return false;
    await deps.redis.pexpire(leaderKey, ttlMs);
    return true;
  };

  const evaluateAll = async (): Promise<AlertNotice[]> => {
    const config = await deps.alerts();
    if (!config || config.rules.length === 0) return [];
    const every = deps.everyMs ?? config.everyMs;
    if (!(await lead(every * 3))) return [];
    const now = Date.now();
    const firing = new Set(await deps.redis.smembers(stateKey));
    const notices: AlertNotice[] = [];
    for (const rule of config.rules) {
      try {
        const notice = transition(firing.has(rule.id), evaluate(rule, await measure(rule, { ...deps, now })), now);
        if (notice) notices.push(notice);
      } catch (err) {
        deps.logger.warn({ err, alert: rule.id }, 'alert could not be evaluated');
      }
    }
    // Resolved alerts whose rule was deleted from the file are dropped silently.
    const known = new Set(config.rules.map((r) => r.id));
    for (const id of firing) if (!known.has(id)) await deps.redis.srem(stateKey, id);
    for (const notice of notices) {
      if (notice.status === 'firing') await deps.redis.sadd(stateKey, notice.alert);
      else await deps.redis.srem(stateKey, notice.alert);
      await insertJsonLines(deps.warehouse, 'alert_events', [
        JSON.stringify({ at: notice.at.replace('T', ' ').replace('Z', ''), alert: notice.alert, status: notice.status, value: notice.value, message: notice.message }),
      ]);
      const failed = await notify(config.webhooks, notice);
      if (failed.length > 0) deps.logger.warn({ alert: notice.alert, status: notice.status, failed }, 'alert webhook failed');
      deps.logger.info({ alert: notice.alert, status: notice.status, value: notice.value }, notice.message);
    }
    return notices;
  };

  const tick = (): Promise<AlertNotice[]> => {
    running ??= evaluateAll()
      .catch((err: unknown) => {
        deps.logger.warn({ err }, 'alert evaluation failed');
        return [];
      })
      .finally(() => (running = undefined));
    return running;
  };

  const schedule = async (): Promise<void> => {
    if (stopped) return;
    await tick();
    const every = deps.everyMs ?? (await deps.alerts().catch(() => undefined))?.everyMs ?? DEFAULT_EVERY_MS;
    if (!stopped) timer = setTimeout(() => void schedule(), every);
  };
  timer = setTimeout(() => void schedule(), 0);

  return {
    tick,
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
      // Hand over at once rather than after the key's ttl.
      if ((await deps.redis.get(leaderKey).catch(() => null)) === token) await deps.redis.del(leaderKey).catch(() => 0);
    },
  };
}
