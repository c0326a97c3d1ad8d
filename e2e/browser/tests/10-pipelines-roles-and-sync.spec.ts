import { test, expect } from '../support/fixtures';
import { uid } from '../support/api';
import { integrationRow, navigate, pipelineGroup, runButton, signIn, snap } from '../support/ui';

test('a viewer sees pipelines and runs but no Run, Test or Sync; an operator gets Run, Test and Sync', async ({ page, browser, adminApi, server }, testInfo) => {
  const id = uid();
  const name = `Roles ${id}`;
  const integration = await adminApi.createSimJenkins(name);
  const pipelines = await adminApi.waitForPipelines(integration.id, 4);
  const hello = pipelines.find((p) => p.full_path === 'hello')!;
  await adminApi.triggerRun(hello.id);

  await test.step('viewer', async () => {
    await adminApi.createUser(`viewer-${id}`, `viewer password ${id}`, 'viewer');
    await signIn(page, `viewer-${id}`, `viewer password ${id}`);
    await expect(integrationRow(page, name).getByText('Connected', { exact: true })).toBeVisible();
    await expect(page.getByRole('button', { name: `Test connection of ${name}` })).toHaveCount(0);
    await expect(page.getByRole('button', { name: `Sync pipelines of ${name}` })).toHaveCount(0);

    await navigate(page, 'CI/CD', 'Pipelines');
    await expect(pipelineGroup(page, name, 'platform')).toHaveCount(1);
    await expect(page.getByRole('row').filter({ has: page.getByRole('link', { name: 'deploy', exact: true }) }).first()).toBeVisible();
    await expect(page.getByRole('button', { name: /^Run / })).toHaveCount(0);
    await snap(page, testInfo, 'pipelines-viewer');

    await navigate(page, 'CI/CD', 'Runs');
    await expect(page.getByRole('row').filter({ hasText: name }).first()).toContainText('hello');
    await page.getByRole('row').filter({ hasText: name }).first().getByRole('link', { name: 'hello' }).click();
    await expect(page.getByRole('heading', { level: 1, name: /^hello/ })).toBeVisible();
    await expect(page.getByRole('button', { name: 'Cancel run' })).toHaveCount(0);
  });

  await test.step('operator', async () => {
    await adminApi.createUser(`operator-${id}`, `operator password ${id}`, 'operator');
    const context = await browser.newContext({ baseURL: server.baseURL });
    const operatorPage = await context.newPage();
    await signIn(operatorPage, `operator-${id}`, `operator password ${id}`);
    await expect(operatorPage.getByRole('button', { name: `Edit ${name}` })).toHaveCount(0);
    await operatorPage.getByRole('button', { name: `Test connection of ${name}` }).click();
    await expect(operatorPage.getByRole('status').filter({ hasText: `“${name}”: Connected` })).toBeVisible();
    await operatorPage.getByRole('button', { name: `Sync pipelines of ${name}` }).click();
    await expect(operatorPage.getByRole('status').filter({ hasText: `Synced “${name}”: 4 pipelines` })).toBeVisible();
    await navigate(operatorPage, 'CI/CD', 'Pipelines');
    await expect(runButton(operatorPage, 'platform/deploy', name)).toBeVisible();
    await context.close();
  });
});

test('a long run can be cancelled from its page, and the log follows it while it runs', async ({ page, adminApi, server }, testInfo) => {
  const name = `Cancel ${uid()}`;
  const integration = await adminApi.createSimJenkins(name);
  await adminApi.waitForPipelines(integration.id, 4);
  await signIn(page, server.adminUser, server.adminPassword);
  await navigate(page, 'CI/CD', 'Pipelines');
  await runButton(page, 'platform/nightly-tests', name).click();
  const dialog = page.getByRole('dialog', { name: 'Run platform/nightly-tests' });
  await expect(dialog.getByText('This pipeline takes no parameters.')).toBeVisible();
  await dialog.getByRole('button', { name: 'Run', exact: true }).click();
  await expect(page).toHaveURL(/\/runs\//);
  const facts = page.locator('dl').first();
  await expect(facts).toContainText('Running', { timeout: 20_000 });
  await expect(page.getByRole('log', { name: 'Log' })).toContainText('./run-tests.sh', { timeout: 20_000 });
  await snap(page, testInfo, 'run-running');
  await page.getByRole('button', { name: 'Cancel run' }).click();
  await expect(facts).toContainText('Cancelled', { timeout: 20_000 });
  await expect(page.getByRole('button', { name: 'Cancel run' })).toHaveCount(0);
  await expect(page.getByRole('log', { name: 'Log' })).toContainText('Finished: ABORTED', { timeout: 20_000 });
});

test('pipelines appear on an open Pipelines page once a failing integration is fixed, without a reload', async ({ page, adminApi, server }, testInfo) => {
  const name = `Fixed later ${uid()}`;
  const integration = await adminApi.createSimJenkins(name, 'wrong-token');
  expect(integration.status).toBe('failed');

  await signIn(page, server.adminUser, server.adminPassword);
  const badge = integrationRow(page, name).getByText('Failed', { exact: true });
  await expect(badge).toBeVisible();
  await badge.hover();
  await expect(integrationRow(page, name).getByRole('tooltip')).toBeVisible();
  await expect(badge).toHaveAccessibleDescription(/Credentials rejected: .*create a new token/i);
  await snap(page, testInfo, 'failed-tooltip');

  await navigate(page, 'CI/CD', 'Pipelines');
  await expect(pipelineGroup(page, name)).toHaveCount(0);
  const fixed = await adminApi.updateIntegration(integration.id, { credentials: { apiToken: process.env.SWITCHBOARD_E2E_JENKINS_TOKEN } });
  expect(fixed.status).toBe('connected');
  await expect(pipelineGroup(page, name, 'platform')).toHaveCount(1, { timeout: 20_000 });
  await expect(runButton(page, 'platform/deploy', name)).toBeVisible();
});
