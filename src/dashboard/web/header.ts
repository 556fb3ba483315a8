/**
 * The header every page shares: the range form (presets and dates, mirrored in the URL), the
 * range said in words, and the header's height for anchor scrolling.
 */
import { onSearchPopped, writeSearch } from './address.ts';
import { byId, el } from './dom.ts';
import { describeRange, PRESETS, rangeFromSearch, rangeToSearch, type Range } from './range.ts';

const CUSTOM = 'custom';

/** Keeps anchors (#funnels…) below the sticky header, whatever height it wraps to. */
function trackHeaderHeight(): void {
  const header = byId('top');
  const set = () => document.documentElement.style.setProperty('--top-h', `${Math.ceil(header.getBoundingClientRect().height) + 8}px`);
  set();
  new ResizeObserver(set).observe(header);
}

/**
 * Wires the range form. `onChange` runs with the range after each change, and after Back or
 * Forward (the page then re-reads its own parameters too); the URL (keeping any other
 * parameter) always says the range shown: a change is a new history entry.
 */
export function setUpHeader(onChange: (range: Range) => void): Range {
  trackHeaderHeight();
  // The server writes the project time zone into the page: presets and "today" follow it.
  const zone = document.body.dataset.timeZone || 'UTC';
  const form = byId<HTMLFormElement>('range');
  const preset = byId<HTMLSelectElement>('preset');
  const from = byId<HTMLInputElement>('from');
  const to = byId<HTMLInputElement>('to');
  const text = byId('range-text');
  preset.replaceChildren(...PRESETS.map((p) => el('option', { value: p.id }, p.label)), el('option', { value: CUSTOM }, 'Custom dates'));

  const showForm = (range: Range) => {
    preset.value = range.preset ?? CUSTOM;
    from.value = range.from;
    to.value = range.to;
    text.textContent = `${range.refused ? `Not the range asked for: ${range.refused}. ` : ''}${describeRange(range, Date.now(), zone)}`;
    text.classList.toggle('refused', range.refused !== undefined);
  };
  const show = (range: Range, mode: 'push' | 'replace') => {
    showForm(range);
    writeSearch(rangeToSearch(range, new URLSearchParams(window.location.search)), mode);
  };
  const apply = (range: Range) => {
    show(range, 'push');
    onChange(range);
  };
  // Back and Forward: the entry's range, and the page re-reads the rest of its address.
  onSearchPopped(() => {
    const range = rangeFromSearch(window.location.search, Date.now(), zone);
    showForm(range);
    onChange(range);
  });
  preset.addEventListener('change', () => {
    if (preset.value !== CUSTOM) apply(rangeFromSearch(`?range=${encodeURIComponent(preset.value)}`, Date.now(), zone));
  });
  // Editing a date makes the range custom; Apply (or Enter) loads it.
  for (const input of [from, to]) input.addEventListener('input', () => (preset.value = CUSTOM));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const range = preset.value === CUSTOM ? rangeFromSearch(`?from=${from.value}&to=${to.value}`, Date.now(), zone) : rangeFromSearch(`?range=${preset.value}`, Date.now(), zone);
    apply(range);
  });
  const initial = rangeFromSearch(window.location.search, Date.now(), zone);
  show(initial, 'replace');
  return initial;
}
