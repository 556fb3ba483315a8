/**
 * A plan reload reaches every API process on one Redis (decision 0047): `up`'s children,
 * `serve` replicas started by hand or behind a load balancer, on this host or another. Each
 * process subscribes to one channel of its queue's keys. The process that reloads (the admin
 * API: reload, replay, a KPI saved) announces it there; every other process reads the plan from
 * its own disk and answers with the version it now validates with, or why it could not. The
 * announcer waits for those answers (a few seconds at most), so the operator learns which
 * processes follow, and which one still runs an older plan (its files were not updated).
 */
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import type { Redis } from 'ioredis';
import { renderError } from '../errors.ts';
import type { Logger } from '../observability/logger.ts';
import type { QueueKeys } from './jobs.ts';

/** `from` tells listeners apart (one per process, or several in one test); `process` names it for people. */
type Sender = { from: string; process: string };
type Notice = Sender & ({ kind: 'reload'; id: string } | { kind: 'reloaded'; id: string; planVersion: string } | { kind: 'failed'; id: string; code: string; message: string });

/** What the other API processes answered to one announced reload. */
export interface ReplicaReport {
  /** Other API processes listening when the reload was announced. */
  asked: number;
  /** Each process (`host:pid`) that reloaded, with the latest plan version it now validates with. */
  reloaded: { process: string; planVersion: string }[];
  failed: { process: string; code: string; message: string }[];
  /** Processes that did not answer within the wait. */
  unanswered: number;
}

export interface PlanReloads {
  /**
   * Tells every other API process to reload; resolves with their answers, or with what came
   * within `waitMs`. Undefined when Redis could not be reached (the reload stays local).
   */
  announce(): Promise<ReplicaReport | undefined>;
}

const DEFAULT_WAIT_MS = 5000;

export const planReloadChannel = (keys: Pick<QueueKeys, 'name' | 'prefix'>): string => `${keys.prefix}:${keys.name}:plan-reloads`;

function parseNotice(text: string): Notice | undefined {
  try {
    const value = JSON.parse(text) as Partial<Notice>;
    return typeof value.kind === 'string' && typeof value.id === 'string' && typeof value.from === 'string' && typeof value.process === 'string' ? (value as Notice) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Subscribes `subscriber` (a connection of its own: a subscribed connection runs no other
 * command) and answers the reloads others announce. `reload` reads the plan again and returns
 * its latest version.
 */
export function joinPlanReloads(options: { subscriber: Redis; publisher: Redis; channel: string; reload: () => Promise<string>; logger: Logger; waitMs?: number }): PlanReloads {
  const { subscriber, publisher, channel, logger } = options;
  const self: Sender = { from: randomUUID(), process: `${os.hostname()}:${process.pid}` };
  const collecting = new Map<string, (notice: Notice) => void>();
  const publish = (notice: Notice) => publisher.publish(channel, JSON.stringify(notice));

  const answer = async (id: string): Promise<void> => {
    let reply: Notice;
    try {
      reply = { kind: 'reloaded', id, ...self, planVersion: await options.reload() };
      logger.info({ planVersion: reply.planVersion }, 'tracking plan reloaded, as another API process asked');
    } catch (error) {
      // Codes from the one list (errors.ts): an invalid plan says `plan_invalid`, anything else is ours.
      const { code } = renderError(error).body;
      logger.error({ err: error }, 'could not reload the tracking plan another API process asked for: this process keeps its plan');
      reply = { kind: 'failed', id, ...self, code, message: error instanceof Error ? error.message : String(error) };
    }
    await publish(reply).catch((err: unknown) => logger.warn({ err }, 'could not tell the reloading process how the plan reload went'));
  };

  subscriber.on('message', (from: string, text: string) => {
    if (from !== channel) return;
    const notice = parseNotice(text);
    if (!notice || notice.from === self.from) return;
    if (notice.kind === 'reload') void answer(notice.id);
    else collecting.get(notice.id)?.(notice);
  });
  // Not awaited: a start with Redis away must not hang here (the API answers 503 meanwhile);
  // the connection subscribes once Redis is reachable, and again after every reconnect.
  subscriber.subscribe(channel).catch((err: unknown) => logger.warn({ err }, 'could not listen for plan reloads of other API processes'));

  return {
    async announce() {
      const id = randomUUID();
      // Until PUBLISH says how many listen, no number of answers is all of them.
      const report: ReplicaReport = { asked: Infinity, reloaded: [], failed: [], unanswered: 0 };
      const allAnswered = () => report.reloaded.length + report.failed.length >= report.asked;
      let settle = (): void => undefined;
      const answered = new Promise<void>((resolve) => (settle = resolve));
      collecting.set(id, (notice) => {
        if (notice.kind === 'reloaded') report.reloaded.push({ process: notice.process, planVersion: notice.planVersion });
        if (notice.kind === 'failed') report.failed.push({ process: notice.process, code: notice.code, message: notice.message });
        if (allAnswered()) settle();
      });
      let timer: NodeJS.Timeout | undefined;
      try {
        // Every subscriber hears it, this process included.
        report.asked = Math.max(0, (await publish({ kind: 'reload', id, ...self })) - 1);
        if (!allAnswered()) await Promise.race([answered, new Promise<void>((resolve) => (timer = setTimeout(resolve, options.waitMs ?? DEFAULT_WAIT_MS)))]);
      } catch (err) {
        logger.warn({ err }, 'could not tell the other API processes to reload the tracking plan: only this one did');
        return undefined;
      } finally {
        clearTimeout(timer);
        collecting.delete(id);
      }
      report.unanswered = Math.max(0, report.asked - report.reloaded.length - report.failed.length);
      return report;
    },
  };
}

/** Whether every other process answered, and reloaded `planVersion` itself. */
export function allFollow(report: ReplicaReport, planVersion: string): boolean {
  return report.failed.length === 0 && report.unanswered === 0 && report.reloaded.every((r) => r.planVersion === planVersion);
}

/**
 * The report in one line for people: how many other processes follow `planVersion`, and each
 * that does not (another version on its disk, a failure, no answer).
 */
export function replicaSummary(report: ReplicaReport, planVersion: string): string {
  if (report.asked === 0) return 'no other API process listens on this Redis';
  const following = report.reloaded.filter((r) => r.planVersion === planVersion).length;
  const parts = [`${following} of ${report.asked} other API process${report.asked === 1 ? '' : 'es'} reloaded plan ${planVersion}`];
  for (const r of report.reloaded) if (r.planVersion !== planVersion) parts.push(`${r.process} reloaded plan ${r.planVersion} (its plan files differ)`);
  for (const f of report.failed) parts.push(`${f.process} kept its plan: ${f.message} [${f.code}]`);
  if (report.unanswered) parts.push(`${report.unanswered} did not answer`);
  return parts.join('; ');
}
