import AxeBuilder from '@axe-core/playwright';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Verdict } from '../gen/tongxing/api/v1/api.js';
import { entityProfile, sanction, usccFor } from '../federation/testing/records.js';
import { readCredential } from './access/credential.js';
import { accessClient } from './api/access.js';
import { connectApi, type ApiClient } from './api/client.js';
import { ok } from './cli/testing.js';
import { grantConsoleOperator } from './console/operators.js';
import { launchChromium } from './console/testing-browser.js';
import { startLocalAlliance, type LocalAlliance } from './local-alliance.js';

// The operator console in Debian's Chromium against three real node processes:
// an operator signs in at Kunming, sees every member green, watches a company
// while Guiyang sanctions it, issues and lifts a sanction, approves Guiyang's
// proposal, imports a file with a bad row, and a clerk without the scope is
// refused. Every test leaves a screenshot in reports/console/, and the pages
// pass an axe-core check. One alliance, one browser, one page.

const screenshots = join(process.cwd(), 'reports', 'console');
/** Waits for the page's live updates: the console polls every 2 s and gossip takes a round or two. */
const liveMs = 20_000;

let alliance: LocalAlliance;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let apis: ApiClient[];
let consoleUrl: string;
const tokens: Record<string, string> = {};
const uscc = usccFor(20261201);

async function signIn(as: 'admin' | 'clerk', operator: string) {
  await page.goto(consoleUrl);
  await page.locator('#token').fill(tokens[as]!);
  await page.locator('#operator').fill(operator);
  await page.locator('[data-test=sign-in]').click();
  await page.locator('[data-test=who]').filter({ hasText: operator }).waitFor();
}

const go = async (name: string) => {
  await page.locator(`[data-test=nav-${name}]`).click();
};


const auditAtKunming = async () => {
  const client = accessClient(alliance.cities[0]!.apiAddress);
  try {
    return (await client.audit({ client: '', sinceMs: 0n, limit: 0 })).records;
  } finally {
    client.close();
  }
};

beforeAll(async () => {
  mkdirSync(screenshots, { recursive: true });
  alliance = await startLocalAlliance({ cities: 3, beaconIntervalMs: 1000 });
  apis = alliance.cities.map((c) => connectApi(c.apiAddress));
  const kunming = alliance.cities[0]!;
  tokens.admin = await grantConsoleOperator({
    node: kunming.apiAddress,
    name: 'console-admin',
    scopes: ['check', 'register', 'sanction', 'experts', 'evaluation', 'governance', 'operate'],
    approverKeyFile: kunming.keyFile,
  });
  tokens.clerk = await grantConsoleOperator({ node: kunming.apiAddress, name: 'console-clerk', scopes: ['check', 'register'] });
  consoleUrl = `${readCredential(join(kunming.dataDir, 'admin.credential')).http}/console/`;
  await apis[0]!.registerEntity(entityProfile(uscc, '滇池路桥建设有限公司'));
  browser = await launchChromium();
  // The node's API certificate is its own (pinned by clients; an operator's browser is told to trust it once).
  context = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'zh-CN' });
  page = await context.newPage();
}, 90_000);

// A screenshot per test, named after it, also when it failed.
afterEach(async (context) => {
  const name = context.task.name.replace(/[^a-z0-9]+/gi, '-').replace(/^-|-$/g, '').toLowerCase();
  await page?.screenshot({ path: join(screenshots, `${name}.png`), fullPage: true });
});

afterAll(async () => {
  await browser?.close();
  for (const api of apis ?? []) api.close();
  await alliance?.stop();
});

