/** The two HTML shells. Static text only: every piece of data is rendered by app.js with textContent. */

const head = (title: string) => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/dashboard/style.css">
</head>`;

const escapeAttribute = (value: string) => value.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** `next`: where to go once signed in, already checked to be a path on this origin (safeNext). */
export function loginPage(failed: boolean, next = '/'): string {
  return `${head('Balise · sign in')}
<body class="login">
<main class="login-card">
  <h1>Balise</h1>
  <p>Product analytics dashboard. Sign in with your access token (viewer, analyst or admin; the admin token is <code>BALISE_ADMIN_TOKEN</code>).</p>
  ${failed ? '<p class="error" role="alert" id="login-error">That token is not valid.</p>' : ''}
  <form method="post" action="/login">
    <input type="hidden" name="next" value="${escapeAttribute(next)}">
    <label for="token">Access token</label>
    <input id="token" name="token" type="password" autocomplete="current-password" required autofocus${failed ? ' aria-describedby="login-error" aria-invalid="true"' : ''}>
    <button type="submit">Sign in</button>
  </form>
</main>
</body>
</html>`;
}

export type AppPage = 'overview' | 'explore' | 'people';

const NAV: { page: AppPage | 'live'; href: string; label: string }[] = [
  { page: 'overview', href: '/', label: 'Overview' },
  { page: 'explore', href: '/explore', label: 'Explore' },
  { page: 'people', href: '/people', label: 'People' },
  { page: 'live', href: '/live', label: 'Live events' },
];

/** People and Live events show person-level data: a role that may not read it is not offered them. */
const PERSON_PAGES: readonly (AppPage | 'live')[] = ['people', 'live'];

const navLinks = (current: AppPage | 'live', seesPersons: boolean) =>
  NAV.filter((n) => seesPersons || !PERSON_PAGES.includes(n.page) || n.page === current)
    .map((n) => `<a href="${n.href}"${n.page === current ? ' aria-current="page"' : ''}>${n.label}</a>`)
    .join('');

const SECTIONS = `<nav class="sections" aria-label="Sections">
    <a href="#kpis">KPIs</a><a href="#funnels">Funnels</a><a href="#retention">Retention</a><a href="#trends">Trends</a><a href="#data-health">Data health</a><a href="#pipeline">Pipeline</a><a href="#alerts">Alerts</a>
  </nav>`;

const BODIES: Record<AppPage, string> = {
  overview: `
  <section id="kpis" aria-labelledby="kpis-h"><h2 id="kpis-h">KPIs</h2><div class="tiles" id="kpi-tiles"></div></section>
  <section id="funnels" aria-labelledby="funnels-h"><h2 id="funnels-h">Funnels</h2><div id="funnel-list"></div></section>
  <section id="retention" aria-labelledby="retention-h"><h2 id="retention-h">Retention</h2><div id="retention-list"></div></section>
  <section id="trends" aria-labelledby="trends-h"><h2 id="trends-h">Event trends</h2><div id="trends-body"></div></section>
  <section id="data-health" aria-labelledby="health-h"><h2 id="health-h">Data health</h2><div id="health-body"></div></section>
  <section id="pipeline" aria-labelledby="pipeline-h"><h2 id="pipeline-h">Pipeline health</h2><div id="pipeline-body"></div></section>
  <section id="alerts" aria-labelledby="alerts-h"><h2 id="alerts-h">Alerts</h2><div id="alerts-body"></div></section>`,
  explore: `
  <section id="explore" aria-labelledby="explore-h"><h2 id="explore-h">Explore</h2>
    <p class="muted">Build a trend or a funnel from the tracking plan's events and properties. The link holds the whole question; the YAML below it is ready for <code>tracking-plan/kpis/</code>.</p>
    <div id="explore-form" class="card"></div>
    <div id="explore-result"></div>
    <div id="explore-yaml"></div>
  </section>`,
  people: `
  <section id="people" aria-labelledby="people-h"><h2 id="people-h">People and entities</h2>
    <form id="lookup" class="card lookup" aria-label="Look up a person or an entity">
      <div class="field"><label for="lookup-property">Look up</label><select id="lookup-property" name="property"><option value="">a person (userId, anonymousId or alias)</option></select></div>
      <div class="field grow"><label for="lookup-id">Id</label><input id="lookup-id" name="id" required autocomplete="off" spellcheck="false"></div>
      <button type="submit">Show timeline</button>
    </form>
    <div id="people-result"></div>
  </section>`,
};

/**
 * `timeZone`: the project zone (decision 0038), already checked to be an IANA name (no markup).
 * `saveKpis`: Explore may save definitions through POST /api/admin/kpis (decision 0039).
 * `seesPersons`: the role may list who dropped off a funnel (analyst and admin, src/api/access.ts).
 */
export function appPage(page: AppPage = 'overview', timeZone = 'UTC', saveKpis = false, seesPersons = true): string {
  const title = NAV.find((n) => n.page === page)?.label ?? 'Overview';
  const nav = navLinks(page, seesPersons);
  return `${head(`Balise · ${title}`)}
