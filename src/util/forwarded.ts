/**
 * What a proxy in front says in an X-Forwarded-* header: the first value (the client's side of a
 * chain of proxies), trimmed; '' when there is none.
 */
export function forwardedValue(header: string | string[] | undefined): string {
  const value = Array.isArray(header) ? header[0] : header;
  return (value ?? '').split(',')[0]!.trim();
}
