import { test, expect } from '../support/fixtures';
import { secretToken, uid } from '../support/api';
import { expectFieldError, expectNoFieldError, fillJenkins, openAddDialog, signIn, snap, trySave } from '../support/ui';

test.beforeEach(async ({ page, server }) => {
  await signIn(page, server.adminUser, server.adminPassword);
});

test('a URL that is not a URL is shown at the Jenkins URL field and nothing is saved', async ({ page, adminApi }, testInfo) => {
  const name = `Bad URL ${uid()}`;
  const before = (await adminApi.listIntegrations()).length;
  const dialog = await openAddDialog(page);
  await fillJenkins(dialog, { name, apiUrl: 'not a url', username: 'alice', apiToken: secretToken() });
  const field = dialog.getByLabel('Jenkins URL', { exact: true });
  await field.blur();
  await trySave(dialog);
  await expectFieldError(field, /URL/i);
  await expectNoFieldError(dialog.getByLabel('Name', { exact: true }));
  await expect(dialog).toBeVisible();
  await snap(page, testInfo, 'dialog-bad-url');
  expect(await adminApi.integrationsNamed(name)).toEqual([]);
  expect((await adminApi.listIntegrations()).length).toBe(before);
});

test('an empty API token is shown at the API token field and nothing is saved', async ({ page, adminApi }, testInfo) => {
  const name = `No token ${uid()}`;
  const before = (await adminApi.listIntegrations()).length;
  const dialog = await openAddDialog(page);
  await fillJenkins(dialog, { name, apiUrl: 'https://jenkins.example.com/', username: 'alice', apiToken: 'x' });
  const field = dialog.getByLabel('API token', { exact: true });
  await field.fill('');
  await field.blur();
  await trySave(dialog);
  await expectFieldError(field, /required|empty/i);
  await expectNoFieldError(dialog.getByLabel('Jenkins URL', { exact: true }));
  await expect(dialog).toBeVisible();
  await snap(page, testInfo, 'dialog-missing-token');
  expect(await adminApi.integrationsNamed(name)).toEqual([]);
  expect((await adminApi.listIntegrations()).length).toBe(before);
});

test('a name already taken (409) is shown at the Name field and nothing is saved', async ({ page, adminApi }, testInfo) => {
  const name = `Taken ${uid()}`;
  const existing = await adminApi.createJenkins(name, { apiUrl: 'https://first.example.com/' });
  await page.reload();
  await expect(page.getByRole('heading', { level: 1, name: 'Integrations' })).toBeVisible();
  const dialog = await openAddDialog(page);
  // Names are compared ignoring case: the server answers 409 for another case too.
  await fillJenkins(dialog, { name: name.toUpperCase(), apiUrl: 'https://second.example.com/', username: 'bob', apiToken: secretToken() });
  const conflict = page.waitForResponse((r) => r.url().endsWith('/api/v1/integrations') && r.request().method() === 'POST');
  await dialog.getByRole('button', { name: 'Save', exact: true }).click();
  expect((await conflict).status()).toBe(409);
  await expectFieldError(dialog.getByLabel('Name', { exact: true }), /already|taken|used|exists/i);
  await expect(dialog).toBeVisible();
  await snap(page, testInfo, 'dialog-name-taken');
  const same = await adminApi.integrationsNamed(name);
  expect(same.map((i) => i.id)).toEqual([existing.id]);
  expect(same[0].urls.apiUrl).toBe('https://first.example.com/');
});
