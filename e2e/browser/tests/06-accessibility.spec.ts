import { test, expect } from '../support/fixtures';
import { uid } from '../support/api';
import { integrationRow, navigate, openAddDialog, seriousAxeViolations, signIn, snap } from '../support/ui';

// axe is injected as a script tag: let it in whatever Content-Security-Policy the app sends.
test.use({ bypassCSP: true });

test('axe finds no serious or critical violation on any page or the dialog', async ({ page, server, adminApi }, testInfo) => {
  const name = `Accessible ${uid()}`;
  await adminApi.createJenkins(name);
  const found: Record<string, string[]> = {};

  await test.step('sign-in page', async () => {
    await page.goto('/login');
    await expect(page.getByRole('heading', { level: 1, name: 'Sign in' })).toBeVisible();
    await snap(page, testInfo, 'sign-in');
    found['sign-in'] = await seriousAxeViolations(page);
  });

  await test.step('integrations', async () => {
    await signIn(page, server.adminUser, server.adminPassword);
    await expect(integrationRow(page, name)).toHaveCount(1);
    await snap(page, testInfo, 'integrations');
    found['integrations'] = await seriousAxeViolations(page);
  });

  await test.step('the open Add dialog', async () => {
    await openAddDialog(page);
    await snap(page, testInfo, 'add-dialog');
    found['add dialog'] = await seriousAxeViolations(page);
    await page.keyboard.press('Escape');
  });

  await test.step('users', async () => {
    await navigate(page, 'Administration', 'Users');
    await expect(page.getByRole('table')).toBeVisible();
    await snap(page, testInfo, 'users');
    found['users'] = await seriousAxeViolations(page);
  });

  await test.step('tools', async () => {
    await navigate(page, 'Administration', 'Tools');
    await expect(page.getByRole('heading', { level: 2, name: 'Jenkins' })).toBeVisible();
    await snap(page, testInfo, 'tools');
    found['tools'] = await seriousAxeViolations(page);
  });

  await testInfo.attach('axe-serious-violations.json', { body: JSON.stringify(found, null, 2), contentType: 'application/json' });
  expect(found).toEqual({ 'sign-in': [], integrations: [], 'add dialog': [], users: [], tools: [] });
});
