#!/usr/bin/env node
// App-load measurements for `just bench` (e2e/bench.py), in headless Debian Chromium.
//
//   (a) first-load transfer: every response fetched while loading /login in a fresh browser
//       context with `Accept-Encoding: gzip`, grouped by kind (wasm, js, css, other). For each:
//       the raw size, the bytes on the wire (Playwright's request.sizes(): encoded body) and the
//       gzipped size (the wire size when the server sent it gzipped, else gzip -6 of the body).
//   (b) time from navigation to the integrations table holding `--rows` rows: sign in by putting
//       the session into sessionStorage, navigate to /integrations and take performance.now()
//       (milliseconds since the navigation started) when a MutationObserver first sees that many
//       `tbody tr`. Each run uses a fresh browser context (empty HTTP cache: "cold"), then
//       navigates once more in the same context ("warm").
//
// Usage: node measure-load.mjs --base http://127.0.0.1:PORT --username admin --password PW
//                              [--runs 5] [--rows 100] [--timeout 30000]
// Prints one JSON object on stdout; progress goes to stderr. Exit 0 unless the browser or the
// sign-in failed; a page that never renders is reported in the JSON, not as an error.

import fs from 'node:fs';
import zlib from 'node:zlib';
import { chromium } from 'playwright-core';

function parseArgs(argv) {
  const args = { runs: 5, rows: 100, timeout: 30000 };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '');
    const value = argv[i + 1];
    if (value === undefined) throw new Error(`missing value for ${argv[i]}`);
    args[key] = ['runs', 'rows', 'timeout'].includes(key) ? Number(value) : value;
  }
  for (const required of ['base', 'username', 'password']) {
    if (!args[required]) throw new Error(`--${required} is required`);
  }
  args.base = args.base.replace(/\/$/, '');
  return args;
}

const log = (message) => process.stderr.write(`measure-load: ${message}\n`);

