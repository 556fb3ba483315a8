/**
 * JSON text with object keys sorted at every depth, so two values that differ only in key order
 * give the same text (plan diff's constraint comparison, Metabase's settings and template tags).
 * `undefined` gives "undefined", so a missing value never equals a present one.
 */
export function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const object = value as Record<string, unknown>;
    return `{${Object.keys(object)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableJson(object[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value) ?? 'undefined';
}