describe('the operator console', () => {
  it('signs in with a client token and shows every member green', async () => {
    await signIn('admin', '张三');
    for (const city of ['Kunming', 'Guiyang', 'Nanning']) {
      await page.locator(`[data-test=freshness-${city}][data-colour=green]`).waitFor({ timeout: liveMs });
    }
    expect(await page.locator('[data-test=epoch]').textContent()).toBe('0'); // the genesis
    await page.getByText('English', { exact: true }).click();
    await page.getByText('Entries behind').waitFor();
    await page.getByText('中文', { exact: true }).click();
    await page.getByText('落后条目').waitFor();
  });

  it('shows a sanction issued at another city without a reload', async () => {
    await go('lookup');
    await page.locator('#lookup-query').fill(uscc);
    await page.locator('[data-test=lookup-submit]').click();
    await page.locator('[data-test=verdict][data-verdict=VERDICT_CLEAR]').waitFor({ timeout: liveMs });
    await page.evaluate(() => ((window as unknown as { loaded: string }).loaded = 'before'));
    const sanctionId = 'GY-2026-00001';
    await apis[1]!.issueSanction(sanction(sanctionId, uscc, Date.now() - 1000));
    await page.locator(`[data-test=sanction-${sanctionId}]`).waitFor({ timeout: liveMs });
    await page.locator('[data-test=verdict][data-verdict=VERDICT_RESTRICTED]').waitFor();
    const row = await page.locator('[data-test=sanctions] tbody tr').first().textContent();
    expect(row).toContain('Guiyang');
    expect(await page.evaluate(() => (window as unknown as { loaded?: string }).loaded)).toBe('before'); // the same document: no reload
  });

  it('issues and lifts a sanction, audited with the operator', async () => {
    await go('work');
    const sanctionId = 'KM-2026-00007';
    await page.locator('#issue-id').fill(sanctionId);
    await page.locator('#issue-uscc').fill(uscc);
    await page.locator('#issue-grounds').fill('串通投标');
    await page.locator('#issue-authority').fill('昆明市发展和改革委员会');
    await page.locator('#issue-document').fill('昆发改〔2026〕7号');
    await page.locator('[data-test=issue-submit]').click();
    await page.locator('[data-test=issue-result]').waitFor();
    const issued = await apis[0]!.checkSanctions(uscc);
    expect(issued.sanctions.map((s) => s.sanction?.sanctionId)).toContain(sanctionId);
    await page.locator('#lift-id').fill(sanctionId);
    await page.locator('#lift-explanation').fill('信用修复完成');
    await page.locator('[data-test=lift-submit]').click();
    await page.locator('[data-test=lift-result]').waitFor();
    const lifted = await apis[0]!.checkSanctions(uscc);
    expect(lifted.sanctions.map((s) => s.sanction?.sanctionId)).not.toContain(sanctionId);
    const audit = await auditAtKunming();
    for (const method of ['IssueSanction', 'LiftSanction']) {
      expect(audit).toContainEqual(expect.objectContaining({ client: 'console-admin', operator: '张三', method: `tongxing.api.v1.SanctionService/${method}`, outcome: 'ok', transport: 'http' }));
    }
  });

  it("approves another city's proposal with one click", async () => {
    const guiyang = alliance.cities[1]!;
    const { proposalHash } = JSON.parse(await ok('alliance', 'propose', 'quorum', '3', '--reason', '三城一致', '--node', guiyang.apiAddress, '--json')) as { proposalHash: string };
    const key = proposalHash.slice(0, 12);
    await go('governance');
    await page.locator(`[data-test=approve-${key}]`).waitFor({ timeout: liveMs });
    await page.locator('[data-test=approver-key]').setInputFiles(alliance.cities[0]!.keyFile);
    await page.locator(`[data-test=approve-${key}]:not([disabled])`).click();
    await page.locator(`[data-test=state-${key}]`).filter({ hasText: '已生效' }).waitFor({ timeout: liveMs });
    const audit = await auditAtKunming();
    expect(audit).toContainEqual(expect.objectContaining({ operator: '张三', method: 'tongxing.api.v1.GovernanceService/Approve', outcome: 'ok', subject: proposalHash }));
  });

  it("shows an import's bad row against the row, and writes nothing", async () => {
    const good = usccFor(20261202);
    const file = join(alliance.dir, 'entities-bad-row.json');
    writeFileSync(file, JSON.stringify({ DATA: [
      { LEGAL_CODE: good, LEGAL_NAME: '春城工程咨询有限公司', LEGAL_ROLE: '投标人', REGION_CODE: '530100' },
      { LEGAL_CODE: '91530100MA6K3Q7D4X', LEGAL_NAME: '校验位错误有限公司', LEGAL_ROLE: '投标人', REGION_CODE: '530100' },
    ] }));
    await go('work');
    await page.getByRole('tab', { name: '批量导入' }).click();
    await page.locator('[data-test=import-file]').setInputFiles(file);
    await page.locator('[data-test=import-submit]').click();
    const error = page.locator('[data-test=row-error-1]');
    await error.waitFor();
    expect(await error.textContent()).toContain('LEGAL_CODE');
    expect(await page.locator('[data-test=row-error-0]').count()).toBe(0);
    expect((await apis[0]!.getEntity(good)).found).toBe(false);
  });

  it('passes an automated accessibility check (labels, keyboard, contrast)', async () => {
    await page.emulateMedia({ reducedMotion: 'reduce' });
    // Each page checked once its answers are on screen.
    const settled: Record<string, string> = { overview: '[data-test=members] tbody tr', lookup: '#lookup-query', work: '#issue-id', governance: '[data-test=pending-proposals]', operations: '[data-test=clients] tbody tr' };
    for (const [name, selector] of Object.entries(settled)) {
      await go(name);
      await page.locator(selector).first().waitFor();
      const { violations } = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa']).analyze();
      expect(violations.map((v) => `${name}: ${v.id} (${v.nodes.length}): ${v.nodes[0]?.target.join(' ')}: ${v.nodes[0]?.failureSummary}`)).toEqual([]);
    }
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.tagName)).not.toBe('BODY');
  });

  it('refuses an operator without the scope, and says which', async () => {
    await page.locator('text=退出').click();
    await signIn('clerk', '李四');
    await go('work');
    await expect(page.locator('[data-test=issue-submit]').isDisabled()).resolves.toBe(true);
    expect(await page.locator('[data-scope=sanction] [data-test=needs-scope]').first().textContent()).toContain('sanction');
    // The clerk may import (register) but not sanctions: the node refuses, and the console shows its words.
    const file = join(alliance.dir, 'sanctions.json');
    writeFileSync(file, JSON.stringify([{ BLACKLIST_CODE: 'KM-2026-00099', BODY_NAME: '滇池路桥建设有限公司', BODY_CODE: uscc, BODY_TYPE: 'entity',
      RECORD_REASON: '围标', RECORD_DATE: '2026-03-01', GOVERNMENT: '昆明市发改委', DOCUMENT_CODE: 'X-99', CONFINED_ACTION: '禁止参与投标', CONFINED_START: '2026-03-01', CONFINED_END: '2027-03-01' }]));
    await page.getByRole('tab', { name: '批量导入' }).click();
    await page.locator('[data-test=import-kind]').click();
    await page.getByRole('option', { name: '失信惩戒' }).click();
    await page.locator('[data-test=import-file]').setInputFiles(file);
    await page.locator('[data-test=import-submit]').click();
    const refusal = page.locator('[data-test=refusal]').filter({ hasText: 'PERMISSION_DENIED' });
    await refusal.waitFor();
    expect(await refusal.textContent()).toContain('needs the scope sanction');
    expect((await apis[0]!.checkSanctions(uscc)).verdict).toBe(Verdict.VERDICT_RESTRICTED); // Guiyang's only
    const audit = await auditAtKunming();
    expect(audit).toContainEqual(expect.objectContaining({ client: 'console-clerk', operator: '李四', outcome: 'PERMISSION_DENIED', method: 'tongxing.api.v1.TransferService/StageImport' }));
  });
});
