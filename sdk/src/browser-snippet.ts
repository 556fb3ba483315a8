/**
 * The one-line snippet's entry (served as /sdk/v<version>/balise.min.js): window.Balise as in
 * the core bundle plus, when loaded with a `data-write-key` attribute, `window.balise` created
 * for the page, sending to where the script came from (its path prefix kept, for a Balise behind
 * a proxy on /some/path; or `data-host`), with the page view recorded unless `data-page="off"`.
 * Calls queued by the README's stub line before this deferred script ran (`balise.q`) are made
 * then, in order, before the page view. `data-consent="pending"` holds everything (nothing stored
 * or sent) until `setConsent('granted')`. Kept out of balise.browser.min.js so the core stays ≤ 3 KB.
 */
import { createBalise } from './browser.ts';
import type { Consent } from './types.ts';

type Api = ReturnType<typeof createBalise>;
const w = window as unknown as { Balise: { createBalise: typeof createBalise }; balise?: Api & { q?: [string, unknown[]][] } };
w.Balise = { createBalise };
const s = document.currentScript as HTMLScriptElement | null;
const d = s && s.dataset;
if (d && d.writeKey) {
  const queued = (w.balise && w.balise.q) || [];
  // data-consent="pending": nothing stored or sent until balise.setConsent('granted') (a consent banner's yes).
  const b = (w.balise = createBalise({ writeKey: d.writeKey, host: d.host || s.src.replace(/\/sdk\/(v[^/]+\/)?balise\.min\.js.*$/, ''), consent: d.consent as Consent | undefined }));
  // Refused: what an earlier visit stored (its ids, its queue) is forgotten too.
  if (d.consent == 'denied') b.setConsent('denied');
  // The queued calls first: an early identify or setConsent applies to the page view too.
  for (const [m, a] of queued) (b as unknown as Record<string, (...x: unknown[]) => void>)[m]?.(...a);
  if (d.page != 'off') b.page();
}
