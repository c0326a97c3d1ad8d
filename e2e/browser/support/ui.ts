import type { Locator, Page, TestInfo } from '@playwright/test';
import { expect } from './fixtures';

/**
 * Helpers that follow the DOM contract of the web app: every element is found by its role and
 * accessible name, or by its label, never by CSS classes.
 */

export const SESSION_KEY = 'switchboard.session';
export const SESSION_ENDED = /Your session has ended/;

export interface StoredSession {
  access_token: string;
  user: { id: string; username: string; role: string };
}

export function mainNav(page: Page): Locator {
  return page.getByRole('navigation', { name: 'Main' });
}

export function addButton(page: Page): Locator {
  return page.getByRole('button', { name: '+ Add', exact: true });
}

export function addDialog(page: Page): Locator {
  return page.getByRole('dialog', { name: 'Add integration' });
}

export function editDialog(page: Page, name: string): Locator {
  return page.getByRole('dialog', { name: `Edit ${name}`, exact: true });
}

export function integrationsTable(page: Page): Locator {
  return page.getByRole('table');
}

/** The table row whose Name cell holds exactly `name`. */
export function integrationRow(page: Page, name: string): Locator {
  return integrationsTable(page)
    .getByRole('row')
    .filter({ has: page.getByText(name, { exact: true }) });
}

/** Sign in through the sign-in form and wait for the integrations page. */
export async function signIn(page: Page, username: string, password: string): Promise<void> {
  await page.goto('/login');
  await expect(page.getByRole('heading', { level: 1, name: 'Sign in' })).toBeVisible();
  await page.getByLabel('User name', { exact: true }).fill(username);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Integrations' })).toBeVisible();
}

/** Open a menu group of the main navigation (if closed) and follow one of its links. */
export async function navigate(page: Page, group: 'CI/CD' | 'Administration' | 'Profile', link: string): Promise<void> {
  const nav = mainNav(page);
  const toggle = nav.getByRole('button', { name: group, exact: true });
  if ((await toggle.getAttribute('aria-expanded')) !== 'true') {
    await toggle.click();
    await expect(toggle).toHaveAttribute('aria-expanded', 'true');
  }
  await nav.getByRole('link', { name: link, exact: true }).click();
  await expect(page.getByRole('heading', { level: 1, name: link })).toBeVisible();
  await expect(nav.getByRole('link', { name: link, exact: true })).toHaveAttribute('aria-current', 'page');
}

export async function readSession(page: Page): Promise<StoredSession | null> {
  const raw = await page.evaluate((key) => window.sessionStorage.getItem(key), SESSION_KEY);
  return raw ? (JSON.parse(raw) as StoredSession) : null;
}

/** Everything in localStorage and sessionStorage as one string. */
export async function storageDump(page: Page): Promise<string> {
  return page.evaluate(() => {
    const dump = (storage: Storage) => {
      const out: Record<string, string | null> = {};
      for (let i = 0; i < storage.length; i++) {
        const key = storage.key(i)!;
        out[key] = storage.getItem(key);
      }
      return out;
    };
    return JSON.stringify({ local: dump(window.localStorage), session: dump(window.sessionStorage) });
  });
}

