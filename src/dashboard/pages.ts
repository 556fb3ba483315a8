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

export function loginPage(failed: boolean): string {
  return `${head('Balise · sign in')}
<body class="login">
<main class="login-card">
  <h1>Balise</h1>
  <p>Product analytics dashboard. Sign in with the admin token (<code>BALISE_ADMIN_TOKEN</code>).</p>
  ${failed ? '<p class="error" role="alert" id="login-error">That token is not valid.</p>' : ''}
  <form method="post" action="/login">
    <label for="token">Admin token</label>
    <input id="token" name="token" type="password" autocomplete="current-password" required autofocus${failed ? ' aria-describedby="login-error" aria-invalid="true"' : ''}>
    <button type="submit">Sign in</button>
  </form>
</main>
</body>
</html>`;
}

export function appPage(): string {
  return `${head('Balise · dashboard')}
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="top">
  <h1>Balise</h1>
  <nav aria-label="Sections">
    <a href="#kpis">KPIs</a><a href="#funnels">Funnels</a><a href="#trends">Trends</a><a href="#data-health">Data health</a><a href="#pipeline">Pipeline</a>
  </nav>
  <form id="range" class="range" aria-label="Date range">
    <label for="from">From</label><input id="from" name="from" type="date">
    <label for="to">To</label><input id="to" name="to" type="date">
    <button type="submit">Apply</button>
  </form>
  <form method="post" action="/logout"><button type="submit" class="secondary">Sign out</button></form>
</header>
<p id="status" class="status" role="status" aria-live="polite"></p>
<main id="main" tabindex="-1">
  <section id="kpis" aria-labelledby="kpis-h"><h2 id="kpis-h">KPIs</h2><div class="tiles" id="kpi-tiles"></div></section>
  <section id="funnels" aria-labelledby="funnels-h"><h2 id="funnels-h">Funnels</h2><div id="funnel-list"></div></section>
  <section id="trends" aria-labelledby="trends-h"><h2 id="trends-h">Event trends</h2><div id="trends-body"></div></section>
  <section id="data-health" aria-labelledby="health-h"><h2 id="health-h">Data health</h2><div id="health-body"></div></section>
  <section id="pipeline" aria-labelledby="pipeline-h"><h2 id="pipeline-h">Pipeline health</h2><div id="pipeline-body"></div></section>
  <section id="alerts" aria-labelledby="alerts-h"><h2 id="alerts-h">Alerts</h2><div id="alerts-body"></div></section>
</main>
<script src="/dashboard/app.js" defer></script>
</body>
</html>`;
}
