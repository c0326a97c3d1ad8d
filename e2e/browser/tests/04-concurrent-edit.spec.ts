import { test, expect } from '../support/fixtures';
import { uid } from '../support/api';
import { integrationRow, openEditDialog, signIn, snap } from '../support/ui';

test('a save over someone else\'s change shows the 412 alert, and Reload loads the new version', async ({ page, context, server, adminApi }, testInfo) => {
  const id = uid();
  const name = `Shared ${id}`;
  const renamedByA = `Shared ${id} renamed by A`;
  // Same origin, another path: the stored token stays valid for it.
  const urlFromB = `https://shared.example.com/b-${id}/`;
  const integration = await adminApi.createJenkins(name, { apiUrl: 'https://shared.example.com/' });

  // Two tabs of the same browser, each signed in (sessionStorage is per tab).
  const tabA = page;
  const tabB = await context.newPage();
  await signIn(tabA, server.adminUser, server.adminPassword);
  await signIn(tabB, server.adminUser, server.adminPassword);

  const dialogA = await openEditDialog(tabA, name);
  const dialogB = await openEditDialog(tabB, name);

  await test.step('tab A renames and saves', async () => {
    await dialogA.getByLabel('Name', { exact: true }).fill(renamedByA);
    await dialogA.getByRole('button', { name: 'Save', exact: true }).click();
    await expect(dialogA).toBeHidden();
    await expect(integrationRow(tabA, renamedByA)).toHaveCount(1);
  });

  await test.step('tab B saves over it and gets the 412 alert', async () => {
    await dialogB.getByLabel('Jenkins URL', { exact: true }).fill(urlFromB);
    const answer = tabB.waitForResponse((r) => r.url().includes(`/api/v1/integrations/${integration.id}`) && r.request().method() === 'PATCH');
    await dialogB.getByRole('button', { name: 'Save', exact: true }).click();
    expect((await answer).status()).toBe(412);
    const alert = dialogB.getByRole('alert').filter({ hasText: 'changed' });
    await expect(alert).toBeVisible();
    await expect(alert.getByRole('button', { name: 'Reload', exact: true })).toBeVisible();
    await snap(tabB, testInfo, 'dialog-412');
    // Nothing of B's was written.
    const current = (await adminApi.getIntegration(integration.id)).body;
    expect(current.name).toBe(renamedByA);
    expect(current.urls.apiUrl).toBe('https://shared.example.com/');
  });

  await test.step('Reload loads the new name into the dialog; saving then works', async () => {
    const dialog = tabB.getByRole('dialog');
    await dialog.getByRole('button', { name: 'Reload', exact: true }).click();
    await expect(dialog.getByLabel('Name', { exact: true })).toHaveValue(renamedByA);
    await expect(dialog.getByRole('alert').filter({ hasText: 'changed' })).toHaveCount(0);
    await dialog.getByLabel('Jenkins URL', { exact: true }).fill(urlFromB);
    await dialog.getByRole('button', { name: 'Save', exact: true }).click();
    await expect(dialog).toBeHidden();
    await expect(integrationRow(tabB, renamedByA)).toContainText(urlFromB);
    const current = (await adminApi.getIntegration(integration.id)).body;
    expect(current.name).toBe(renamedByA);
    expect(current.urls.apiUrl).toBe(urlFromB);
  });
});
