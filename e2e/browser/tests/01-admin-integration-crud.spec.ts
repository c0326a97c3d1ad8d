import { test, expect } from '../support/fixtures';
import { secretToken, uid } from '../support/api';
import {
  addButton,
  fillJenkins,
  integrationRow,
  navigate,
  openAddDialog,
  openEditDialog,
  signIn,
  snap,
  storageDump,
} from '../support/ui';

test('admin adds, edits and deletes a Jenkins integration; the API token never reaches the page', async ({ page, server, adminApi }, testInfo) => {
  const id = uid();
  const name = `Jenkins ${id}`;
  const renamed = `Jenkins ${id} (production)`;
  const token = secretToken();
  const apiUrl = `https://jenkins-${id}.example.com/`;
  // A new path on the same origin keeps the stored token.
  const newApiUrl = `https://jenkins-${id}.example.com/jenkins/`;
  const otherOrigin = `https://ci-${id}.example.com/`;
  const webUrl = `https://jenkins-${id}.example.com/web/`;

  // Every response body the page receives, to search for the token at the end.
  const bodies: Promise<string>[] = [];
  page.on('response', (response) => {
    bodies.push(
      (async () => {
        const headers = JSON.stringify(await response.allHeaders().catch(() => ({})));
        const body = await response.body().then((b) => b.toString('latin1')).catch(() => '');
        return `${response.url()}\n${headers}\n${body}`;
      })(),
    );
  });

  /** The token is in no page content, no storage and no response received so far. */
  const expectTokenNowhere = async () => {
    expect(await page.content(), 'the token in the DOM').not.toContain(token);
    expect(await storageDump(page), 'the token in localStorage/sessionStorage').not.toContain(token);
    const received = await Promise.all(bodies);
    expect(received.length).toBeGreaterThan(0);
    const leaks = received.filter((b) => b.includes(token)).map((b) => b.split('\n')[0]);
    expect(leaks, 'responses that contain the token').toEqual([]);
  };

  await test.step('sign in and open CI/CD → Integrations', async () => {
    await signIn(page, server.adminUser, server.adminPassword);
    await snap(page, testInfo, 'integrations');
    await navigate(page, 'CI/CD', 'Integrations');
  });

  await test.step('add: Jenkins with an extra URL row and credentials', async () => {
    const dialog = await openAddDialog(page);
    await fillJenkins(dialog, { name, apiUrl, username: 'alice', apiToken: token });
    await dialog.getByRole('button', { name: 'Add URL', exact: true }).click();
    await dialog.getByLabel('Key for extra URL 1', { exact: true }).fill('webUrl');
    await dialog.getByLabel('Extra URL 1', { exact: true }).fill(webUrl);
    await expect(dialog.getByRole('button', { name: 'Remove extra URL 1', exact: true })).toBeVisible();
    await snap(page, testInfo, 'add-dialog');
    await dialog.getByRole('button', { name: 'Save', exact: true }).click();
    await expect(dialog).toBeHidden();
    await expect(page.getByRole('status').filter({ hasText: `Saved “${name}”` })).toBeVisible();
    const row = integrationRow(page, name);
    await expect(row).toHaveCount(1);
    await expect(row).toContainText(apiUrl);
    await expect(row).toContainText('Jenkins');
    await expect(addButton(page)).toBeVisible();

    const [saved] = await adminApi.integrationsNamed(name);
    expect(saved, 'the integration exists on the server').toBeTruthy();
    expect(saved.urls).toEqual({ apiUrl, webUrl });
    expect(saved.credentials.username).toBe('alice');
    expect(saved.credentials.apiToken).toMatchObject({ configured: true });
    await expectTokenNowhere();
  });

  await test.step('edit: rename and change the Jenkins URL', async () => {
    const dialog = await openEditDialog(page, name);
    await expect(dialog.getByLabel('Tool', { exact: true })).toBeDisabled();
    await expect(dialog.getByLabel('Name', { exact: true })).toHaveValue(name);
    await expect(dialog.getByLabel('Key for extra URL 1', { exact: true })).toHaveValue('webUrl');
    await expect(dialog.getByLabel('Extra URL 1', { exact: true })).toHaveValue(webUrl);
    // The stored token shows as Configured, with no input and never its value.
    await expect(dialog.getByText(/\bConfigured\b/).first()).toBeVisible();
    await expect(dialog.getByRole('button', { name: 'Replace API token', exact: true })).toBeVisible();
    await expect(dialog.getByLabel('API token', { exact: true })).toHaveCount(0);
    const values = await dialog.evaluate((d) => Array.from(d.querySelectorAll('input, textarea, select')).map((e) => (e as HTMLInputElement).value));
    expect(values).not.toContain(token);
    await snap(page, testInfo, 'edit-dialog');

    await dialog.getByLabel('Name', { exact: true }).fill(renamed);
    await dialog.getByLabel('Jenkins URL', { exact: true }).fill(newApiUrl);
    await dialog.getByRole('button', { name: 'Save', exact: true }).click();
    await expect(dialog).toBeHidden();
    await expect(page.getByRole('status').filter({ hasText: `Saved “${renamed}”` })).toBeVisible();
    const row = integrationRow(page, renamed);
    await expect(row).toHaveCount(1);
    await expect(row).toContainText(newApiUrl);
    await expect(integrationRow(page, name)).toHaveCount(0);

    const [saved] = await adminApi.integrationsNamed(renamed);
    expect(saved.urls).toEqual({ apiUrl: newApiUrl, webUrl });
    expect(saved.credentials.apiToken, 'the token was kept').toMatchObject({ configured: true });
  });

  await test.step('the edit dialog of the renamed integration still says Configured', async () => {
    const dialog = await openEditDialog(page, renamed);
    await expect(dialog.getByText(/\bConfigured\b/).first()).toBeVisible();
    await dialog.getByRole('button', { name: 'Cancel', exact: true }).click();
    await expect(dialog).toBeHidden();
  });

  await test.step('pointing it at another host needs the token entered again', async () => {
    const dialog = await openEditDialog(page, renamed);
    await dialog.getByLabel('Jenkins URL', { exact: true }).fill(otherOrigin);
    await dialog.getByRole('button', { name: 'Save', exact: true }).click();
    await expect(dialog.getByText(/enter the API token again/)).toBeVisible();
    await snap(page, testInfo, 'reenter-secret');
    const [unchanged] = await adminApi.integrationsNamed(renamed);
    expect(unchanged.urls.apiUrl, 'nothing saved').toBe(newApiUrl);
    await dialog.getByRole('button', { name: 'Replace API token', exact: true }).click();
    await dialog.getByLabel('API token', { exact: true }).fill(secretToken());
    await dialog.getByRole('button', { name: 'Save', exact: true }).click();
    await expect(dialog).toBeHidden();
    const [moved] = await adminApi.integrationsNamed(renamed);
    expect(moved.urls.apiUrl).toBe(otherOrigin);
  });

  await test.step('the token is nowhere: DOM, storage, responses', expectTokenNowhere);

  await test.step('delete with confirmation', async () => {
    await page.getByRole('button', { name: `Delete ${renamed}`, exact: true }).click();
    const confirm = page.getByRole('alertdialog');
    await expect(confirm).toBeVisible();
    await expect(confirm).toHaveAttribute('aria-modal', 'true');
    await expect(confirm).toContainText(`Delete “${renamed}”?`);
    await snap(page, testInfo, 'delete-confirm');
    await confirm.getByRole('button', { name: 'Delete', exact: true }).click();
    await expect(confirm).toBeHidden();
    await expect(integrationRow(page, renamed)).toHaveCount(0);
    await expect(page.getByRole('status').filter({ hasText: `Deleted “${renamed}”` })).toBeVisible();
    expect(await adminApi.integrationsNamed(renamed)).toEqual([]);
  });
});
