import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { entityProfile, usccFor } from '../federation/testing/records.js';
import { readCredential } from '../node/access/credential.js';
import { connectApi } from '../node/api/client.js';
import { grantConsoleOperator } from '../node/console/operators.js';
import { launchChromium } from '../node/console/testing-browser.js';
import { startLocalAlliance } from '../node/local-alliance.js';

// The operator console in headless Chromium on loopback, against a real node
// process: what its first load transfers (compressed, as the node serves it, headers
// included) and how long until the sign-in form takes input, each from a fresh
// browser context (nothing cached); then a company look-up, from the click to the
// verdict on screen. Medians of several runs.

const loadRuns = 5;
const lookupRuns = 10;
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

export async function consoleFigures(): Promise<Record<string, number>> {
  const alliance = await startLocalAlliance({ cities: 1 });
  let browser: Browser | undefined;
  const api = connectApi(alliance.cities[0]!.apiAddress);
  try {
    const city = alliance.cities[0]!;
    const url = `${readCredential(join(city.dataDir, 'admin.credential')).http}/console/`;
    const token = await grantConsoleOperator({ node: city.apiAddress, name: 'bench-console', scopes: ['check', 'operate'] });
    const usccs = Array.from({ length: lookupRuns }, (_, i) => usccFor(30_000 + i));
    for (const uscc of usccs) await api.registerEntity(entityProfile(uscc));
    browser = await launchChromium();

    const bytes: number[] = [];
    const interactive: number[] = [];
    for (let run = 0; run < loadRuns; run++) {
      const context = await browser.newContext({ ignoreHTTPSErrors: true });
      const page = await context.newPage();
      const sizes: Array<Promise<number>> = [];
      page.on('requestfinished', (request) => sizes.push(request.sizes().then((s) => s.responseBodySize + s.responseHeadersSize)));
      const startMs = performance.now();
      await page.goto(url);
      await page.locator('#token').waitFor({ state: 'visible' });
      interactive.push(performance.now() - startMs);
      bytes.push((await Promise.all(sizes)).reduce((a, b) => a + b, 0));
      await context.close();
    }

    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    const page = await context.newPage();
    await page.goto(url);
    await page.locator('#token').fill(token);
    await page.locator('#operator').fill('bench');
    await page.locator('[data-test=sign-in]').click();
    await page.locator('[data-test=nav-lookup]').click();
    const lookups: number[] = [];
    for (const uscc of usccs) {
      await page.locator('#lookup-query').fill(uscc);
      const startMs = performance.now();
      await page.locator('[data-test=lookup-submit]').click();
      await page.locator(`h2:has-text("${uscc}")`).waitFor();
      await page.locator('[data-test=verdict]').waitFor();
      lookups.push(performance.now() - startMs);
    }
    await context.close();
    return {
      console_first_load_bytes: median(bytes),
      console_time_to_interactive_ms: median(interactive),
      console_lookup_ms_p50: median(lookups),
    };
  } finally {
    api.close();
    await browser?.close();
    await alliance.stop();
  }
}
