import { test, expect } from '../support/fixtures';
import { buildbotMaster, uid } from '../support/api';
import { integrationRow, navigate, openAddDialog, pipelineGroup, runButton, signIn, snap } from '../support/ui';

// The Jenkins journey (09) again, with the real Buildbot master the global setup started: the
// form, the check, the pipelines, the run form and the run page come from the tool registry
// and the common API alone. Buildbot's worker sends output in batches (about every 5 s) and
// each build goes through a build request first, so the waits are generous.
test('add Buildbot, test a wrong then the right password, save, see its builders, run greet and follow it', async ({ page, server }, testInfo) => {
  test.setTimeout(180_000);
  const master = buildbotMaster();
  const name = `Buildbot journey ${uid()}`;

  await signIn(page, server.adminUser, server.adminPassword);
  const dialog = await openAddDialog(page);

  await test.step('the form has the fields the registry describes for Buildbot', async () => {
    await dialog.getByLabel('Tool', { exact: true }).selectOption({ label: 'Buildbot' });
    await expect(dialog.getByLabel('Buildbot URL', { exact: true })).toBeVisible();
    await expect(dialog.getByLabel('User name', { exact: true })).toBeVisible();
    await expect(dialog.getByLabel('Password', { exact: true })).toBeVisible();
    await expect(dialog.getByLabel('API token', { exact: true })).toHaveCount(0);
    await expect(dialog.getByLabel('Jenkins URL', { exact: true })).toHaveCount(0);
  });

  await test.step('a wrong password: Test connection says the credentials were rejected, and what to do', async () => {
    await dialog.getByLabel('Name', { exact: true }).fill(name);
    await dialog.getByLabel('Buildbot URL', { exact: true }).fill(master.url);
    await dialog.getByLabel('User name', { exact: true }).fill(master.user);
    await dialog.getByLabel('Password', { exact: true }).fill('not-the-password');
    await dialog.getByRole('button', { name: 'Test connection', exact: true }).click();
    const result = dialog.getByRole('status');
    await expect(result).toContainText('Credentials rejected', { timeout: 20_000 });
    await expect(result).toContainText(/rejected the credentials of user admin/);
    await expect(result).toContainText(/check the user name and password/i);
    await expect(result).not.toContainText('not-the-password');
    await expect(dialog.getByRole('button', { name: 'Test connection', exact: true })).toBeEnabled();
    await snap(page, testInfo, 'test-connection-bad-credentials');
  });

  await test.step('the right password: Test connection shows the version, the user and the time it took', async () => {
    await dialog.getByLabel('Password', { exact: true }).fill(master.password);
    await dialog.getByRole('button', { name: 'Test connection', exact: true }).click();
    const result = dialog.getByRole('status');
    await expect(result).toContainText('Connection works.', { timeout: 20_000 });
    await expect(result).toContainText(/version 4\.\d+/);
    await expect(result).toContainText('as admin');
    await expect(result).toContainText(/\d+ ms/);
    await expect(result).not.toContainText(master.password);
    await snap(page, testInfo, 'test-connection-ok');
  });

  await test.step('Save: the integration is Connected', async () => {
    await dialog.getByRole('button', { name: 'Save', exact: true }).click();
    await expect(dialog).toBeHidden();
    await expect(page.getByRole('status').filter({ hasText: `Saved “${name}”` })).toBeVisible();
    const row = integrationRow(page, name);
    await expect(row).toContainText('Buildbot');
    const badge = row.getByText('Connected', { exact: true });
    await expect(badge).toBeVisible({ timeout: 20_000 });
    await expect(badge).toHaveAccessibleDescription(/Connected · version 4\.\d+.* · as admin/);
    await snap(page, testInfo, 'connected');
  });

  await test.step('Pipelines lists the builders', async () => {
    await navigate(page, 'CI/CD', 'Pipelines');
    await expect(pipelineGroup(page, name)).toHaveCount(1, { timeout: 20_000 });
    for (const builder of ['greet', 'fails', 'warns', 'sleeper', 'one-at-a-time']) {
      await expect(runButton(page, builder, name)).toBeVisible();
    }
    await snap(page, testInfo, 'pipelines');
    await page.getByLabel('Filter pipelines', { exact: true }).fill('greet');
    await expect(runButton(page, 'fails', name)).toHaveCount(0);
    await expect(runButton(page, 'greet', name)).toBeVisible();
  });

  let runUrl = '';
  await test.step('Run greet with parameters: the form has the defaults; the run page follows the build to success with its log', async () => {
    await runButton(page, 'greet', name).click();
    const run = page.getByRole('dialog', { name: 'Run greet' });
    await expect(run).toBeVisible();
    // Every kind of force-scheduler parameter, as the generated form shows it.
    await expect(run.getByLabel('greeting', { exact: true })).toHaveValue('hello');
    await expect(run.getByLabel('loud', { exact: true })).not.toBeChecked();
    await expect(run.getByLabel('target', { exact: true })).toHaveValue('staging');
    await expect(run.getByLabel('count', { exact: true })).toHaveValue('3');
    await expect(run.getByLabel('count', { exact: true })).toHaveAccessibleDescription(/How many lines to count/);
    await expect(run.getByLabel('notes', { exact: true })).toHaveValue('');
    await expect(run.getByLabel('options_retries', { exact: true })).toHaveValue('1');
    await expect(run.getByLabel('fixed', { exact: true })).toHaveCount(0);
    await run.getByLabel('greeting', { exact: true }).fill('bonjour');
    await run.getByLabel('loud', { exact: true }).check();
    await run.getByLabel('target', { exact: true }).selectOption('production');
    await run.getByLabel('count', { exact: true }).fill('4');
    await run.getByLabel('notes', { exact: true }).fill('First line\nSecond line');
    await snap(page, testInfo, 'run-dialog');
    await run.getByRole('button', { name: 'Run', exact: true }).click();

    await expect(page).toHaveURL(/\/runs\/[0-9a-f-]+$/);
    runUrl = page.url();
    await expect(page.getByRole('heading', { level: 1, name: /^greet/ })).toBeVisible();
    const facts = page.locator('dl').first();
    await expect(facts).toContainText('Succeeded', { timeout: 60_000 });
    await expect(page.getByRole('heading', { level: 1, name: /^greet #\d+$/ })).toBeVisible();
    const log = page.getByRole('log', { name: 'Log' });
    // Lines the greet builder prints, with the parameters given (stream prefixes removed).
    await expect(log).toContainText('preparing', { timeout: 30_000 });
    await expect(log).toContainText('greeting=bonjour', { timeout: 30_000 });
    await expect(log).toContainText('target=production');
    await expect(log).toContainText('line 4 ✓', { timeout: 30_000 });
    await expect(page.getByText('complete', { exact: true })).toBeVisible({ timeout: 30_000 });
    const params = page.locator('dl').nth(1);
    await expect(params).toContainText('bonjour');
    await expect(params).toContainText('production');
    await expect(page.getByRole('button', { name: 'Cancel run' })).toHaveCount(0);
    await snap(page, testInfo, 'run-succeeded');
  });

  await test.step('Runs lists the run with its pipeline, integration and status', async () => {
    await navigate(page, 'CI/CD', 'Runs');
    const row = page.getByRole('row').filter({ hasText: name });
    await expect(row.first()).toBeVisible();
    await expect(row.first()).toContainText('greet');
    await expect(row.first()).toContainText('Succeeded');
    await expect(row.first()).toContainText(server.adminUser);
    await snap(page, testInfo, 'runs');
    await row.first().getByRole('link', { name: 'greet' }).click();
    await expect(page).toHaveURL(runUrl);
    await expect(page.getByRole('log', { name: 'Log' })).toContainText('greeting=bonjour', { timeout: 30_000 });
  });
});
