import { execFileSync } from 'node:child_process';
import { test, expect } from '../support/fixtures';
import { secretToken, uid } from '../support/api';
import { navigate, readSession, seriousAxeViolations, signIn, snap } from '../support/ui';

// axe is injected as a script tag: let it in whatever Content-Security-Policy the app sends.
test.use({ bypassCSP: true, permissions: ['clipboard-read', 'clipboard-write'] });

/** `GET path` with curl, as a script would: the status and the parsed body. */
function curl(baseURL: string, path: string, token: string): { status: number; body: any } {
  const out = execFileSync('curl', ['-s', '-w', '\n%{http_code}', '-H', `authorization: Bearer ${token}`, `${baseURL}${path}`], {
    encoding: 'utf8',
  });
  const at = out.lastIndexOf('\n');
  return { status: Number(out.slice(at + 1)), body: JSON.parse(out.slice(0, at)) };
}

const TOKEN = /^sb[ps]_[0-9A-Za-z]{46}$/;

test('a person makes an API token, sees it once, uses it with curl and revokes it', async ({ page, server }, testInfo) => {
  const name = `deploy job ${uid()}`;
  await signIn(page, server.adminUser, server.adminPassword);
  await navigate(page, 'Profile', 'API tokens');
  const form = page.locator('form').filter({ has: page.getByLabel('Token name', { exact: true }) });
  await form.getByLabel('Token name', { exact: true }).fill(name);
  await expect(form.getByRole('checkbox', { name: /^read/ })).toBeChecked();
  await form.getByRole('checkbox', { name: /^trigger/ }).check();
  await form.getByLabel('Expires after', { exact: true }).selectOption('30');
  await form.getByRole('button', { name: 'Create token', exact: true }).click();

  const shown = page.getByLabel('The new token', { exact: true });
  await expect(shown).toBeVisible();
  const token = await shown.inputValue();
  expect(token).toMatch(TOKEN);
  expect(token.startsWith('sbp_')).toBe(true);
  await expect(page.getByText('shown this once', { exact: false })).toBeVisible();
  await page.getByRole('button', { name: 'Copy', exact: true }).click();
  await expect(page.getByText('Copied the token.')).toBeVisible();
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(token);
  await snap(page, testInfo, 'token-created');
  expect(await seriousAxeViolations(page), 'axe on the tokens page').toEqual([]);

  const me = curl(server.baseURL, '/api/v1/auth/me', token);
  expect(me.status).toBe(200);
  expect(me.body.username).toBe(server.adminUser);
  expect(me.body.scopes).toEqual(['read', 'trigger']);
  expect(curl(server.baseURL, '/api/v1/integrations', token).status).toBe(200);

  // Once: after Done, and after a reload, the value is nowhere in the page or its storage.
  await page.getByRole('button', { name: 'Done', exact: true }).click();
  await expect(shown).toHaveCount(0);
  await page.reload();
  await expect(page.getByRole('heading', { level: 1, name: 'API tokens' })).toBeVisible();
  const row = page.getByRole('row').filter({ has: page.getByText(name, { exact: true }) });
  await expect(row.getByText('Active', { exact: true })).toBeVisible();
  await expect(row.getByText('from 127.0.0.1', { exact: false })).toBeVisible();
  expect(await page.content()).not.toContain(token.slice(4));

  await row.getByRole('button', { name: `Revoke ${name}`, exact: true }).click();
  await expect(row.getByText('Revoked', { exact: true })).toBeVisible();
  const after = curl(server.baseURL, '/api/v1/integrations', token);
  expect(after.status).toBe(401);
  expect(after.body.code).toBe('token_revoked');
});

test('an administrator adds a service account and gives it a token', async ({ page, server }, testInfo) => {
  const account = `release-bot-${uid()}`;
  await signIn(page, server.adminUser, server.adminPassword);
  await navigate(page, 'Administration', 'Service accounts');
  await page.getByLabel('Name', { exact: true }).fill(account);
  await page.getByLabel('Role', { exact: true }).selectOption('operator');
  await page.getByRole('button', { name: 'Add service account', exact: true }).click();
  await expect(page.getByRole('heading', { level: 2, name: `Tokens of ${account}` })).toBeVisible();
  const form = page.locator('form').filter({ has: page.getByLabel('Token name', { exact: true }) });
  await form.getByLabel('Token name', { exact: true }).fill('ci');
  // An operator account is offered no scope beyond its role.
  await expect(form.getByRole('checkbox', { name: /^manage_users/ })).toHaveCount(0);
  await form.getByRole('checkbox', { name: /^trigger/ }).check();
  await form.getByRole('button', { name: 'Create token', exact: true }).click();
  const token = await page.getByLabel('The new token', { exact: true }).inputValue();
  expect(token).toMatch(TOKEN);
  expect(token.startsWith('sbs_')).toBe(true);
  await snap(page, testInfo, 'service-account-token');
  expect(await seriousAxeViolations(page), 'axe on the service accounts page').toEqual([]);

  const me = curl(server.baseURL, '/api/v1/auth/me', token);
  expect(me.status).toBe(200);
  expect(me.body).toMatchObject({ username: account, kind: 'service_account', role: 'operator' });

  // Disabled, its tokens stop at once.
  await page.getByRole('button', { name: `Disable ${account}`, exact: true }).click();
  await expect(page.getByRole('button', { name: `Enable ${account}`, exact: true })).toBeVisible();
  expect(curl(server.baseURL, '/api/v1/auth/me', token).status).toBe(401);
});

