import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import type { FullConfig } from '@playwright/test';
import { chromiumLaunchOptions } from './support/chromium';

const REPO = path.resolve(__dirname, '..', '..');
/** The first administrator's password on the test server: a known value, only for this run. */
export const ADMIN_PASSWORD = 'e2e-admin-password-known';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function tail(file: string, lines = 40): string {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

async function waitReady(base: string, child: ChildProcess, logFile: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`switchboard exited (${child.exitCode ?? child.signalCode}) before it was ready:\n${tail(logFile)}`);
    }
    try {
      const response = await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(2_000) });
      if (response.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`switchboard was not ready within ${timeoutMs / 1000}s:\n${tail(logFile)}`);
}

async function stop(child: ChildProcess, what = 'switchboard'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 20_000));
  if ((await Promise.race([exited, timer])) === 'timeout') {
    console.warn(`[e2e] ${what} did not stop within 20 s of SIGTERM; killing it`);
    child.kill('SIGKILL');
    await exited;
  }
}

/** The API token of the simulator's `admin` user (support/jenkins-sim.json). */
export const JENKINS_TOKEN = '11a7e1d6b1c2d3e4f5a6b7c8d9e0f1a2b3';

/**
 * Builds (cargo, quick when up to date) and starts the Jenkins simulator with
 * support/jenkins-sim.json on a free loopback port; resolves with its URL (first stdout line).
 */
async function startJenkinsSim(logFile: string): Promise<{ child: ChildProcess; url: string }> {
  const targetDir = process.env.CARGO_TARGET_DIR || path.join(os.homedir(), '.cache/switchboard/target');
  let bin = process.env.JENKINS_SIM_BIN;
  if (!bin) {
    const build = spawnSync('cargo', ['build', '--locked', '-p', 'jenkins-sim'], {
      cwd: REPO,
      env: { ...process.env, CARGO_TARGET_DIR: targetDir },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    if (build.status !== 0) throw new Error(`cargo build -p jenkins-sim failed (exit ${build.status})`);
    bin = path.join(targetDir, 'debug', 'jenkins-sim');
  }
  const config = path.join(__dirname, 'support', 'jenkins-sim.json');
  const log = fs.openSync(logFile, 'a');
  const child = spawn(bin, ['--config', config, '--bind', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', log] });
  fs.closeSync(log);
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`jenkins-sim did not start within 30 s:\n${tail(logFile)}`)), 30_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /jenkins-sim listening on (\S+)/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`jenkins-sim exited (${code}) before it listened:\n${tail(logFile)}`));
    });
  });
  child.stdout!.resume();
  return { child, url };
}

/** The password of the Buildbot master's `admin` user (e2e/buildbot/master.cfg; test-only). */
export const BUILDBOT_ADMIN_PASSWORD = 'admin-password-do-not-show';

/**
 * Builds (cargo, quick when up to date) and starts `buildbot-master`: a real Buildbot master
 * with local workers (e2e/buildbot/master.cfg) on free loopback ports. The first start creates
 * the venv e2e/.venv-buildbot (python3 and network). Resolves with its URL (first stdout line).
 * Its stdin stays open: when this process dies, the pipe closes and the master stops.
 */
