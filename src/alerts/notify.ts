/** Sends a notice to each webhook: Balise's JSON body, or a Slack-compatible `{ text }`. */
import type { AlertNotice, Webhook } from './model.ts';

export function webhookBody(notice: AlertNotice, format: Webhook['format']): unknown {
  if (format === 'slack') {
    const icon = notice.status === 'firing' ? ':rotating_light:' : ':white_check_mark:';
    return { text: `${icon} Balise alert *${notice.alert}* ${notice.status === 'firing' ? 'is firing' : 'resolved'}: ${notice.message}` };
  }
  return { source: 'balise', alert: notice.alert, status: notice.status, value: notice.value, message: notice.message, at: notice.at };
}

/** Posts to every webhook; returns the ones that failed (the history still records the notice). */
export async function notify(webhooks: Webhook[], notice: AlertNotice, timeoutMs = 5000): Promise<string[]> {
  const failed: string[] = [];
  await Promise.all(
    webhooks.map(async (w) => {
      const ok = await fetch(w.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(webhookBody(notice, w.format)),
        signal: AbortSignal.timeout(timeoutMs),
      }).then(
        (r) => r.ok,
        () => false,
      );
      if (!ok) failed.push(w.url);
    }),
  );
  return failed;
}
