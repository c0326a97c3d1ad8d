import { test, expect } from '../support/fixtures';
import { uid } from '../support/api';
import { addButton, integrationRow, integrationsTable, mainNav, readSession, signIn, snap } from '../support/ui';

test('a viewer sees the integrations read-only, and a direct API write is refused with 403', async ({ page, adminApi }, testInfo) => {
  const id = uid();
  const username = `viewer-${id}`;
  const password = `viewer password ${id}`;
  const name = `Viewer sees ${id}`;
  await adminApi.createUser(username, password, 'viewer');
  const integration = await adminApi.createJenkins(name);

  await signIn(page, username, password);
  await expect(integrationRow(page, name)).toHaveCount(1);
  await expect(page.locator('header')).toContainText(username);
  await snap(page, testInfo, 'integrations-viewer');

  await test.step('no write controls and no Administration menu', async () => {
    await expect(addButton(page)).toHaveCount(0);
    await expect(page.getByRole('button', { name: /^Edit / })).toHaveCount(0);
    await expect(page.getByRole('button', { name: /^Delete / })).toHaveCount(0);
    await expect(mainNav(page).getByRole('button', { name: 'Administration', exact: true })).toHaveCount(0);
    await expect(mainNav(page).getByRole('link', { name: 'Users', exact: true })).toHaveCount(0);
    await expect(mainNav(page).getByRole('link', { name: 'Tools', exact: true })).toHaveCount(0);
  });

  await test.step("writes with the viewer's own token get 403", async () => {
    const session = await readSession(page);
    expect(session?.user.role).toBe('viewer');
    const headers = { authorization: `Bearer ${session!.access_token}` };
    const create = await page.request.post('/api/v1/integrations', {
      headers,
      data: { name: `Forbidden ${id}`, tool: 'jenkins', urls: { apiUrl: 'https://x.example.com/' }, credentials: { username: 'a', apiToken: 'b' } },
    });
    expect(create.status()).toBe(403);
    const rename = await page.request.patch(`/api/v1/integrations/${integration.id}`, { headers, data: { name: `Renamed ${id}` } });
    expect(rename.status()).toBe(403);
    const remove = await page.request.delete(`/api/v1/integrations/${integration.id}`, { headers });
    expect(remove.status()).toBe(403);
    expect(await adminApi.integrationsNamed(`Forbidden ${id}`)).toEqual([]);
    expect((await adminApi.getIntegration(integration.id)).body.name).toBe(name);
  });

  await test.step('the page stays usable', async () => {
    await expect(integrationsTable(page)).toBeVisible();
    await expect(integrationRow(page, name)).toHaveCount(1);
    await page.getByLabel('Search integrations').fill(id);
    await expect(integrationRow(page, name)).toHaveCount(1);
    await page.reload();
    await expect(page.getByRole('heading', { level: 1, name: 'Integrations' })).toBeVisible();
    await expect(integrationRow(page, name)).toHaveCount(1);
  });
});
