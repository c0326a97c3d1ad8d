import { test as base, expect } from '@playwright/test';
import { Api } from './api';

export interface ServerInfo {
  baseURL: string;
  adminUser: string;
  adminPassword: string;
}

/** What the global setup exported: the server's address and the administrator's password. */
export function serverInfo(): ServerInfo {
  const baseURL = process.env.SWITCHBOARD_E2E_BASE_URL;
  if (!baseURL) throw new Error('SWITCHBOARD_E2E_BASE_URL is not set: run the tests through playwright.config.ts (global setup)');
  return {
    baseURL,
    adminUser: process.env.SWITCHBOARD_E2E_ADMIN_USER || 'admin',
    adminPassword: process.env.SWITCHBOARD_E2E_ADMIN_PASSWORD || '',
  };
}

type TestFixtures = {
  /** Uncaught errors in any page of the test's context (a WASM panic shows here); must stay empty. */
  pageErrors: Error[];
};

type WorkerFixtures = {
  server: ServerInfo;
  /** The API, signed in as the first administrator (one session per worker). */
  adminApi: Api;
};

export const test = base.extend<TestFixtures, WorkerFixtures>({
  server: [async ({}, use) => use(serverInfo()), { scope: 'worker' }],

  baseURL: async ({ server }, use) => use(server.baseURL),

  adminApi: [
    async ({ playwright, server }, use) => {
      const request = await playwright.request.newContext({ baseURL: server.baseURL });
      await use(await Api.login(request, server.adminUser, server.adminPassword));
      await request.dispose();
    },
    { scope: 'worker' },
  ],

  pageErrors: [
    async ({ context }, use, testInfo) => {
      const errors: Error[] = [];
      context.on('weberror', (webError) => errors.push(webError.error()));
      await use(errors);
      if (errors.length > 0) {
        await testInfo.attach('page-errors.txt', { body: errors.map((e) => e.stack || String(e)).join('\n\n'), contentType: 'text/plain' });
      }
      expect(errors.map((e) => e.message), 'uncaught errors in the page').toEqual([]);
    },
    { auto: true },
  ],
});

export { expect };
