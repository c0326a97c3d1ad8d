import { test, expect } from '../support/fixtures';
import { uid } from '../support/api';
import { navigate, signIn, snap } from '../support/ui';

test.beforeEach(async ({ page, server }) => {
  await signIn(page, server.adminUser, server.adminPassword);
});

test('users: create with a role, change the role, disable', async ({ page, adminApi }, testInfo) => {
  const username = `user-${uid()}`;
  await navigate(page, 'Administration', 'Users');

  await test.step('create as viewer', async () => {
    await page.getByLabel('User name', { exact: true }).fill(username);
    await page.getByLabel('Password', { exact: true }).fill(`password of ${username}`);
    await page.getByLabel('Role', { exact: true }).selectOption('viewer');
    await page.getByRole('button', { name: 'Add user', exact: true }).click();
    const row = page.getByRole('row').filter({ has: page.getByText(username, { exact: true }) });
    await expect(row).toHaveCount(1);
    await expect(page.getByLabel(`Role for ${username}`, { exact: true })).toHaveValue('viewer');
    await snap(page, testInfo, 'users');
    await expect.poll(async () => (await adminApi.findUser(username))?.role).toBe('viewer');
  });

  await test.step('change the role to operator', async () => {
    await page.getByLabel(`Role for ${username}`, { exact: true }).selectOption('operator');
    await expect.poll(async () => (await adminApi.findUser(username))?.role).toBe('operator');
    await expect(page.getByLabel(`Role for ${username}`, { exact: true })).toHaveValue('operator');
  });

  await test.step('disable', async () => {
    await page.getByRole('button', { name: `Disable ${username}`, exact: true }).click();
    await expect(page.getByRole('button', { name: `Enable ${username}`, exact: true })).toBeVisible();
    await expect.poll(async () => (await adminApi.findUser(username))?.disabled).toBe(true);
    await expect((await adminApi.findUser(username))?.role).toBe('operator');
  });
});

test('tools: switch Buildbot off and on', async ({ page, adminApi }, testInfo) => {
  const enabled = async () => (await adminApi.tools()).find((t) => t.id === 'buildbot')?.enabled;
  try {
    await navigate(page, 'Administration', 'Tools');
    const name = 'Enable Buildbot';
    const toggle = page.getByRole('switch', { name, exact: true }).or(page.getByRole('checkbox', { name, exact: true }));
    await expect(toggle).toHaveCount(1);
    await expect(toggle).toBeChecked();
    await snap(page, testInfo, 'tools');

    await toggle.click();
    await expect(toggle).not.toBeChecked();
    await expect.poll(enabled).toBe(false);

    await toggle.click();
    await expect(toggle).toBeChecked();
    await expect.poll(enabled).toBe(true);
    // Jenkins was not touched.
    expect((await adminApi.tools()).find((t) => t.id === 'jenkins')?.enabled).toBe(true);
  } finally {
    if ((await enabled()) === false) await adminApi.setToolEnabled('buildbot', true);
  }
});
