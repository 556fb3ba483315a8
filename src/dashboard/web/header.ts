/**
 * The header every page shares: the range form (presets and dates, mirrored in the URL), the
 * range said in words, and the header's height for anchor scrolling.
 */
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
 * Wires the range form. `onChange` runs with the range on load and after each change; the URL
 * (history.replaceState, keeping any other parameter) always says the range shown.
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

  const show = (range: Range) => {
    preset.value = range.preset ?? CUSTOM;
    from.value = range.from;
    to.value = range.to;
    text.textContent = `${range.refused ? `Not the range asked for: ${range.refused}. ` : ''}${describeRange(range, Date.now(), zone)}`;
    text.classList.toggle('refused', range.refused !== undefined);
    const params = rangeToSearch(range, new URLSearchParams(window.location.search));
    history.replaceState(null, '', `${window.location.pathname}?${params.toString()}${window.location.hash}`);
  };
  const apply = (range: Range) => {
    show(range);
    onChange(range);
  };
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
  show(initial);
  return initial;
}
