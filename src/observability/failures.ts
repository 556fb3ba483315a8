import type { Logger } from './logger.ts';

/** How often a failure that keeps happening is summarised while it lasts. */
const REMIND_MS = 60_000;

export interface FailureLog {
  /** Logs the first failure of a kind, then a reminder at most once a minute while it lasts. */
  report(kind: string, error: unknown, message: string): void;
  /** Logs that a failing kind recovered (and how many failures were not logged); no-op otherwise. */
  recover(kind: string, message?: string): void;
  /** Since when a kind has been failing, or undefined. */
  failingSince(kind: string): number | undefined;
}

/**
 * One log line per failure kind, not one per request or per reconnect attempt: a dead Redis
 * otherwise writes a stack trace for every ingest request (megabytes a minute) and hides the one
 * line that says what happened.
 */
export function createFailureLog(logger: Logger, now: () => number = Date.now): FailureLog {
  const failing = new Map<string, { since: number; count: number; lastLogged: number }>();
  return {
    report(kind, error, message) {
      const t = now();
      const state = failing.get(kind);
      if (!state) {
        failing.set(kind, { since: t, count: 1, lastLogged: t });
        logger.error({ err: error, kind }, message);
        return;
      }
      state.count++;
      if (t - state.lastLogged >= REMIND_MS) {
        state.lastLogged = t;
        logger.error(
          { kind, failures: state.count, failingForSeconds: Math.round((t - state.since) / 1000), reason: error instanceof Error ? error.message : String(error) },
          `${message} (still failing)`,
        );
      }
    },
    recover(kind, message) {
      const state = failing.get(kind);
      if (!state) return;
      failing.delete(kind);
      logger.info({ kind, failures: state.count, downSeconds: Math.round((now() - state.since) / 1000) }, message ?? `${kind}: recovered`);
    },
    failingSince(kind) {
      return failing.get(kind)?.since;
    },
  };
}
