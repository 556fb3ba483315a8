/** Whether a process can work at all: false makes a liveness probe restart it. */
export interface Liveness {
  ok: boolean;
  reason?: string;
}

/** GET /health's answer, the same from the API and from a worker's ops server. */
export function healthAnswer(live: Liveness): { status: 200 | 503; body: { status: 'ok' } | { status: 'failing'; reason?: string } } {
  return live.ok ? { status: 200, body: { status: 'ok' } } : { status: 503, body: { status: 'failing', reason: live.reason } };
}
