import { loadConfig, type Config } from '../config/index.ts';
import { readAdminToken } from '../config/secrets.ts';
import { BaliseError, RemoteError } from '../errors.ts';

let serverUrlOption: string | undefined;

/** `--url` on the command line; it wins over BALISE_URL. */
export function setServerUrl(url: string | undefined): void {
  if (url !== undefined) {
    let parsed: URL | undefined;
    try {
      parsed = new URL(url);
    } catch {
      parsed = undefined;
    }
    if (!parsed || !['http:', 'https:'].includes(parsed.protocol)) throw new BaliseError('usage', `--url: expected an http(s) URL, got "${url}"`);
  }
  serverUrlOption = url?.replace(/\/+$/, '');
}

/** The server the user named (--url, else BALISE_URL), if any. */
export const namedServerUrl = (config: Pick<Config, 'serverUrl'>): string | undefined => serverUrlOption ?? config.serverUrl;

/** Where the CLI finds the running server: --url, else BALISE_URL, else this machine's PORT. */
export const apiBaseUrl = (config: Pick<Config, 'port' | 'serverUrl'>) => serverUrlOption ?? config.serverUrl ?? `http://127.0.0.1:${config.port}`;

/** `path?a=1&b=2`, leaving out empty values. */
export function withQuery(path: string, params: Record<string, string | undefined>): string {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value) query.set(key, value);
  return query.size > 0 ? `${path}?${query.toString()}` : path;
}

/**
 * CLI commands that read data go through the running server's HTTP API: in embedded mode the
 * chDB engine belongs to that process (one data directory per process).
 */
export async function callApi<T>(method: 'GET' | 'POST', path: string, body?: unknown, baseUrlOverride?: string): Promise<T> {
  const response = await requestApi(method, path, body, baseUrlOverride);
  const payload = (await response.json().catch(() => ({}))) as { code?: string; message?: string };
  if (!response.ok) throw new RemoteError(payload.code ?? `http_${response.status}`, payload.message ?? `HTTP ${response.status}`);
  return payload as T;
}

/** The server's raw answer, authenticated with the admin token (streams read it as it comes). */
export async function requestApi(method: 'GET' | 'POST', path: string, body?: unknown, baseUrlOverride?: string, signal?: AbortSignal): Promise<Response> {
  const config = loadConfig();
  const baseUrl = baseUrlOverride ?? apiBaseUrl(config);
  const token = readAdminToken(config);
  if (!token) throw new BaliseError('admin_token_missing', `no admin token: set BALISE_ADMIN_TOKEN or start Balise once so that ${config.dataDir}/admin-token exists`);
  try {
    return await fetch(`${baseUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    });
  } catch (error) {
    if (signal?.aborted) throw error;
    throw notRunning(baseUrl);
  }
}

function notRunning(baseUrl: string, pointer = '--url or BALISE_URL'): BaliseError {
  return new BaliseError('server_unreachable', `Balise is not running at ${baseUrl}: start it with \`balise up\`, or point the CLI at it with ${pointer}`);
}

/**
 * Fails at once when nothing answers at `baseUrl`: for commands that send through an SDK, which
 * retries an unreachable API in silence (any HTTP answer will do: the server is there).
 */
export async function expectServerAt(baseUrl: string, pointer?: string): Promise<void> {
  try {
    const response = await fetch(`${baseUrl}/health`, { signal: AbortSignal.timeout(5_000) });
    await response.arrayBuffer();
  } catch {
    throw notRunning(baseUrl, pointer);
  }
}
