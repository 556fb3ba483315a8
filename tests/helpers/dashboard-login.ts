/** The dashboard's login cookie from a real sign-in: the cookie holds a session id, never the token. */
export async function dashboardSessionCookie(baseUrl: string, token: string) {
  const login = await fetch(`${baseUrl}/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: `token=${encodeURIComponent(token)}`,
  });
  const session = /balise_session=([^;]+)/.exec(login.headers.get('set-cookie') ?? '')?.[1];
  if (!session) throw new Error(`login failed: ${login.status}`);
  return { name: 'balise_session', value: session, url: baseUrl, httpOnly: true, sameSite: 'Lax' as const };
}
