/**
 * The one-line snippet's entry (served as /sdk/v<version>/balise.min.js): window.Balise as in
 * the core bundle plus, when loaded with a `data-write-key` attribute, `window.balise` created
 * for the page, sending to the origin the script came from (or `data-host`), with the page view
 * recorded unless `data-page="off"`. Kept out of balise.browser.min.js so the core stays ≤ 3 KB.
 */
import { createBalise } from './browser.ts';

const w = window as unknown as { Balise: { createBalise: typeof createBalise }; balise?: ReturnType<typeof createBalise> };
w.Balise = { createBalise };
const s = document.currentScript as HTMLScriptElement | null;
const d = s && s.dataset;
if (d && d.writeKey) {
  const b = (w.balise = createBalise({ writeKey: d.writeKey, host: d.host || new URL(s.src).origin }));
  if (d.page != 'off') b.page();
}
