import type { Page } from '@playwright/test';
import { test, expect } from '../support/fixtures';
import { uid } from '../support/api';
import { SESSION_ENDED, SESSION_KEY, readSession, signIn, snap } from '../support/ui';

async function expectSignInWithSessionEnded(page: Page): Promise<void> {
  await expect(page.getByRole('heading', { level: 1, name: 'Sign in' })).toBeVisible();
  await expect(page.getByRole('alert').filter({ hasText: SESSION_ENDED })).toBeVisible();
  await expect(page.getByLabel('User name', { exact: true })).toBeEditable();
  await expect(page.getByRole('button', { name: 'Sign in', exact: true })).toBeEnabled();
  expect(await readSession(page), 'the session was cleared').toBeNull();
}

test('a reload keeps the user signed in; Sign out returns to sign-in', async ({ page, server }, testInfo) => {
  await signIn(page, server.adminUser, server.adminPassword);
  await page.reload();
  await expect(page.getByRole('heading', { level: 1, name: 'Integrations' })).toBeVisible();
  await expect(page.locator('header')).toContainText(server.adminUser);
  expect((await readSession(page))?.user.username).toBe(server.adminUser);

  await page.locator('header').getByRole('button', { name: 'Sign out', exact: true }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Sign in' })).toBeVisible();
  await expect(page).toHaveURL(/\/login/);
  expect(await readSession(page)).toBeNull();
  await snap(page, testInfo, 'signed-out');
  // Signed out means signed out: a deep link goes back to sign-in.
  await page.goto('/integrations');
  await expect(page.getByRole('heading', { level: 1, name: 'Sign in' })).toBeVisible();
});

test('a user disabled by an admin is returned to sign-in with "Your session has ended"', async ({ page, adminApi }, testInfo) => {
  const id = uid();
  const username = `revoked-${id}`;
  const password = `revoked password ${id}`;
  const user = await adminApi.createUser(username, password, 'operator');
  await signIn(page, username, password);
  await adminApi.updateUser(user.id, { disabled: true });
  await page.reload();
  await expectSignInWithSessionEnded(page);
  await snap(page, testInfo, 'session-ended-disabled');
});

test('a garbage token in sessionStorage returns to sign-in with "Your session has ended"', async ({ page, server }, testInfo) => {
  await signIn(page, server.adminUser, server.adminPassword);
  await page.evaluate((key) => {
    const session = JSON.parse(window.sessionStorage.getItem(key)!);
    session.access_token = 'garbage.garbage.garbage';
    window.sessionStorage.setItem(key, JSON.stringify(session));
  }, SESSION_KEY);
  await page.reload();
  await expectSignInWithSessionEnded(page);
  await snap(page, testInfo, 'session-ended-garbage');
  // And the sign-in form still works.
  await signIn(page, server.adminUser, server.adminPassword);
});
