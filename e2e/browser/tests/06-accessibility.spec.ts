import { test, expect } from '../support/fixtures';
import { uid } from '../support/api';
import { integrationRow, navigate, openAddDialog, runButton, seriousAxeViolations, signIn, snap } from '../support/ui';

// axe is injected as a script tag: let it in whatever Content-Security-Policy the app sends.
test.use({ bypassCSP: true });

test('axe finds no serious or critical violation on any page or the dialog', async ({ page, server, adminApi }, testInfo) => {
  const name = `Accessible ${uid()}`;
  const integration = await adminApi.createSimJenkins(name);
  const pipelines = await adminApi.waitForPipelines(integration.id, 4);
  const run = await adminApi.triggerRun(pipelines.find((p) => p.full_path === 'hello')!.id);
  const found: Record<string, string[]> = {};

  await test.step('sign-in page', async () => {
    await page.goto('/login');
    await expect(page.getByRole('heading', { level: 1, name: 'Sign in' })).toBeVisible();
    await snap(page, testInfo, 'sign-in');
    found['sign-in'] = await seriousAxeViolations(page);
  });

  await test.step('integrations', async () => {
    await signIn(page, server.adminUser, server.adminPassword);
    await expect(integrationRow(page, name)).toHaveCount(1);
    await snap(page, testInfo, 'integrations');
    found['integrations'] = await seriousAxeViolations(page);
  });

  await test.step('the open Add dialog', async () => {
    await openAddDialog(page);
    await snap(page, testInfo, 'add-dialog');
    found['add dialog'] = await seriousAxeViolations(page);
    await page.keyboard.press('Escape');
  });

  await test.step('the status tooltip', async () => {
    await integrationRow(page, name).getByText('Connected', { exact: true }).focus();
    await expect(integrationRow(page, name).getByRole('tooltip')).toBeVisible();
    found['status tooltip'] = await seriousAxeViolations(page);
  });

  await test.step('pipelines', async () => {
    await navigate(page, 'CI/CD', 'Pipelines');
    await expect(runButton(page, 'platform/deploy', name)).toBeVisible();
    await snap(page, testInfo, 'pipelines');
    found['pipelines'] = await seriousAxeViolations(page);
  });

  await test.step('the open Run dialog', async () => {
    await runButton(page, 'platform/deploy', name).click();
    await expect(page.getByRole('dialog', { name: 'Run platform/deploy' })).toBeVisible();
    await snap(page, testInfo, 'run-dialog');
    found['run dialog'] = await seriousAxeViolations(page);
    await page.keyboard.press('Escape');
    await expect(page.getByRole('dialog')).toHaveCount(0);
    await expect(runButton(page, 'platform/deploy', name)).toBeFocused();
  });

  await test.step('runs', async () => {
    await navigate(page, 'CI/CD', 'Runs');
    await expect(page.getByRole('row').filter({ hasText: name }).first()).toBeVisible();
    await snap(page, testInfo, 'runs');
    found['runs'] = await seriousAxeViolations(page);
  });

  await test.step('a run', async () => {
    await page.goto(`/runs/${run.id}`);
    await expect(page.getByRole('log', { name: 'Log' })).toContainText('Finished: SUCCESS', { timeout: 20_000 });
    await snap(page, testInfo, 'run');
    found['run'] = await seriousAxeViolations(page);
  });

  await test.step('users', async () => {
    await navigate(page, 'Administration', 'Users');
    await expect(page.getByRole('table')).toBeVisible();
    await snap(page, testInfo, 'users');
    found['users'] = await seriousAxeViolations(page);
  });

  await test.step('tools', async () => {
    await navigate(page, 'Administration', 'Tools');
    await expect(page.getByRole('heading', { level: 2, name: 'Jenkins' })).toBeVisible();
    await snap(page, testInfo, 'tools');
    found['tools'] = await seriousAxeViolations(page);
  });

  await testInfo.attach('axe-serious-violations.json', { body: JSON.stringify(found, null, 2), contentType: 'application/json' });
  expect(found).toEqual({
    'sign-in': [],
    integrations: [],
    'add dialog': [],
    'status tooltip': [],
    pipelines: [],
    'run dialog': [],
    runs: [],
    run: [],
    users: [],
    tools: [],
  });
});