/** Full-page screenshot into the test's output directory (a test artifact, not committed). */
export async function snap(page: Page, testInfo: TestInfo, name: string): Promise<void> {
  const file = testInfo.outputPath(`${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  await testInfo.attach(name, { path: file, contentType: 'image/png' });
}

/**
 * The field shows a validation message: aria-invalid="true" and aria-describedby pointing at a
 * visible element whose text matches `message`.
 */
export async function expectFieldError(field: Locator, message: RegExp): Promise<void> {
  await expect(field).toHaveAttribute('aria-invalid', 'true');
  await expect(field).toHaveAccessibleDescription(message);
  const ids = ((await field.getAttribute('aria-describedby')) ?? '').split(/\s+/).filter(Boolean);
  const page = field.page();
  const holders = ids.map((id) => page.locator(`[id="${id}"]`));
  const texts = await Promise.all(holders.map((h) => h.innerText().catch(() => '')));
  const index = texts.findIndex((t) => message.test(t));
  expect(index, `an element named by aria-describedby (${ids.join(' ')}) holds ${message}; texts: ${JSON.stringify(texts)}`).toBeGreaterThanOrEqual(0);
  await expect(holders[index]).toBeVisible();
}

export async function expectNoFieldError(field: Locator): Promise<void> {
  await expect(field).not.toHaveAttribute('aria-invalid', 'true');
}

/** Click Save if the form lets us; a Save disabled by client-side validation is fine too. */
export async function trySave(dialog: Locator): Promise<void> {
  const save = dialog.getByRole('button', { name: 'Save', exact: true });
  if (await save.isEnabled()) await save.click();
}

export interface JenkinsForm {
  name?: string;
  apiUrl?: string;
  username?: string;
  apiToken?: string;
}

/** Fill the Add/Edit dialog for a Jenkins integration (fields left undefined stay as they are). */
export async function fillJenkins(dialog: Locator, form: JenkinsForm, chooseTool = true): Promise<void> {
  if (chooseTool) await dialog.getByLabel('Tool', { exact: true }).selectOption({ label: 'Jenkins' });
  if (form.name !== undefined) await dialog.getByLabel('Name', { exact: true }).fill(form.name);
  if (form.apiUrl !== undefined) await dialog.getByLabel('Jenkins URL', { exact: true }).fill(form.apiUrl);
  if (form.username !== undefined) await dialog.getByLabel('User name', { exact: true }).fill(form.username);
  if (form.apiToken !== undefined) await dialog.getByLabel('API token', { exact: true }).fill(form.apiToken);
}

/** Open "+ Add" and wait for the dialog. */
export async function openAddDialog(page: Page): Promise<Locator> {
  await addButton(page).click();
  const dialog = addDialog(page);
  await expect(dialog).toBeVisible();
  await expect(dialog).toHaveAttribute('aria-modal', 'true');
  return dialog;
}

export async function openEditDialog(page: Page, name: string): Promise<Locator> {
  await page.getByRole('button', { name: `Edit ${name}`, exact: true }).click();
  const dialog = editDialog(page, name);
  await expect(dialog).toBeVisible();
  await expect(dialog).toHaveAttribute('aria-modal', 'true');
  return dialog;
}

/** Inject axe-core and return the violations of impact serious or critical. */
export async function seriousAxeViolations(page: Page): Promise<string[]> {
  if (!(await page.evaluate(() => 'axe' in window))) {
    await page.addScriptTag({ path: require.resolve('axe-core/axe.min.js') });
  }
  const violations: any[] = await page.evaluate(async () => {
    const result = await (window as any).axe.run(document, { resultTypes: ['violations'] });
    return result.violations;
  });
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.impact} ${v.id}: ${v.help} — ${v.nodes.map((n: any) => n.target.join(' ')).slice(0, 5).join(', ')}`);
}

/** True when `locator` is the focused element. */
export async function isFocused(locator: Locator): Promise<boolean> {
  return locator.evaluate((el) => el === document.activeElement);
}

/** What has the focus, for messages. */
export async function describeFocus(page: Page): Promise<string> {
  return page.evaluate(() => {
    const el = document.activeElement as HTMLElement | null;
    if (!el || el === document.body) return '<body> (nothing focused)';
    const label = el.getAttribute('aria-label') || (el as HTMLInputElement).labels?.[0]?.textContent || el.textContent || '';
    return `<${el.tagName.toLowerCase()}> ${label.trim().slice(0, 60)}`;
  });
}

/** Press Tab (or Shift+Tab) until `target` has the focus. Keyboard only. */
export async function tabTo(page: Page, target: Locator, opts: { backwards?: boolean; max?: number } = {}): Promise<void> {
  await expect(target).toBeVisible();
  const max = opts.max ?? 300;
  for (let i = 0; i <= max; i++) {
    if (await isFocused(target)) return;
    await page.keyboard.press(opts.backwards ? 'Shift+Tab' : 'Tab');
  }
  throw new Error(`could not reach the element with ${max} presses of ${opts.backwards ? 'Shift+Tab' : 'Tab'}; focus is on ${await describeFocus(page)}`);
}

/** Choose an option of a focused <select> by keyboard: typeahead, then arrow keys. */
export async function chooseByKeyboard(page: Page, select: Locator, label: string): Promise<void> {
  const selected = () => select.evaluate((el) => { const s = el as HTMLSelectElement; return s.options[s.selectedIndex]?.text.trim() ?? ''; });
  if ((await selected()) === label) return;
  await page.keyboard.type(label.slice(0, 1));
  const count = await select.evaluate((el) => (el as HTMLSelectElement).options.length);
  for (const key of ['ArrowDown', 'ArrowUp']) {
    for (let i = 0; i <= count; i++) {
      if ((await selected()) === label) return;
      await page.keyboard.press(key);
    }
  }
  throw new Error(`could not choose ${label} by keyboard; selected: ${await selected()}`);
}

/** The heading row of an integration's folder on the Pipelines page ("Name › platform"). */
export function pipelineGroup(page: Page, integration: string, folder = ''): Locator {
  const title = folder ? `${integration} › ${folder}` : integration;
  return page.getByRole('table').getByRole('row').filter({ has: page.getByRole('columnheader', { name: title, exact: true }) });
}

/** The "Run" button of one pipeline of one integration. */
export function runButton(page: Page, fullPath: string, integration: string): Locator {
  return page.getByRole('button', { name: `Run ${fullPath} on ${integration}`, exact: true });
}