<body data-page="${page}" data-time-zone="${timeZone.replace(/[^A-Za-z0-9_+\-/]/g, '')}"${saveKpis ? ' data-save-kpis="on"' : ''}${seesPersons ? ' data-sees-persons="on"' : ''}>
<a class="skip" href="#main">Skip to content</a>
<header class="top" id="top">
  <div class="top-row">
    <h1>Balise</h1>
    <nav class="pages" aria-label="Pages">${nav}</nav>
    <form method="post" action="/logout" class="signout"><button type="submit" class="secondary">Sign out</button></form>
  </div>
  <div class="top-row">
    <form id="range" class="range" aria-label="Date range">
      <label for="preset">Range</label>
      <select id="preset" name="range"></select>
      <span class="dates"><label for="from">From</label><input id="from" name="from" type="date">
      <label for="to">To</label><input id="to" name="to" type="date"></span>
      <button type="submit">Apply</button>
    </form>
    ${page === 'overview' ? SECTIONS : ''}
  </div>
  <p id="range-text" class="range-text" data-field="range"></p>
</header>
<p id="status" class="status" role="status" aria-live="polite"></p>
<main id="main" tabindex="-1">${BODIES[page]}
</main>
<script src="/dashboard/app.js" defer></script>
</body>
</html>`;
}

/** Events as the server judges them (GET /api/live): filters, then one row per event, newest first. */
export function livePage(seesPersons = true): string {
  return `${head('Balise · live events')}
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="top">
  <div class="top-row">
    <h1>Balise</h1>
    <nav class="pages" aria-label="Pages">${navLinks('live', seesPersons)}</nav>
    <form method="post" action="/logout" class="signout"><button type="submit" class="secondary">Sign out</button></form>
  </div>
  <form id="live-filter" class="range" aria-label="Filter live events">
    <span class="pair"><label for="f-source">Source</label><input id="f-source" name="source" placeholder="write key source or SDK"></span>
    <span class="pair"><label for="f-event">Event</label><input id="f-event" name="event"></span>
    <span class="pair"><label for="f-person">Person</label><input id="f-person" name="person" placeholder="userId or anonymousId"></span>
    <span class="pair"><label for="f-verdict">Verdict</label><select id="f-verdict" name="verdict"><option value="">any</option><option>valid</option><option>warned</option><option>unplanned</option><option>quarantined</option><option value="accepted">accepted (stored)</option><option value="flagged">flagged (warned or quarantined)</option></select></span>
    <button type="submit">Watch</button>
  </form>
</header>
<p id="live-status" class="status" role="status" aria-live="polite">Connecting…</p>
<main id="main" tabindex="-1">
  <section aria-labelledby="live-h"><h2 id="live-h">Live events</h2>
  <p class="muted">Events as this server accepts or quarantines them, newest first (the last 200). Sampled under heavy load; the counts of what was skipped are shown above.</p>
  <div class="table-wrap"><table id="live-events"><thead><tr><th>Received (your time)</th><th>Verdict</th><th>Event</th><th>Person</th><th>Source</th><th>Plan</th><th>Violations</th></tr></thead><tbody></tbody></table></div>
  </section>
</main>
<script src="/dashboard/live.js" defer></script>
</body>
</html>`;
}
