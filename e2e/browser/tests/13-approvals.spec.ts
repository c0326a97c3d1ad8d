import type { Browser, Page } from '@playwright/test';
import { test, expect } from '../support/fixtures';
import { Api, jenkinsSim, uid } from '../support/api';
import { fillJenkins, integrationRow, navigate, openAddDialog, seriousAxeViolations, signIn, snap, tabTo } from '../support/ui';

// axe is injected as a script tag: let it in whatever Content-Security-Policy the app sends.
test.use({ bypassCSP: true });

/** A page of its own (own session) signed in as `username`. */
async function pageOf(browser: Browser, baseURL: string, username: string, password: string): Promise<Page> {
  const context = await browser.newContext({ baseURL });
  const page = await context.newPage();
  await signIn(page, username, password);
  return page;
}

// Prior discussion and approval, the whole way: an operator submits an integration with its
// business need; an administrator comments; the operator revises; a second administrator
// approves; the integration connects and its pipelines appear. The author's own Approve is
// disabled with the reason. The specs before this one run with approval off (the global
// setup); this one switches it on, and off again through a request when it ends.
test('an operator submits an integration for approval; two administrators discuss and approve it', async ({ page, browser, server, adminApi, playwright }, testInfo) => {
  test.setTimeout(180_000);
  const sim = jenkinsSim();
  const suffix = uid();
  const name = `Payments ${suffix}`;
  const renamed = `Payments CI ${suffix}`;
  const operator = `otto${suffix}`;
  const second = `bea${suffix}`;
  const password = `${suffix} password 123`;
  await adminApi.createUser(operator, password, 'operator');
  await adminApi.createUser(second, password, 'admin');
  const on = await adminApi.call('PUT', '/api/v1/approval-policy', { enabled: true, approvals_required: 1, open_days: 14 });
  expect(on.status, on.text).toBe(200);
  const found: Record<string, string[]> = {};

  try {
    let requestUrl = '';
    await test.step('the operator submits a new integration with its business need', async () => {
      await signIn(page, operator, password);
      const dialog = await openAddDialog(page);
      await fillJenkins(dialog, { name, apiUrl: sim.url, username: sim.user, apiToken: sim.token });
      const submit = dialog.getByRole('button', { name: 'Submit for approval', exact: true });
      await expect(submit).toBeVisible();
      await submit.click();
      const why = dialog.getByLabel('Why is it needed?', { exact: true });
      await expect(why).toHaveAttribute('aria-invalid', 'true');
      await why.fill('The payments team deploys from this controller.\nWe want its pipelines here.');
      await snap(page, testInfo, 'submit-for-approval');
      await submit.click();
      await expect(page).toHaveURL(/\/requests\/[0-9a-f-]+$/);
      requestUrl = new URL(page.url()).pathname;
      await expect(page.getByRole('heading', { level: 1, name: `New integration “${name}”` })).toBeVisible();
      await expect(page.getByText('The payments team deploys from this controller.').first()).toBeVisible();
    });

    await test.step("the author's own Approve is disabled with the reason; the page passes axe", async () => {
      const approve = page.getByRole('button', { name: 'Approve', exact: true });
      await expect(approve).toBeDisabled();
      await expect(approve).toHaveAccessibleDescription('You opened this request');
      found['request (author)'] = await seriousAxeViolations(page);
      await navigate(page, 'CI/CD', 'Integrations');
      const row = integrationRow(page, name);
      await expect(row.getByText('Pending approval', { exact: true })).toBeVisible();
      await snap(page, testInfo, 'pending-row');
      await navigate(page, 'CI/CD', 'Requests');
      await expect(page.getByRole('link', { name, exact: true })).toBeVisible();
      found['requests list'] = await seriousAxeViolations(page);
    });

    await test.step('an administrator sees it waiting for review and comments', async () => {
      const admin = await pageOf(browser, server.baseURL, server.adminUser, server.adminPassword);
      const nav = admin.getByRole('navigation', { name: 'Main' });
      const requests = nav.getByRole('link', { name: /^Requests/ });
      await expect(requests).toHaveAccessibleName(/\d+ awaiting your review/);
      await requests.click();
      await expect(admin.getByRole('heading', { level: 1, name: 'Requests' })).toBeVisible();
      await expect(admin.getByRole('button', { name: 'Needs my review', exact: true })).toHaveAttribute('aria-pressed', 'true');
      await admin.getByRole('link', { name, exact: true }).click();
      await expect(admin).toHaveURL(requestUrl);
      await admin.getByLabel('Comment', { exact: true }).fill('Which team owns it?\nPlease name it after them.');
      await admin.getByRole('button', { name: 'Add comment', exact: true }).click();
      await expect(admin.locator('.timeline')).toContainText('Which team owns it?');
      await expect(admin.locator('.timeline')).toContainText(`${server.adminUser} commented`);
      await admin.context().close();
    });

    await test.step('the operator writes a new revision', async () => {
      await page.goto(requestUrl);
      await expect(page.locator('.timeline')).toContainText('Which team owns it?');
      await page.getByText('Write a new revision', { exact: true }).click();
      await page.getByLabel('Name', { exact: true }).fill(renamed);
      await page.getByLabel('Why is it needed?', { exact: true }).fill('The payments team owns and deploys from it.');
      await page.getByRole('button', { name: 'Submit revision', exact: true }).click();
      await expect(page.locator('.timeline')).toContainText('wrote revision 2');
      await expect(page.locator('dl.facts')).toContainText('Revision2');
    });

    await test.step('a second administrator approves it, keyboard only', async () => {
      const bea = await pageOf(browser, server.baseURL, second, password);
      await bea.goto(requestUrl);
      await expect(bea.getByRole('heading', { level: 1, name: `New integration “${renamed}”` })).toBeVisible();
      found['request (reviewer)'] = await seriousAxeViolations(bea);
      const approve = bea.getByRole('button', { name: 'Approve', exact: true });
      await expect(approve).toBeEnabled();
      await tabTo(bea, approve);
      await bea.keyboard.press('Enter');
      await expect(bea.locator('dl.facts')).toContainText('Approved');
      await expect(bea.locator('.timeline')).toContainText(`${second} approved revision 2`);
      await snap(bea, testInfo, 'approved');
      await bea.context().close();
    });

    await test.step('the integration connects and its pipelines appear', async () => {
      await navigate(page, 'CI/CD', 'Integrations');
      const row = integrationRow(page, renamed);
      await expect(row.getByText('Connected', { exact: true })).toBeVisible({ timeout: 30_000 });
      await expect(async () => {
        await page.reload();
        const cells = integrationRow(page, renamed).getByRole('cell');
        expect(Number(await cells.nth(4).innerText())).toBeGreaterThan(0);
      }).toPass({ timeout: 30_000 });
    });
  } finally {
    // Approval off again, through a request the second administrator approves.
    const request = await playwright.request.newContext({ baseURL: server.baseURL });
    const bea = await Api.login(request, second, password);
    const off = await adminApi.call('PUT', '/api/v1/approval-policy', {
      enabled: false, approvals_required: 1, open_days: 14, business_need: 'The other browser specs run without approval.',
    });
    if (off.status === 202) {
      const approved = await bea.call('POST', `/api/v1/change-requests/${off.body.id}/reviews`, { decision: 'approve', revision: off.body.revision });
      expect(approved.status, approved.text).toBe(201);
    }
    await request.dispose();
  }
  await testInfo.attach('axe-serious-violations.json', { body: JSON.stringify(found, null, 2), contentType: 'application/json' });
  expect(found).toEqual({ 'request (author)': [], 'requests list': [], 'request (reviewer)': [] });
});
