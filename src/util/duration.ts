/** One rounding step, at most one decimal shown ("2.5 d", "3 h"). */
const oneDecimal = new Intl.NumberFormat('en-GB', { maximumFractionDigits: 1 });

/**
 * Milliseconds → "12 s", "45 min", "3 h", "2.5 d"; "–" when unknown. The CLI and the dashboard
 * both print durations with it, so a funnel reads the same in either.
 */
export function formatDuration(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms)) return '–';
  const s = ms / 1000;
  if (s < 60) return `${Math.round(s)} s`;
  if (s < 3600) return `${Math.round(s / 60)} min`;
  if (s < 86_400) return `${oneDecimal.format(Math.round((s / 3600) * 10) / 10)} h`;
  return `${oneDecimal.format(Math.round((s / 86_400) * 10) / 10)} d`;
}
