import { test, expect } from '../support/fixtures';

// The API docs (Swagger UI, served from the binary) run under a content security policy that
// allows only their own files, and no other site may frame them.
test('the API docs render under their content security policy and refuse to be framed', async ({ page }) => {
  const violations: string[] = [];
  page.on('console', (message) => {
    if (/content security policy/i.test(message.text())) violations.push(message.text());
  });
  const response = await page.goto('/api/docs/');
  const policy = response?.headers()['content-security-policy'] ?? '';
  expect(policy).toContain("frame-ancestors 'none'");
  expect(policy).toContain("script-src 'self'");
  expect(response?.headers()['x-frame-options']).toBe('DENY');
  await expect(page.locator('.swagger-ui .info .title')).toContainText('Switchboard API');
  // The document loaded and its operations are listed (by operationId).
  await expect(page.getByText('create_integration', { exact: true }).first()).toBeVisible();
  expect(violations).toEqual([]);
});
