/**
 * The address bar, written by the pages' own changes: a user's change is a new history entry
 * (Back steps through them), normalising the address on load replaces the entry. A popstate
 * that changes the query (not an anchor jump, which only changes the hash) is handed back to the
 * page so it shows that entry.
 */
let written = window.location.search;

export function writeSearch(params: URLSearchParams, mode: 'push' | 'replace'): void {
  const search = `?${params.toString()}`;
  // Re-applying what is shown adds no entry: Back would seem to do nothing.
  if (mode === 'push' && search === window.location.search) return;
  const url = `${window.location.pathname}${search}${window.location.hash}`;
  if (mode === 'push') history.pushState(null, '', url);
  else history.replaceState(null, '', url);
  written = window.location.search;
}

export function onSearchPopped(handler: () => void): void {
  window.addEventListener('popstate', () => {
    if (window.location.search === written) return;
    written = window.location.search;
    handler();
  });
}