test('signing out ends the session on the server', async ({ page, server }) => {
  await signIn(page, server.adminUser, server.adminPassword);
  const session = await readSession(page);
  expect(session).not.toBeNull();
  const before = curl(server.baseURL, '/api/v1/auth/me', session!.access_token);
  expect(before.status).toBe(200);
  await page.locator('header').getByRole('button', { name: 'Sign out', exact: true }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Sign in' })).toBeVisible();
  await expect.poll(() => curl(server.baseURL, '/api/v1/auth/me', session!.access_token).status).toBe(401);
});

test('the audit log shows who made and revoked a token, filters, and verifies its chain', async ({ page, server, adminApi }, testInfo) => {
  const name = `audited ${uid()}`;
  const made = await adminApi.call('POST', '/api/v1/tokens', { name, scopes: ['read'] });
  expect(made.status, made.text).toBe(201);
  const revoked = await adminApi.call('DELETE', `/api/v1/tokens/${made.body.id}`);
  expect(revoked.status).toBe(204);

  await signIn(page, server.adminUser, server.adminPassword);
  await navigate(page, 'Administration', 'Audit log');
  await page.getByLabel('Target', { exact: true }).fill(name);
  await page.getByRole('button', { name: 'Filter', exact: true }).click();
  const rows = page.getByRole('row').filter({ has: page.getByText(name, { exact: true }) });
  await expect(rows).toHaveCount(2);
  await expect(rows.nth(0).getByText('token.revoked', { exact: true })).toBeVisible();
  await expect(rows.nth(1).getByText('token.created', { exact: true })).toBeVisible();
  await expect(rows.nth(1).getByText('scopes: — → ["read"]', { exact: false })).toBeVisible();

  await page.getByLabel('Target', { exact: true }).fill('');
  await page.getByLabel('Outcome', { exact: true }).selectOption('failed');
  await page.getByRole('button', { name: 'Filter', exact: true }).click();
  await expect(page.getByText('token.created', { exact: true })).toHaveCount(0);

  await page.getByRole('button', { name: 'Verify the chain', exact: true }).click();
  await expect(page.getByText(/The chain holds: \d+ entries checked\./)).toBeVisible();
  await snap(page, testInfo, 'audit-log');
  expect(await seriousAxeViolations(page), 'axe on the audit log').toEqual([]);
});

test("an integration's edit dialog links to its history in the audit log", async ({ page, server, adminApi }) => {
  const name = `history ${uid()}`;
  const made = await adminApi.call('POST', '/api/v1/integrations', {
    name,
    tool: 'jenkins',
    urls: { apiUrl: `https://history-${uid()}.example.com/` },
    credentials: { username: 'alice', apiToken: secretToken() },
  });
  expect(made.status, made.text).toBe(201);
  const renamed = `${name} renamed`;
  const changed = await adminApi.call('PATCH', `/api/v1/integrations/${made.body.id}`, { name: renamed });
  expect(changed.status, changed.text).toBe(200);

  await signIn(page, server.adminUser, server.adminPassword);
  await page.getByRole('button', { name: `Edit ${renamed}`, exact: true }).click();
  const dialog = page.getByRole('dialog', { name: `Edit ${renamed}` });
  await dialog.getByRole('link', { name: 'History of this integration', exact: true }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Audit log' })).toBeVisible();
  await expect(page).toHaveURL(new RegExp(`/admin/audit\\?target=${made.body.id}$`));
  await expect(page.getByLabel('Target', { exact: true })).toHaveValue(made.body.id);
  const rows = page.getByRole('row').filter({ hasText: 'integration.' });
  await expect(rows).toHaveCount(2);
  await expect(rows.nth(0).getByText('integration.changed', { exact: true })).toBeVisible();
  await expect(rows.nth(0).getByText(`name: ${name} → ${renamed}`, { exact: false })).toBeVisible();
  await expect(rows.nth(1).getByText('integration.created', { exact: true })).toBeVisible();
});
