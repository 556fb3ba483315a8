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
import { holdLease, releaseLease } from '../util/redis-lease.ts';

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
  /** How long the leader key outlives a leader that died (kill -9, out of memory); default 30 s (tests). */
  leaseMs?: number;
}

export interface AlertScheduler {
  /** One evaluation, if this process is the leader; returns the notices sent. */
  tick(): Promise<AlertNotice[]>;
  stop(): Promise<void>;
}

const DEFAULT_EVERY_MS = 60_000;
/**
 * The leader's lease, renewed a third of the way through by every process (the leader keeps it,
 * the others try to take it): a leader that dies hands over within this, not after three of its
 * `every` (15 minutes at 5m, during which no alert was evaluated and nothing said so).
 */
const DEFAULT_LEASE_MS = 30_000;
/** A notice a webhook refused is tried again at every tick, for a day, then given up (logged). */
const UNDELIVERED_MAX_AGE_MS = 24 * 3600_000;
const UNDELIVERED_MAX = 1000;

interface Undelivered {
  notice: AlertNotice;
  /** The webhooks (urls) that have not taken it yet. */
  urls: string[];
}

export function startAlertScheduler(deps: AlertSchedulerDeps): AlertScheduler {
  const token = randomUUID();
  const leaderKey = `${deps.prefix}:alerts:leader`;
  const stateKey = `${deps.prefix}:alerts:firing`;
  const undeliveredKey = `${deps.prefix}:alerts:undelivered`;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<AlertNotice[]> | undefined;
  let stopped = false;
  const leaseMs = deps.leaseMs ?? DEFAULT_LEASE_MS;
  let leading = false;

  /** Takes or keeps the lease; says when this process starts leading (at start, or taking over from one that died). */
  const keepLeading = async (): Promise<{ leads: boolean; gained: boolean }> => {
    const leads = await holdLease(deps.redis, leaderKey, token, leaseMs);
    const gained = leads && !leading;
    if (gained) deps.logger.info('this process evaluates the alerts (tracking-plan/alerts.yaml) from now on');
    leading = leads;
    return { leads, gained };
  };

  /**
   * Notices some webhook refused (down, 5xx, timeout), in order: tried again before anything new,
   * so a receiver that comes back sees every firing and its resolution. Kept in Redis with the
   * firing state, so a new leader goes on with them.
   */
  const deliver = async (config: AlertsConfig, fresh: AlertNotice[], now: number): Promise<void> => {
    const pending = (await deps.redis.lrange(undeliveredKey, 0, -1)).map((raw) => JSON.parse(raw) as Undelivered);
    const left: Undelivered[] = [];
    const blocked = new Set<string>();
    for (const item of [...pending, ...fresh.map((notice) => ({ notice, urls: config.webhooks.map((w) => w.url) }))]) {
      // A webhook removed from the file is no longer owed anything.
      const targets = item.urls.filter((url) => config.webhooks.some((w) => w.url === url));
      // One that refused an older notice gets nothing newer first: each receiver sees them in order.
      const failed = new Set(
        await notify(
          config.webhooks.filter((w) => targets.includes(w.url) && !blocked.has(w.url)),
          item.notice,
        ),
      );
      const urls = targets.filter((url) => blocked.has(url) || failed.has(url));
      for (const url of failed) blocked.add(url);
      if (failed.size > 0) deps.logger.warn({ alert: item.notice.alert, status: item.notice.status, failed: [...failed] }, 'alert webhook failed: the notice is sent again at the next evaluation');
      if (urls.length === 0) continue;
      if (now - Date.parse(item.notice.at) > UNDELIVERED_MAX_AGE_MS) deps.logger.error({ alert: item.notice.alert, status: item.notice.status, urls }, 'alert notice given up after a day of refusals');
      else left.push({ notice: item.notice, urls });
    }
    const update = deps.redis.multi().del(undeliveredKey);
    if (left.length) update.rpush(undeliveredKey, ...left.slice(-UNDELIVERED_MAX).map((k) => JSON.stringify(k)));
    await update.exec();
  };

  const evaluateAll = async (): Promise<AlertNotice[]> => {
    const config = await deps.alerts();
    if (!config || config.rules.length === 0) return [];
    if (!(await keepLeading()).leads) return [];
    const now = Date.now();
    const firing = new Set(await deps.redis.smembers(stateKey));
    // Read once per evaluation, however many KPI rules the file has.
    let definitions: Promise<KpiDefinitions> | undefined;
    const kpis = () => (definitions ??= deps.kpis());
    const notices: AlertNotice[] = [];
    for (const rule of config.rules) {
      try {
        const notice = transition(firing.has(rule.id), evaluate(rule, await measure(rule, { ...deps, kpis, now })), now);
        if (notice) notices.push(notice);
      } catch (err) {
        deps.logger.warn({ err, alert: rule.id }, 'alert could not be evaluated');
      }
    }
    // A firing alert whose rule was deleted from the file is resolved, said once, like any other.
    const known = new Set(config.rules.map((r) => r.id));
    for (const id of firing) {
      if (!known.has(id)) notices.push({ at: new Date(now).toISOString(), alert: id, firing: false, status: 'resolved', value: null, message: `${id} was removed from alerts.yaml` });
    }
    for (const notice of notices) {
      if (notice.status === 'firing') await deps.redis.sadd(stateKey, notice.alert);
      else await deps.redis.srem(stateKey, notice.alert);
      await insertJsonLines(deps.warehouse, 'alert_events', [
        JSON.stringify({ at: notice.at.replace('T', ' ').replace('Z', ''), alert: notice.alert, status: notice.status, value: notice.value, message: notice.message }),
      ]);
      deps.logger.info({ alert: notice.alert, status: notice.status, value: notice.value }, notice.message);
    }
    await deliver(config, notices, now);
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
  // Keeps the lease while this process lives, or takes it over from one that died, and then
  // evaluates at once rather than at its next tick.
  const heartbeat = setInterval(() => {
    void keepLeading()
      .then(({ gained }) => (gained && !stopped ? void tick() : undefined))
      .catch(() => undefined);
  }, leaseMs / 3);
  heartbeat.unref();

  return {
    tick,
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      clearInterval(heartbeat);
      await running;
      // Hand over at once rather than after the key's ttl.
      await releaseLease(deps.redis, leaderKey, token).catch(() => undefined);
    },
  };
}