function kindOf(url, contentType) {
  const path = new URL(url).pathname;
  if (contentType.includes('wasm') || path.endsWith('.wasm')) return 'wasm';
  if (contentType.includes('javascript') || /\.m?js$/.test(path)) return 'js';
  if (contentType.includes('css') || path.endsWith('.css')) return 'css';
  return 'other';
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

async function measureTransfer(browser, base, timeout) {
  const context = await browser.newContext({ extraHTTPHeaders: { 'Accept-Encoding': 'gzip' } });
  const page = await context.newPage();
  const pending = [];
  page.on('requestfinished', (request) => {
    pending.push(
      (async () => {
        const response = await request.response();
        if (!response) return null;
        const headers = await response.allHeaders();
        const body = await response.body().catch(() => Buffer.alloc(0));
        const sizes = await request.sizes();
        const encoding = (headers['content-encoding'] || 'identity').toLowerCase();
        const kind = kindOf(request.url(), headers['content-type'] || '');
        const gzip = encoding === 'gzip' ? sizes.responseBodySize : zlib.gzipSync(body, { level: 6 }).length;
        return { url: request.url(), status: response.status(), kind, encoding, raw: body.length, transferred: sizes.responseBodySize, gzip };
      })().catch((err) => ({ url: request.url(), error: String(err) })),
    );
  });
  let rendered = true;
  let error = null;
  try {
    const response = await page.goto(`${base}/login`, { waitUntil: 'load', timeout });
    if (!response || response.status() !== 200) throw new Error(`GET /login answered ${response ? response.status() : 'nothing'}`);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor({ timeout });
    await page.waitForLoadState('networkidle', { timeout });
  } catch (err) {
    rendered = false;
    error = String(err.message || err).split('\n')[0];
  }
  const resources = (await Promise.all(pending)).filter(Boolean);
  await context.close();
  const byKind = {};
  const total = { count: 0, raw: 0, transferred: 0, gzip: 0 };
  for (const r of resources) {
    if (r.error) continue;
    const k = (byKind[r.kind] ||= { count: 0, raw: 0, transferred: 0, gzip: 0 });
    for (const acc of [k, total]) {
      acc.count += 1;
      acc.raw += r.raw;
      acc.transferred += r.transferred;
      acc.gzip += r.gzip;
    }
  }
  const app = ['wasm', 'js', 'css'].reduce(
    (acc, kind) => {
      const k = byKind[kind] || { count: 0, raw: 0, transferred: 0, gzip: 0 };
      return { count: acc.count + k.count, raw: acc.raw + k.raw, transferred: acc.transferred + k.transferred, gzip: acc.gzip + k.gzip };
    },
    { count: 0, raw: 0, transferred: 0, gzip: 0 },
  );
  const serverGzips = resources.some((r) => r.kind !== 'other' && r.encoding === 'gzip');
  return { url: '/login', rendered, error, server_gzips: serverGzips, by_kind: byKind, app, total, resources };
}

const ROWS_PROBE = (want) => {
  // Runs before any script of the page: note when `want` table rows first exist.
  window.__sbRows = { want, at: null, frameAt: null, max: 0 };
  const check = () => {
    const n = document.querySelectorAll('tbody tr').length;
    const state = window.__sbRows;
    if (n > state.max) state.max = n;
    if (state.at === null && n >= state.want) {
      state.at = performance.now();
      observer.disconnect();
      requestAnimationFrame(() => { state.frameAt = performance.now(); });
    }
  };
  const observer = new MutationObserver(check);
  observer.observe(document, { childList: true, subtree: true });
};

async function timeRows(page, base, rows, timeout) {
  await page.goto(`${base}/integrations`, { waitUntil: 'commit', timeout });
  try {
    await page.waitForFunction(() => window.__sbRows && window.__sbRows.frameAt !== null, null, { timeout, polling: 50 });
  } catch {
    const state = await page.evaluate(() => window.__sbRows).catch(() => null);
    return { reached: false, max_rows: state ? state.max : 0 };
  }
  const state = await page.evaluate(() => window.__sbRows);
  return { reached: true, dom_ms: state.at, frame_ms: state.frameAt, max_rows: state.max };
}

async function measureRows(browser, args) {
  const login = await fetch(`${args.base}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: args.username, password: args.password }),
  });
  if (login.status !== 200) throw new Error(`sign-in answered ${login.status}: ${await login.text()}`);
  const answer = await login.json();
  const session = JSON.stringify({ access_token: answer.access_token, user: { id: answer.user.id, username: answer.user.username, role: answer.user.role } });

  const cold = [];
  const warm = [];
  let failure = null;
  for (let run = 0; run < args.runs && !failure; run++) {
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      // Same origin, no app: a place to put the session into this tab's sessionStorage.
      await page.goto(`${args.base}/healthz`);
      await page.evaluate((value) => window.sessionStorage.setItem('switchboard.session', value), session);
      await page.addInitScript(ROWS_PROBE, args.rows);
      for (const [label, into] of [['cold', cold], ['warm', warm]]) {
        const result = await timeRows(page, args.base, args.rows, args.timeout);
        if (!result.reached) {
          failure = `the table never held ${args.rows} rows within ${args.timeout} ms (at most ${result.max_rows} seen, ${label} run ${run + 1})`;
          break;
        }
        into.push(result);
        log(`run ${run + 1} ${label}: ${args.rows} rows after ${result.dom_ms.toFixed(1)} ms (next frame ${result.frame_ms.toFixed(1)} ms)`);
      }
    } finally {
      await context.close();
    }
  }
  const summary = (list) =>
    list.length
      ? { runs_ms: list.map((r) => Math.round(r.dom_ms * 10) / 10), median_ms: median(list.map((r) => r.dom_ms)), min_ms: Math.min(...list.map((r) => r.dom_ms)), max_ms: Math.max(...list.map((r) => r.dom_ms)), median_frame_ms: median(list.map((r) => r.frame_ms)) }
      : null;
  return { rows: args.rows, reached: !failure, failure, cold: summary(cold), warm: summary(warm) };
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const options = JSON.parse(fs.readFileSync(new URL('./chromium.json', import.meta.url), 'utf8'));
  const executablePath = process.env.SWITCHBOARD_CHROMIUM || options.executablePath;
  const browser = await chromium.launch({ executablePath, args: options.args, headless: true });
  try {
    const version = browser.version();
    log(`Chromium ${version}; ${args.base}`);
    const transfer = await measureTransfer(browser, args.base, args.timeout);
    log(`first load of /login: app (wasm+js+css) ${transfer.app.gzip} bytes gzipped, total ${transfer.total.gzip}; rendered: ${transfer.rendered}`);
    const load = transfer.rendered ? await measureRows(browser, args) : { rows: args.rows, reached: false, failure: 'the app did not render /login', cold: null, warm: null };
    process.stdout.write(JSON.stringify({ chromium: version, transfer, load }) + '\n');
  } finally {
    await browser.close();
  }
}

main().catch((err) => {
  process.stderr.write(`measure-load: ${err.stack || err}\n`);
  process.exit(1);
});
