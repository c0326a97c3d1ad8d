import { test, expect } from '../support/fixtures';
import { jenkinsSim, uid } from '../support/api';
import { fillJenkins, integrationRow, navigate, openAddDialog, pipelineGroup, runButton, signIn, snap } from '../support/ui';

// The whole way with the Jenkins simulator: a wrong token is caught by "Test connection",
// the fixed integration connects, its jobs appear as pipelines, one runs with parameters and
// the run page follows it to the end with its log.
test('add Jenkins, test a wrong then the right token, save, see its pipelines, run one and follow it', async ({ page, server, adminApi }, testInfo) => {
  test.setTimeout(120_000);
  const sim = jenkinsSim();
  const name = `Journey ${uid()}`;

  await signIn(page, server.adminUser, server.adminPassword);
  const dialog = await openAddDialog(page);

  await test.step('a wrong API token: Test connection says the credentials were rejected, and what to do', async () => {
    await fillJenkins(dialog, { name, apiUrl: sim.url, username: sim.user, apiToken: 'not-the-token' });
    await dialog.getByRole('button', { name: 'Test connection', exact: true }).click();
    const result = dialog.getByRole('status');
    await expect(result).toContainText('Credentials rejected');
    await expect(result).toContainText(/refused the credentials of admin/);
    await expect(result).toContainText(/create a new token/i);
    await expect(dialog.getByRole('button', { name: 'Test connection', exact: true })).toBeEnabled();
    await snap(page, testInfo, 'test-connection-bad-credentials');
  });

  await test.step('the right token: Test connection shows the version, the user and the time it took', async () => {
    await dialog.getByLabel('API token', { exact: true }).fill(sim.token);
    await dialog.getByRole('button', { name: 'Test connection', exact: true }).click();
    const result = dialog.getByRole('status');
    await expect(result).toContainText('Connection works.');
    await expect(result).toContainText('version 2.516.1');
    await expect(result).toContainText('as admin');
    await expect(result).toContainText(/\d+ ms/);
    await snap(page, testInfo, 'test-connection-ok');
  });

  await test.step('Save: the integration is Connected, and its badge tells the last check on focus', async () => {
    await dialog.getByRole('button', { name: 'Save', exact: true }).click();
    await expect(dialog).toBeHidden();
    await expect(page.getByRole('status').filter({ hasText: `Saved “${name}”` })).toBeVisible();
    const row = integrationRow(page, name);
    const badge = row.getByText('Connected', { exact: true });
    await expect(badge).toBeVisible();
    await badge.focus();
    await expect(row.getByRole('tooltip')).toBeVisible();
    await expect(badge).toHaveAccessibleDescription(/Checked .* UTC: Connected · version 2\.516\.1 · as admin/);
    await snap(page, testInfo, 'connected');
    await page.keyboard.press('Escape');
    await expect(row.getByRole('tooltip')).toBeHidden();
    await expect(badge).toBeFocused();
  });

  await test.step('Pipelines lists the jobs by folder, a disabled one without Run, and filters', async () => {
    await navigate(page, 'CI/CD', 'Pipelines');
    await expect(pipelineGroup(page, name)).toHaveCount(1);
    await expect(pipelineGroup(page, name, 'platform')).toHaveCount(1);
    await expect(runButton(page, 'platform/deploy', name)).toBeVisible();
    await expect(runButton(page, 'platform/nightly-tests', name)).toBeVisible();
    await expect(runButton(page, 'hello', name)).toBeVisible();
    await expect(runButton(page, 'platform/legacy-release', name)).toHaveCount(0);
    await expect(page.getByText('Disabled in the tool').first()).toBeVisible();
    await snap(page, testInfo, 'pipelines');

    await page.getByLabel('Filter pipelines', { exact: true }).fill('deploy');
    await expect(runButton(page, 'hello', name)).toHaveCount(0);
    await expect(runButton(page, 'platform/deploy', name)).toBeVisible();
  });

  let runUrl = '';
  await test.step('Run with parameters: the form has the defaults; the run page follows the build to success with its log', async () => {
    await runButton(page, 'platform/deploy', name).click();
    const run = page.getByRole('dialog', { name: 'Run platform/deploy' });
    await expect(run).toBeVisible();
    await expect(run.getByLabel('ENVIRONMENT', { exact: true })).toHaveValue('staging');
    await expect(run.getByLabel('VERSION', { exact: true })).toHaveValue('latest');
    await expect(run.getByLabel('DRY_RUN', { exact: true })).toBeChecked();
    await expect(run.getByLabel('NOTES', { exact: true })).toHaveValue('');
    await expect(run.getByLabel('VERSION', { exact: true })).toHaveAccessibleDescription(/Image tag/);
    await run.getByLabel('ENVIRONMENT', { exact: true }).selectOption('production');
    await run.getByLabel('VERSION', { exact: true }).fill('1.2.3');
    await run.getByLabel('DRY_RUN', { exact: true }).uncheck();
    await run.getByLabel('NOTES', { exact: true }).fill('First line\nSecond line');
    await snap(page, testInfo, 'run-dialog');
    await run.getByRole('button', { name: 'Run', exact: true }).click();

    await expect(page).toHaveURL(/\/runs\/[0-9a-f-]+$/);
    runUrl = page.url();
    await expect(page.getByRole('heading', { level: 1, name: /^platform\/deploy/ })).toBeVisible();
    const facts = page.locator('dl').first();
    await expect(facts).toContainText('Succeeded', { timeout: 30_000 });
    await expect(page.getByRole('heading', { level: 1, name: /^platform\/deploy #\d+$/ })).toBeVisible();
    const log = page.getByRole('log', { name: 'Log' });
    await expect(log).toContainText('Started by user Ada Admin');
    await expect(log).toContainText('Applied 3 changes');
    await expect(log).toContainText('Finished: SUCCESS');
    await expect(page.getByText('complete', { exact: true })).toBeVisible();
    const params = page.locator('dl').nth(1);
    await expect(params).toContainText('production');
    await expect(params).toContainText('1.2.3');
    await expect(params).toContainText('false');
    await expect(page.getByRole('button', { name: 'Cancel run' })).toHaveCount(0);
    await snap(page, testInfo, 'run-succeeded');
  });

  await test.step('Runs lists the run with its pipeline, integration and status', async () => {
    await navigate(page, 'CI/CD', 'Runs');
    const row = page.getByRole('row').filter({ hasText: name });
    await expect(row.first()).toBeVisible();
    await expect(row.first()).toContainText('platform/deploy');
    await expect(row.first()).toContainText('Succeeded');
    await expect(row.first()).toContainText(server.adminUser);
    await page.getByLabel('Status', { exact: true }).selectOption('failed');
    await expect(page.getByRole('row').filter({ hasText: name })).toHaveCount(0);
    await page.getByLabel('Status', { exact: true }).selectOption('succeeded');
    await expect(page.getByRole('row').filter({ hasText: name }).first()).toBeVisible();
    await snap(page, testInfo, 'runs');
    await page.getByRole('row').filter({ hasText: name }).first().getByRole('link', { name: 'platform/deploy' }).click();
    await expect(page).toHaveURL(runUrl);
    await expect(page.getByRole('heading', { level: 1, name: /^platform\/deploy #\d+$/ })).toBeVisible();
  });

  await test.step('Back and Forward move between the pages visited', async () => {
    await page.goBack();
    await expect(page.getByRole('heading', { level: 1, name: 'Runs' })).toBeVisible();
    await expect(page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Runs', exact: true })).toHaveAttribute('aria-current', 'page');
    await page.goForward();
    await expect(page).toHaveURL(runUrl);
    await expect(page.getByRole('log', { name: 'Log' })).toContainText('Finished: SUCCESS');
  });
});
