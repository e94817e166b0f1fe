// Drives a real VS Code (code-server) in headless Chromium with playwright-core. Used by the e2e journey.
import { spawn, execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync, mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { chromium } from 'playwright-core';

const repoRoot = new URL('../..', import.meta.url).pathname;
export const artifactsDir = join(repoRoot, '.e2e-artifacts');

const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

export function installCodeServer() {
  const out = execFileSync('bash', [join(repoRoot, 'scripts/e2e/install-code-server.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  return out.trim().split('\n').pop();
}

async function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** A sandbox of user data + extensions + the extension under test installed from its VSIX. */
export function prepareProfile(codeServerDir, vsixPath, userSettings) {
  const profile = mkdtempSync(join(tmpdir(), 'cbs-e2e-'));
  const userDataDir = join(profile, 'user-data');
  const extensionsDir = join(profile, 'extensions');
  mkdirSync(join(userDataDir, 'User'), { recursive: true });
  writeFileSync(join(userDataDir, 'User', 'settings.json'), JSON.stringify({
    'security.workspace.trust.enabled': false,
    'workbench.startupEditor': 'none',
    'workbench.tips.enabled': false,
    'extensions.autoCheckUpdates': false,
    'extensions.autoUpdate': false,
    'telemetry.telemetryLevel': 'off',
    ...userSettings,
  }, null, 2));
  execFileSync(process.execPath, [entry(codeServerDir), '--user-data-dir', userDataDir, '--extensions-dir', extensionsDir, '--install-extension', vsixPath], { stdio: 'pipe' });
  return { profile, userDataDir, extensionsDir };
}

function entry(codeServerDir) {
  return join(codeServerDir, 'node_modules/code-server/out/node/entry.js');
}

/** Starts code-server on loopback in its own process group, so stopping it ends the extension host and watchers too. */
export async function startCodeServer(codeServerDir, { userDataDir, extensionsDir }, workspace, env = {}) {
  const port = await freePort();
  const child = spawn(process.execPath, [
    entry(codeServerDir), '--auth', 'none', '--bind-addr', `127.0.0.1:${port}`,
    '--disable-telemetry', '--disable-update-check', '--disable-workspace-trust',
    '--user-data-dir', userDataDir, '--extensions-dir', extensionsDir, workspace,
  ], { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let log = '';
  child.stdout.on('data', (d) => { log += d; });
  child.stderr.on('data', (d) => { log += d; });
  const deadline = Date.now() + 60_000;
  while (!log.includes('HTTP server listening')) {
    if (child.exitCode !== null) throw new Error(`code-server exited: ${log}`);
    if (Date.now() > deadline) throw new Error(`code-server did not start: ${log}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    url: `http://127.0.0.1:${port}/?folder=${encodeURIComponent(workspace)}`,
    log: () => log,
    stop: () => { try { process.kill(-child.pid, 'SIGTERM'); } catch { /* already gone */ } },
  };
}

export async function launchBrowser() {
  return chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });
}

export async function openWorkbench(browser, url, theme = 'dark') {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, colorScheme: theme });
  const page = await context.newPage();
  await page.goto(url);
  await page.waitForSelector('.monaco-workbench', { timeout: 90_000 });
  await page.waitForSelector('.explorer-folders-view .monaco-list-row', { timeout: 90_000 });
  return page;
}

export async function screenshot(page, name) {
  mkdirSync(artifactsDir, { recursive: true });
  await page.screenshot({ path: join(artifactsDir, `${name}.png`) });
}

export async function explorerRow(page, label) {
  return page.locator('.explorer-folders-view .monaco-list-row', { hasText: label }).first();
}

export async function runContextMenu(page, rowLabel, itemLabel) {
  const row = await explorerRow(page, rowLabel);
  await row.click({ button: 'right' });
  const item = page.locator('.context-view .action-item', { hasText: itemLabel }).first();
  await item.waitFor({ timeout: 15_000 });
  await item.click();
}

export async function runCommand(page, title) {
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor();
  await input.fill(`>${title}`);
  await page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first().click();
}

/** The active webview's document (code-server nests it in two iframes). */
export function panelFrame(page) {
  return page.frameLocator('iframe.webview.ready').frameLocator('#active-frame');
}

export async function notificationTexts(page) {
  return page.locator('.notification-toast .notification-list-item-message').allTextContents();
}
