import type { Locator } from 'playwright-core';
import { expect } from 'vitest';

/** The box of a dashboard table wider than it: it scrolls, and is a named, focusable region. Returns the box. */
export async function expectScrollingRegion(table: Locator): Promise<Locator> {
  const wrap = table.locator('xpath=..');
  expect(await wrap.evaluate((w) => w.scrollWidth > w.clientWidth)).toBe(true);
  expect(await wrap.getAttribute('tabindex')).toBe('0');
  expect(await wrap.getAttribute('role')).toBe('region');
  expect(await wrap.getAttribute('aria-label')).toContain(await table.locator('caption').textContent());
  return wrap;
}
