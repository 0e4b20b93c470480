import { chromium, type Browser } from 'playwright-core';

// Debian's Chromium for the console's browser tests and its bench: installed by
// .ci/run (apt-get), never downloaded by Playwright. Headless, and quiet on the
// network: nothing but the pages the tests open.

export const chromiumPath = process.env.TONGXING_CHROMIUM ?? '/usr/bin/chromium';

export const chromiumArgs = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: chromiumPath, args: chromiumArgs, headless: true });
}
