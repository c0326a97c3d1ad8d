import type { Locator, Page } from '@playwright/test';
import { test, expect } from '../support/fixtures';
import { secretToken, uid } from '../support/api';
import { addButton, addDialog, chooseByKeyboard, describeFocus, editDialog, integrationRow, tabTo } from '../support/ui';

/** Tab and Shift+Tab `presses` times each; the focus must never leave the dialog. */
async function expectFocusTrapped(page: Page, dialog: Locator, presses = 25): Promise<void> {
  for (const key of ['Tab', 'Shift+Tab']) {
    for (let i = 0; i < presses; i++) {
      await page.keyboard.press(key);
      const inside = await dialog.evaluate((d) => d.contains(document.activeElement));
      expect(inside, `after ${i + 1} × ${key} the focus is on ${await describeFocus(page)}, outside the dialog`).toBe(true);
    }
  }
}

async function typeInto(page: Page, field: Locator, text: string): Promise<void> {
  await tabTo(page, field);
  await page.keyboard.press('ControlOrMeta+A');
  await page.keyboard.type(text);
}

test('add and edit an integration with the keyboard only', async ({ page, server, adminApi }) => {
  const id = uid();
  const name = `Keyboard ${id}`;
  const renamed = `Keyboard ${id} edited`;

  await test.step('sign in by keyboard', async () => {
    await page.goto('/login');
    await typeInto(page, page.getByLabel('User name', { exact: true }), server.adminUser);
    await typeInto(page, page.getByLabel('Password', { exact: true }), server.adminPassword);
    await page.keyboard.press('Enter');
    await expect(page.getByRole('heading', { level: 1, name: 'Integrations' })).toBeVisible();
  });

  await test.step('add', async () => {
    const opener = addButton(page);
    await tabTo(page, opener);
    await page.keyboard.press('Enter');
    const dialog = addDialog(page);
    await expect(dialog).toBeVisible();
    expect(await dialog.evaluate((d) => d.contains(document.activeElement)), 'focus moved into the dialog').toBe(true);
    await expectFocusTrapped(page, dialog);

    const tool = dialog.getByLabel('Tool', { exact: true });
    await tabTo(page, tool);
    await chooseByKeyboard(page, tool, 'Jenkins');
    await typeInto(page, dialog.getByLabel('Name', { exact: true }), name);
    await typeInto(page, dialog.getByLabel('Jenkins URL', { exact: true }), `https://kb-${id}.example.com/`);
    await tabTo(page, dialog.getByRole('button', { name: 'Add URL', exact: true }));
    await page.keyboard.press('Space');
    await typeInto(page, dialog.getByLabel('Key for extra URL 1', { exact: true }), 'webUrl');
    await typeInto(page, dialog.getByLabel('Extra URL 1', { exact: true }), `https://kb-${id}.example.com/web/`);
    await typeInto(page, dialog.getByLabel('User name', { exact: true }), 'alice');
    await typeInto(page, dialog.getByLabel('API token', { exact: true }), secretToken());
    await tabTo(page, dialog.getByRole('button', { name: 'Save', exact: true }));
    await page.keyboard.press('Enter');
    await expect(dialog).toBeHidden();
    await expect(integrationRow(page, name)).toHaveCount(1);
    await expect(opener, 'focus returns to "+ Add"').toBeFocused();
    const [saved] = await adminApi.integrationsNamed(name);
    expect(saved.urls).toEqual({ apiUrl: `https://kb-${id}.example.com/`, webUrl: `https://kb-${id}.example.com/web/` });
  });

  await test.step('Escape closes the edit dialog and the focus returns to its pencil', async () => {
    const pencil = page.getByRole('button', { name: `Edit ${name}`, exact: true });
    await tabTo(page, pencil);
    await page.keyboard.press('Enter');
    const dialog = editDialog(page, name);
    await expect(dialog).toBeVisible();
    expect(await dialog.evaluate((d) => d.contains(document.activeElement)), 'focus moved into the dialog').toBe(true);
    await expectFocusTrapped(page, dialog);
    await page.keyboard.press('Escape');
    await expect(dialog).toBeHidden();
    await expect(pencil).toBeFocused();
  });

  await test.step('edit: rename with Space on the pencil, Enter on Save', async () => {
    const pencil = page.getByRole('button', { name: `Edit ${name}`, exact: true });
    await tabTo(page, pencil);
    await page.keyboard.press('Space');
    const dialog = editDialog(page, name);
    await expect(dialog).toBeVisible();
    await typeInto(page, dialog.getByLabel('Name', { exact: true }), renamed);
    await tabTo(page, dialog.getByRole('button', { name: 'Save', exact: true }));
    await page.keyboard.press('Enter');
    await expect(dialog).toBeHidden();
    await expect(integrationRow(page, renamed)).toHaveCount(1);
    await expect(integrationRow(page, name)).toHaveCount(0);
    expect((await adminApi.integrationsNamed(renamed)).length).toBe(1);
    // The opener was the pencil of this row (contract: on close, focus returns to the button that
    // opened the dialog), so after the rename the focus is on that row's pencil, not lost to <body>.
    await expect(page.getByRole('button', { name: `Edit ${renamed}`, exact: true }))
      .toBeFocused()
      .catch(async (err) => {
        throw new Error(`focus did not return to the renamed row's pencil; it is on ${await describeFocus(page)}\n${err.message}`);
      });
  });
});
