// Drives a real VS Code (code-server) in headless Chromium with playwright-core. Used by the e2e journey.
import { spawn, execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
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
export function prepareProfile(codeServerDir, vsixPath, userSettings, parent = tmpdir()) {
  const profile = mkdtempSync(join(parent, 'cbs-e2e-'));
  const userDataDir = join(profile, 'user-data');
  const extensionsDir = join(profile, 'extensions');
  mkdirSync(join(userDataDir, 'User'), { recursive: true });
  writeFileSync(join(userDataDir, 'User', 'settings.json'), JSON.stringify({
    'security.workspace.trust.enabled': false,
    'workbench.startupEditor': 'none',
    'workbench.tips.enabled': false,
    'workbench.enableExperiments': false,
    'extensions.autoCheckUpdates': false,
    'extensions.autoUpdate': false,
    'extensions.ignoreRecommendations': true,
    'telemetry.telemetryLevel': 'off',
    'update.mode': 'none',
    'chat.commandCenter.enabled': false,
    'workbench.welcomePage.walkthroughs.openOnInstall': false,
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
    '--disable-telemetry', '--disable-update-check', '--disable-workspace-trust', '--disable-getting-started-override',
    '--user-data-dir', userDataDir, '--extensions-dir', extensionsDir, workspace,
  ], { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let log = '';
  child.stdout.on('data', (d) => { log += d; });
  child.stderr.on('data', (d) => { log += d; });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const deadline = Date.now() + 60_000;
  while (!log.includes('HTTP server listening')) {
    if (child.exitCode !== null) throw new Error(`code-server exited: ${log}`);
    if (Date.now() > deadline) throw new Error(`code-server did not start: ${log}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  const signalGroup = (signal) => { try { process.kill(-child.pid, signal); } catch { /* already gone */ } };
  return {
    pid: child.pid,
    url: `http://127.0.0.1:${port}/?folder=${encodeURIComponent(workspace)}`,
    log: () => log,
    /** SIGTERM to the whole group (server, extension host, watchers, our backend), SIGKILL whatever is left after 5 s. */
    stop: async () => {
      signalGroup('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      signalGroup('SIGKILL');
    },
  };
}

export async function launchBrowser() {
  return chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });
}

/**
 * Records every notification toast the workbench shows (severity + text), so that a short-lived one (a progress
 * notification of a fast scan) is not missed and an unexpected error is caught even after it was dismissed.
 * Runs in the workbench page before its own scripts, again after every reload.
 */
function recordNotifications() {
  const seen = new Set();
  window.__e2eNotifications = [];
  const scan = () => {
    for (const item of document.querySelectorAll('.notification-list-item')) {
      const message = item.querySelector('.notification-list-item-message')?.textContent ?? '';
      const icon = item.querySelector('.notification-list-item-icon');
      const severity = icon?.classList.contains('codicon-error') ? 'error' : icon?.classList.contains('codicon-warning') ? 'warning' : 'info';
      const key = `${severity}\u0000${message}`;
      if (message && !seen.has(key)) {
        seen.add(key);
        window.__e2eNotifications.push({ severity, message, at: Date.now() });
      }
    }
  };
  new MutationObserver(scan).observe(document, { subtree: true, childList: true, characterData: true, attributes: true, attributeFilter: ['class'] });
}

export async function openWorkbench(browser, url, theme = 'dark') {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, colorScheme: theme });
  await context.addInitScript(recordNotifications);
  const page = await context.newPage();
  await page.goto(url);
  await waitForWorkbench(page);
  return page;
}

export async function waitForWorkbench(page) {
  await page.waitForSelector('.monaco-workbench', { timeout: 90_000 });
  await page.waitForSelector('.explorer-folders-view .monaco-list-row', { timeout: 90_000 });
}

/** Every notification seen since the page (re)loaded: [{ severity: 'error'|'warning'|'info', message, at }]. */
export async function seenNotifications(page) {
  return page.evaluate(() => window.__e2eNotifications ?? []);
}

export async function screenshot(page, name) {
  mkdirSync(artifactsDir, { recursive: true });
  await page.screenshot({ path: join(artifactsDir, `${name}.png`) });
}

export function explorerRow(page, label) {
  return page.locator('.explorer-folders-view .monaco-list-row', { has: page.locator('.label-name', { hasText: new RegExp(`^${escapeRegExp(label)}$`) }) }).first();
}

function escapeRegExp(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Right-clicks an Explorer row and runs a menu item. Right after the workbench loads, extension contributions may not
 * be registered yet: a menu without the item is closed and opened again until it appears.
 */
export async function runContextMenu(page, rowLabel, itemLabel, timeoutMs = 60_000) {
  const row = explorerRow(page, rowLabel);
  const item = page.locator('.context-view .action-item', { hasText: itemLabel }).first();
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await row.click({ button: 'right' });
    await page.locator('.context-view .monaco-menu').waitFor({ timeout: 10_000 });
    if (await item.isVisible()) break;
    await page.keyboard.press('Escape');
    if (Date.now() > deadline) throw new Error(`"${itemLabel}" never appeared in the context menu of ${rowLabel}`);
    await page.waitForTimeout(1000);
  }
  // A click right after the menu opens can land before its mouse-up guard; hover then Enter is reliable.
  await item.hover();
  await page.waitForTimeout(150);
  await page.keyboard.press('Enter');
  await page.locator('.context-view .monaco-menu').waitFor({ state: 'detached', timeout: 5_000 }).catch(() => {});
}

export async function runCommand(page, title) {
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor();
  await input.fill(`>${title}`);
  const row = page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first();
  await row.waitFor({ timeout: 15_000 });
  await row.click();
}

/** The visible webview's document (code-server nests it in two iframes; hidden panels keep their iframes). */
export function panelFrame(page) {
  return page.frameLocator('iframe.webview.ready >> visible=true').frameLocator('#active-frame');
}

/** Notification toasts currently shown. */
export function toast(page, text) {
  return page.locator('.notification-toast', { hasText: text });
}

export async function notificationTexts(page) {
  return page.locator('.notification-toast .notification-list-item-message').allTextContents();
}

/** Pids of our backend workers: dist/backend.js of the extension installed in this profile only. */
export function backendPids(extensionsDir) {
  const pids = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let cmdline;
    try { cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8'); } catch { continue; }
    const args = cmdline.split('\0');
    if (args.some((a) => a.startsWith(`${extensionsDir}/`) && a.endsWith('/dist/backend.js'))) pids.push(Number(name));
  }
  return pids;
}


/** Parent pid of a process, or null when it is gone. */
export function parentPid(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return null;
  }
}