async function startBuildbot(logFile: string): Promise<{ child: ChildProcess; url: string }> {
  const targetDir = process.env.CARGO_TARGET_DIR || path.join(os.homedir(), '.cache/switchboard/target');
  let bin = process.env.BUILDBOT_MASTER_BIN;
  if (!bin) {
    const build = spawnSync('cargo', ['build', '--locked', '-p', 'buildbot-harness', '--bin', 'buildbot-master'], {
      cwd: REPO,
      env: { ...process.env, CARGO_TARGET_DIR: targetDir },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    if (build.status !== 0) throw new Error(`cargo build -p buildbot-harness --bin buildbot-master failed (exit ${build.status})`);
    bin = path.join(targetDir, 'debug', 'buildbot-master');
  }
  const log = fs.openSync(logFile, 'a');
  // A small environment: the master's local workers pass it to every build step, and
  // Buildbot prints a step's environment at the head of its log.
  const env: NodeJS.ProcessEnv = {};
  for (const key of ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TMPDIR', 'USER']) {
    if (process.env[key] !== undefined) env[key] = process.env[key];
  }
  const child = spawn(bin, [], { env, stdio: ['pipe', 'pipe', log] });
  fs.closeSync(log);
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    // Generous: the first start creates the venv (pip install).
    const timer = setTimeout(() => reject(new Error(`buildbot-master did not start within 300 s:\n${tail(logFile)}`)), 300_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /buildbot listening on (\S+)/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`buildbot-master exited (${code}) before it listened:\n${tail(logFile)}`));
    });
  }).catch(async (err) => {
    await stop(child, 'buildbot-master');
    throw err;
  });
  child.stdout!.resume();
  return { child, url };
}

