import { defineConfig } from '@playwright/test';
import { chromiumLaunchOptions } from './support/chromium';

/**
 * Browser tests of the Switchboard web app.
 *
 * The global setup starts `switchboard serve` (SWITCHBOARD_BIN, default the debug build in
 * ~/.cache/switchboard/target) with SWITCHBOARD_WEB_DIR (default <repo>/frontend/dist), a fresh
 * data directory and a free loopback port, and stops it when the run ends. Tests reach it through
 * `baseURL` (see support/fixtures.ts). Chromium is Debian's /usr/bin/chromium: Playwright never
 * downloads a browser here.
 */
export default defineConfig({
  testDir: './tests',
  globalSetup: './global-setup.ts',
  fullyParallel: false,
  workers: 1,
  retries: 0,
  forbidOnly: !!process.env.CI,
  timeout: 60_000,
  expect: { timeout: 10_000 },
  outputDir: './test-results',
  reporter: [['list'], ['html', { open: 'never', outputFolder: './playwright-report' }]],
  use: {
    browserName: 'chromium',
    launchOptions: chromiumLaunchOptions(),
    viewport: { width: 1280, height: 800 },
    actionTimeout: 10_000,
    navigationTimeout: 20_000,
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
    video: 'off',
  },
});
