import { chromium, type Browser } from 'playwright-core';
import { CHROMIUM_ARGS } from '../../sdk/tests/browser-scenarios.ts';

/** The system Chromium, headless, with the flags every browser test of this repository uses. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
}