export default async function globalSetup(config: FullConfig): Promise<() => Promise<void>> {
  const bin = process.env.SWITCHBOARD_BIN || path.join(os.homedir(), '.cache/switchboard/target/debug/switchboard');
  if (!fs.existsSync(bin)) {
    throw new Error(
      `no switchboard binary at ${bin}: build it with \`cargo build -p switchboard-server\` ` +
        '(CARGO_TARGET_DIR=~/.cache/switchboard/target) or set SWITCHBOARD_BIN',
    );
  }
  const chromium = chromiumLaunchOptions().executablePath;
  if (!fs.existsSync(chromium)) {
    throw new Error(`no Chromium at ${chromium}: \`apt-get install -y chromium\` (or set SWITCHBOARD_CHROMIUM)`);
  }

  const explicitWebDir = process.env.SWITCHBOARD_WEB_DIR;
  const webDir = path.resolve(explicitWebDir || path.join(REPO, 'frontend', 'dist'));
  const haveApp = fs.existsSync(path.join(webDir, 'index.html'));
  if (!haveApp) {
    console.warn(
      `[e2e] WARNING: ${webDir}/index.html does not exist: build the web app (trunk build in frontend/) ` +
        'or set SWITCHBOARD_WEB_DIR. Every UI test will fail.',
    );
  }

  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-e2e-'));
  const logFile = path.join(dataDir, 'server.log');
  const simLogFile = path.join(dataDir, 'jenkins-sim.log');
  const buildbotLogFile = path.join(dataDir, 'buildbot-master.log');
  // The master starts (a few seconds) while the simulator is built and started.
  const buildbotStarting = startBuildbot(buildbotLogFile);
  buildbotStarting.catch(() => undefined);
  let sim: { child: ChildProcess; url: string };
  try {
    sim = await startJenkinsSim(simLogFile);
  } catch (err) {
    await buildbotStarting.then((b) => stop(b.child, 'buildbot-master')).catch(() => undefined);
    throw err;
  }
  const killSimOnExit = () => sim.child.kill('SIGKILL');
  process.once('exit', killSimOnExit);
  let buildbot: { child: ChildProcess; url: string };
  try {
    buildbot = await buildbotStarting;
  } catch (err) {
    await stop(sim.child, 'jenkins-sim');
    fs.rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  // SIGTERM, not SIGKILL: buildbot-master stops its master (a killed one is noticed by the
  // master's parent watchdog, and by the closed stdin pipe).
  const stopBuildbotOnExit = () => buildbot.child.kill('SIGTERM');
  process.once('exit', stopBuildbotOnExit);
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;

  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('SWITCHBOARD_')) env[key] = value;
  }
  Object.assign(env, {
    SWITCHBOARD_BIND: `127.0.0.1:${port}`,
    SWITCHBOARD_DATA_DIR: dataDir,
    SWITCHBOARD_ADMIN_PASSWORD: ADMIN_PASSWORD,
    SWITCHBOARD_LOG_FORMAT: 'text',
    RUST_LOG: process.env.RUST_LOG || 'info',
    NO_COLOR: '1',
    // Tool traffic stays on loopback (the simulator): an integration of jenkins.example.com
    // fails its check at once instead of waiting for DNS or a timeout.
    SWITCHBOARD_OUTBOUND_ALLOWED_HOSTS: '127.0.0.1',
    SWITCHBOARD_OUTBOUND_TIMEOUT_SECS: '10',
    // The specs test integrations applying directly; 13-approvals switches approval on (and
    // off again through a request).
    SWITCHBOARD_APPROVAL: 'off',
  });
  if (haveApp || explicitWebDir) env.SWITCHBOARD_WEB_DIR = webDir;

  const log = fs.openSync(logFile, 'a');
  const child = spawn(bin, ['serve'], { env, stdio: ['ignore', log, log] });
  fs.closeSync(log);
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);

  try {
    await waitReady(base, child, logFile);
  } catch (err) {
    await stop(child);
    await stop(sim.child, 'jenkins-sim');
    await stop(buildbot.child, 'buildbot-master');
    fs.rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  if (haveApp) {
    // Fail loudly (not with 13 timeouts) when the server does not serve the app at all.
    const login = await fetch(`${base}/login`).catch((err) => err as Error);
    const type = login instanceof Error ? '' : login.headers.get('content-type') ?? '';
    if (login instanceof Error || login.status !== 200 || !type.includes('text/html')) {
      const what = login instanceof Error ? login.message : `${login.status} ${type}`;
      console.warn(`[e2e] WARNING: GET /login answered ${what}: this server does not serve SWITCHBOARD_WEB_DIR; every UI test will fail.`);
    }
  }
  console.log(`[e2e] jenkins-sim pid ${sim.child.pid} on ${sim.url}`);
  console.log(`[e2e] buildbot-master pid ${buildbot.child.pid} on ${buildbot.url}`);
  console.log(`[e2e] switchboard pid ${child.pid} on ${base}; web dir ${env.SWITCHBOARD_WEB_DIR ?? '(none)'}; data ${dataDir}`);

  // Workers are started after the global setup and inherit these.
  process.env.SWITCHBOARD_E2E_BASE_URL = base;
  process.env.SWITCHBOARD_E2E_ADMIN_USER = 'admin';
  process.env.SWITCHBOARD_E2E_ADMIN_PASSWORD = ADMIN_PASSWORD;
  process.env.SWITCHBOARD_E2E_RUN_ID = crypto.randomBytes(3).toString('hex');
  process.env.SWITCHBOARD_E2E_JENKINS_URL = sim.url;
  process.env.SWITCHBOARD_E2E_JENKINS_TOKEN = JENKINS_TOKEN;
  process.env.SWITCHBOARD_E2E_BUILDBOT_URL = buildbot.url;
  process.env.SWITCHBOARD_E2E_BUILDBOT_PASSWORD = BUILDBOT_ADMIN_PASSWORD;

  return async () => {
    await stop(child);
    process.removeListener('exit', killOnExit);
    await stop(sim.child, 'jenkins-sim');
    process.removeListener('exit', killSimOnExit);
    await stop(buildbot.child, 'buildbot-master');
    process.removeListener('exit', stopBuildbotOnExit);
    const outputDir = config.projects[0]?.outputDir ?? path.join(__dirname, 'test-results');
    try {
      fs.mkdirSync(outputDir, { recursive: true });
      fs.copyFileSync(logFile, path.join(outputDir, 'switchboard-server.log'));
      fs.copyFileSync(simLogFile, path.join(outputDir, 'jenkins-sim.log'));
      fs.copyFileSync(buildbotLogFile, path.join(outputDir, 'buildbot-master.log'));
    } catch {
      // the log is a convenience
    }
    fs.rmSync(dataDir, { recursive: true, force: true });
    console.log(`[e2e] switchboard stopped (exit ${child.exitCode ?? child.signalCode}); log in ${path.relative(process.cwd(), outputDir)}/switchboard-server.log`);
  };
}
