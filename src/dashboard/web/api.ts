/** Calls to the admin API with the login cookie; a 401 sends the user back to the login form. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Signed out meanwhile (the session expired): the login, then back to this page as it is. */
const signIn = () => window.location.assign(`/login?next=${encodeURIComponent(`${window.location.pathname}${window.location.search}`)}`);

/** `params`: a parameter left undefined or '' is not sent; null sends it present and empty (`breakdown=`). */
export async function getJson<T>(path: string, params: Record<string, string | null | undefined> = {}): Promise<T> {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value || value === null) query.set(key, value ?? '');
  const qs = query.toString();
  const url = qs ? `${path}?${qs}` : path;
  const response = await fetch(url, { credentials: 'same-origin', headers: { accept: 'application/json' } });
  if (response.status === 401) {
    signIn();
    throw new ApiError(401, 'unauthorized', 'signed out');
  }
  const body = (await response.json().catch(() => ({}))) as { code?: string; message?: string };
  if (!response.ok) throw new ApiError(response.status, body.code ?? 'http_error', body.message ?? `HTTP ${response.status}`);
  return body as T;
}

/** POST with a JSON body; errors as for getJson. */
export async function postJson<T>(path: string, body: unknown): Promise<T> {
  const response = await fetch(path, { method: 'POST', credentials: 'same-origin', headers: { accept: 'application/json', 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (response.status === 401) {
    signIn();
    throw new ApiError(401, 'unauthorized', 'signed out');
  }
  const parsed = (await response.json().catch(() => ({}))) as { code?: string; message?: string };
  if (!response.ok) throw new ApiError(response.status, parsed.code ?? 'http_error', parsed.message ?? `HTTP ${response.status}`);
  return parsed as T;
}
