// The whole user journey in a real VS Code (code-server) with the extension installed from its VSIX:
// scan from the Explorer, inspect, delete + undo, cancel + resume, crash + retry, hostile captions, reload.
// One code-server and one browser are shared by the sequential steps; screenshots go to .e2e-artifacts/.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import {
  artifactsDir, backendPids, installCodeServer, launchBrowser, openWorkbench, panelFrame, prepareProfile, runCommand,
  runContextMenu, screenshot, seenNotifications, startCodeServer, toast, waitForWorkbench,
} from './codeServer.mjs';

const repoRoot = new URL('../..', import.meta.url).pathname;
const cli = join(repoRoot, 'bin', 'backdoor-scan.js');
const vsixPath = join(repoRoot, 'clip-backdoor-scanner-linux-x64.vsix');
const SCAN_ITEM = 'Scan for Backdoor Samples';
/** Copies of the small clean set that make the cancel / crash datasets big enough to interrupt mid-embedding. */
const BIG_COPIES = 16;
const HOSTILE_CAPTIONS = [
  '<img src=x onerror="window.__e2eInjected=1;alert(1)">',
  '<script>window.__e2eInjected=1;alert(1)</script>',
  'javascript:alert(1)',
  '"><svg onload=alert(1)>',
  "'); alert(1); //",
  '<iframe src="javascript:alert(1)"></iframe>',
  '<a href="javascript:alert(1)">click me</a>',
  '{{constructor.constructor("alert(1)")()}}',
  '<style>body{display:none}</style>',
  '\u202Egnp.exe <b>bold</b>',
  '<vscode-button onclick="alert(1)">x</vscode-button>',
  '<img src=x onerror=alert(1)>',
];

function cliRun(args) {
  return execFileSync(process.execPath, [cli, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `probe` until it returns a truthy value; fails with the last value seen. */
async function waitUntil(what, probe, timeoutMs = 60_000, intervalMs = 250) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await probe();
    if (last) return last;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}; last: ${JSON.stringify(last)}`);
    await sleep(intervalMs);
  }
}

/** sha256 of every file under dir (relative path → hex), skipping the given top-level names. */
function hashTree(dir, skip = new Set()) {
  const out = new Map();
  const walk = (d) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const path = join(d, entry.name);
      if (d === dir && skip.has(entry.name)) continue;
      if (entry.isDirectory()) walk(path);
      else out.set(relative(dir, path), createHash('sha256').update(readFileSync(path)).digest('hex'));
    }
  };
  walk(dir);
  return out;
}

/** The summary.json the pipeline wrote for a dataset (results live in <cache>/results/<hash>/). */
function readSummary(cacheDir, dataset) {
  const resultsRoot = join(cacheDir, 'results');
  if (!existsSync(resultsRoot)) return undefined;
  for (const name of readdirSync(resultsRoot)) {
    const file = join(resultsRoot, name, 'summary.json');
    if (!existsSync(file)) continue;
    const summary = JSON.parse(readFileSync(file, 'utf8'));
    if (summary.dataset === dataset) return { ...summary, file, mtimeMs: statSync(file).mtimeMs };
  }
  return undefined;
}

describe('CLIP Backdoor Scanner in a real VS Code (code-server)', function () {
  const suiteStarted = Date.now();
  const figures = {};
  /** Error/warning notifications a step expects; anything else fails the step. */
  const allowedProblems = [];
  const problemsSeen = [];
  const dialogs = [];
  let work;
  let workspace;
  let cacheDir;
  let profile;
  let server;
  let browser;
  let page;

  const dataset = (name) => join(workspace, name);

  /** Fails on any error or warning toast that no step expected (checked cumulatively, survives reloads). */
  async function assertNoUnexpectedProblems() {
    for (const note of await seenNotifications(page)) {
      if (note.severity === 'info') continue;
      const key = `${note.severity}: ${note.message}`;
      if (!problemsSeen.includes(key)) problemsSeen.push(key);
    }
    const unexpected = problemsSeen.filter((p) => !allowedProblems.some((re) => re.test(p)));
    assert.deepEqual(unexpected, [], 'unexpected error/warning notifications');
    assert.deepEqual(dialogs, [], 'a JavaScript dialog was opened');
  }

  async function closeAllEditors() {
    await runCommand(page, 'View: Close All Editors');
    await page.locator('iframe.webview.ready >> visible=true').waitFor({ state: 'detached', timeout: 10_000 }).catch(() => {});
  }

  /** Waits for the progress notification of a scan to report `Embedding images n/N` with n > 0; returns its text. */
  async function waitForEmbeddingProgress(name) {
    const message = toast(page, `Scanning ${name} for backdoor samples`).locator('.notification-list-item-message');
    return waitUntil(`embedding progress of ${name}`, async () => {
      const text = await message.first().textContent({ timeout: 1000 }).catch(() => '');
      const match = /Embedding images (\d+)\/(\d+)/.exec(text ?? '');
      return match && Number(match[1]) > 0 && Number(match[1]) < Number(match[2]) ? text : null;
    }, 120_000, 100);
  }

  /** Waits for the results panel of a dataset; an unexpected error notification meanwhile fails at once. */
  async function waitForPanel(name, timeoutMs = 180_000) {
    const frame = panelFrame(page);
    const title = frame.locator('.summary-title', { hasText: new RegExp(`/${name}$`) });
    await waitUntil(`the results panel of ${name}`, async () => {
      await assertNoUnexpectedProblems();
      return title.isVisible().catch(() => false);
    }, timeoutMs, 500);
    await frame.locator('[data-sample-id]').first().waitFor({ timeout: 30_000 });
    return frame;
  }

  /** Every preview <img> the grid has rendered: loaded, with pixels. */
  async function waitForPreviews(frame, minimum) {
    return waitUntil('previews loaded', async () => {
      const images = await frame.locator('.card img.thumb-image').evaluateAll((els) => els.map((img) => ({
        src: img.getAttribute('src') ?? '', complete: img.complete, width: img.naturalWidth, hidden: img.hidden,
      })));
      const loaded = images.filter((i) => i.src && i.complete && i.width > 0);
      return images.length >= minimum && loaded.length === images.length ? loaded : null;
    }, 60_000);
  }

  before(async function () {
    this.timeout(300_000);
    const codeServerDir = installCodeServer();
    assert.ok(existsSync(vsixPath), `${vsixPath} missing: run npm run package first (npm run test:e2e does)`);
    figures.vsixBytes = statSync(vsixPath).size;

    work = mkdtempSync(join(tmpdir(), 'cbs-e2e-journey-'));
    workspace = join(work, 'workspace');
    cacheDir = join(work, 'cache');
    mkdirSync(workspace, { recursive: true });
    const modelDir = join(cacheDir, 'models', 'tiny');
    cliRun(['model', 'synth', '--preset', 'tiny', '--out', modelDir]);

    // The demo generates a clean synthetic set under its cache (and scans a poisoned copy there); take the clean set.
    const demo = cliRun(['demo', '--count', '100', '--cache', join(work, 'demo-cache')]);
    const generated = /Generating \d+ image.caption pairs in (.+)$/m.exec(demo)?.[1]?.trim();
    assert.ok(generated && existsSync(generated), `cannot find the demo's generated clean set in its output:\n${demo}`);
    const clean = join(work, 'clean');
    cpSync(generated, clean, { recursive: true });
    rmSync(join(work, 'demo-cache'), { recursive: true, force: true });

    cliRun(['poison', clean, '--out', dataset('ds'), '--attack', 'badnets', '--rate', '0.05', '--target', 'banana', '--seed', '3']);
    renameSync(join(dataset('ds'), 'labels.csv'), join(work, 'ds-labels.csv')); // ground truth stays out of the dataset
    for (const name of ['big', 'crash']) {
      for (let copy = 0; copy < BIG_COPIES; copy++) cpSync(clean, join(dataset(name), `part${String(copy).padStart(2, '0')}`), { recursive: true });
    }
    const hostile = dataset('hostile');
    mkdirSync(hostile);
    // The whole clean set (the default LID k = 64 needs a batch of more than 65), with hostile captions on the first 24.
    const images = readdirSync(clean).filter((f) => f.endsWith('.jpg'));
    images.forEach((image, i) => {
      const stem = i === 0 ? '"><img src=x onerror=alert(2)>' : image.replace(/\.jpg$/, '');
      cpSync(join(clean, image), join(hostile, `${stem}.jpg`));
      const caption = i < 24 ? HOSTILE_CAPTIONS[i % HOSTILE_CAPTIONS.length] : readFileSync(join(clean, image.replace(/\.jpg$/, '.txt')), 'utf8');
      writeFileSync(join(hostile, `${stem}.txt`), caption);
    });

    profile = prepareProfile(codeServerDir, vsixPath, {
      'backdoorScanner.model': modelDir,
      'backdoorScanner.cacheDirectory': cacheDir,
      'backdoorScanner.device': 'cpu',
      'backdoorScanner.flagPolicy': { kind: 'top-percent', detector: 'dao', percent: 5 },
    }, work);
    server = await startCodeServer(codeServerDir, profile, workspace);
    browser = await launchBrowser();
    page = await openWorkbench(browser, server.url);
    page.on('dialog', (dialog) => {
      dialogs.push(`${dialog.type()}: ${dialog.message()}`);
      void dialog.dismiss().catch(() => {});
    });
    figures.setupSeconds = (Date.now() - suiteStarted) / 1000;
  });

  after(async function () {
    this.timeout(60_000);
    await browser?.close().catch(() => {});
    await server?.stop();
    const leftover = profile ? backendPids(profile.extensionsDir) : [];
    for (const pid of leftover) try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    if (work && process.env.E2E_KEEP !== '1') rmSync(work, { recursive: true, force: true });
    const seconds = ((Date.now() - suiteStarted) / 1000).toFixed(1);
    console.log('\n  e2e figures');
    console.log(`    VSIX size: ${figures.vsixBytes} bytes (${(figures.vsixBytes / 1024 / 1024).toFixed(2)} MiB)`);
    console.log(`    activation (Developer: Show Running Extensions): ${figures.activation ?? 'not measured'}`);
    console.log(`    activation event (exthost.log): ${figures.activationEvent ?? 'not found'}`);
    console.log(`    right-click → progress notification: ${figures.clickToProgressMs ?? '?'} ms; → panel with previews: ${figures.clickToPanelMs ?? '?'} ms`);
    console.log(`    setup (code-server, datasets, profile, workbench): ${figures.setupSeconds?.toFixed(1) ?? '?'} s; suite: ${seconds} s`);
    console.log(`    after cancel: ${figures.backendsAfterCancel ?? '?'} idle backend(s); rescan resumed with ${figures.resumed ?? '?'}`);
    console.log(`    backend processes left after stop: ${leftover.length}`);
    console.log(`    screenshots: ${artifactsDir}`);
  });

  afterEach(async function () {
    if (this.currentTest?.state === 'failed' && page) {
      await screenshot(page, `failed-${this.currentTest.title.slice(0, 40).replace(/[^a-z0-9]+/gi, '-')}`).catch(() => {});
    }
  });

  it('1. right-click a dataset folder → Scan → progress → panel sorted by score with loaded previews', async function () {
    await screenshot(page, '00-workbench');
    const clicked = Date.now();
    await runContextMenu(page, 'ds', SCAN_ITEM);
    await toast(page, 'Scanning ds for backdoor samples').first().waitFor({ timeout: 30_000 }).then(() => screenshot(page, '01a-progress')).catch(() => {});
    const frame = await waitForPanel('ds');
    const progress = (await seenNotifications(page)).find((n) => n.message.startsWith('Scanning ds for backdoor samples'));
    assert.ok(progress, 'no progress notification was shown for the scan');
    figures.clickToProgressMs = progress.at - clicked;
    const previews = await waitForPreviews(frame, 5);
    figures.clickToPanelMs = Date.now() - clicked;

    const cards = await frame.locator('[data-sample-id][data-position]').evaluateAll((els) => els
      .map((el) => ({ id: el.dataset.sampleId, position: Number(el.dataset.position), score: el.querySelector('.card-score')?.textContent ?? '' }))
      .sort((a, b) => a.position - b.position));
    assert.ok(cards.length >= 10, `only ${cards.length} samples rendered`);
    const scores = cards.map((c) => Number(/DAO\s+(-?[\d.]+)/.exec(c.score)?.[1]));
    assert.ok(scores.every((s) => Number.isFinite(s)), `unreadable scores: ${cards.map((c) => c.score).join(' | ')}`);
    for (let i = 1; i < scores.length; i++) assert.ok(scores[i] <= scores[i - 1], `not sorted by DAO at position ${i}: ${scores.slice(0, i + 1).join(', ')}`);
    assert.match(await frame.locator('.summary-meta').textContent(), /100 samples/);
    assert.ok(previews.length >= 5);
    await screenshot(page, '01b-panel');
    await assertNoUnexpectedProblems();
  });

  it('2. the top sample\'s detail view shows its neighbours', async function () {
    const frame = panelFrame(page);
    const top = frame.locator('[data-sample-id][data-position="0"]');
    const topId = await top.getAttribute('data-sample-id');
    await top.dblclick();
    const detail = frame.locator('section.detail');
    await detail.waitFor({ state: 'visible' });
    assert.equal(await detail.getAttribute('data-sample-id'), topId);
    await frame.locator('.neighbours .neighbour').first().waitFor({ timeout: 30_000 });
    const neighbours = await frame.locator('.neighbours .neighbour').count();
    assert.ok(neighbours >= 1, 'no neighbours shown');
    await waitUntil('detail image and neighbour previews', () => frame.locator('section.detail').evaluate((el) => {
      const images = [...el.querySelectorAll('img')].filter((img) => !img.hidden && img.getAttribute('src'));
      return images.length >= 2 && images.every((img) => img.complete && img.naturalWidth > 0);
    }), 30_000);
    assert.ok((await frame.locator('.detail-scores .score-entry').count()) >= 5, 'scores with explanations missing');
    await screenshot(page, '02-detail');
    await frame.locator('section.detail vscode-button', { hasText: 'Close' }).click();
    await detail.waitFor({ state: 'hidden' });
    await assertNoUnexpectedProblems();
  });

  it('3. mark flagged → apply deletions → confirm → files quarantined → Undo Last Deletion → byte-identical', async function () {
    const frame = panelFrame(page);
    const folder = dataset('ds');
    const before = hashTree(folder);
    const flaggedIds = await frame.locator('[data-position][data-sample-id]:has(.chip-flagged)').evaluateAll((els) => els.map((el) => el.dataset.sampleId));
    const flaggedCount = Number(await frame.locator('[data-count="flagged"]').textContent());
    assert.ok(flaggedCount >= 1 && flaggedIds.length === flaggedCount, `flagged badge ${flaggedCount}, flagged cards ${flaggedIds.join(',')}`);

    await frame.locator('vscode-button', { hasText: 'Mark all flagged' }).click();
    await waitUntil('marked count', async () => Number(await frame.locator('[data-count="marked"]').textContent()) === flaggedCount);
    await frame.locator('vscode-button', { hasText: 'Apply deletions' }).click();
    const dialog = page.locator('.monaco-dialog-box');
    await dialog.waitFor({ timeout: 15_000 });
    assert.match(await dialog.innerText(), new RegExp(`Delete ${flaggedCount} marked sample`));
    await screenshot(page, '03a-confirm');
    await dialog.locator('.monaco-button', { hasText: 'Move to Quarantine' }).click();

    const removed = [...before.keys()].filter((file) => flaggedIds.some((id) => file.replace(/\.[^.]+$/, '') === id.replace(/\.[^.]+$/, '')));
    assert.ok(removed.length >= flaggedCount * 2, `expected image + caption files for ${flaggedIds.join(', ')}; matched ${removed.join(', ')}`);
    await waitUntil('flagged files gone', () => removed.every((file) => !existsSync(join(folder, file))), 30_000);
    await waitUntil('panel without the deleted samples', async () => Number(await frame.locator('[data-count="shown"]').textContent()) === 100 - flaggedCount, 30_000);
    await screenshot(page, '03b-deleted');

    await runCommand(page, 'Backdoor Scanner: Undo Last Deletion');
    await waitUntil('files restored', () => removed.every((file) => existsSync(join(folder, file))), 30_000);
    const after = hashTree(folder, new Set(['.backdoor-quarantine']));
    assert.deepEqual([...after.entries()].sort(), [...before.entries()].sort(), 'restored dataset differs from the original');
    await waitUntil('panel shows every sample again', async () => Number(await frame.locator('[data-count="shown"]').textContent()) === 100, 30_000);
    await screenshot(page, '03c-undone');
    await assertNoUnexpectedProblems();
  });

  it('4. cancel a scan → no backend keeps working → scan again → resumes from the cache', async function () {
    await closeAllEditors();
    await runContextMenu(page, 'big', SCAN_ITEM);
    const progressText = await waitForEmbeddingProgress('big');
    await screenshot(page, '04a-scanning');
    await toast(page, 'Scanning big for backdoor samples').locator('.monaco-button', { hasText: 'Cancel' }).first().click();
    await waitUntil('cancel confirmation', async () => (await seenNotifications(page)).some((n) => n.message.startsWith('Scan of big cancelled')), 30_000);
    await screenshot(page, '04b-cancelled');

    // The cancelled scan must really stop: the worker is shut down (the next request starts a fresh one).
    await waitUntil('no backend process after cancel', async () => backendPids(profile.extensionsDir).length === 0, 15_000)
      .catch(() => assert.fail(`backend still running after cancel (pids ${backendPids(profile.extensionsDir).join(', ')}; progress was "${progressText}")`));
    figures.backendsAfterCancel = backendPids(profile.extensionsDir).length;

    await runContextMenu(page, 'big', SCAN_ITEM);
    const frame = await waitForPanel('big');
    const summary = readSummary(cacheDir, dataset('big'));
    assert.ok(summary, 'no results for big');
    assert.equal(summary.sampleCount, 100 * BIG_COPIES);
    assert.ok(summary.cachedImages > 0, `did not resume from the cache: ${summary.cachedImages} cached, ${summary.embeddedImages} embedded`);
    assert.match(await frame.locator('.summary-meta').textContent(), new RegExp(`${summary.cachedImages.toLocaleString('en-US')} from cache`));
    figures.resumed = `${summary.cachedImages} cached + ${summary.embeddedImages} embedded`;
    await waitForPreviews(frame, 5);
    await screenshot(page, '04c-resumed');
    await assertNoUnexpectedProblems();
  });

  it('5. backend killed mid-scan → clear error with Retry → Retry completes', async function () {
    await closeAllEditors();
    await runContextMenu(page, 'crash', SCAN_ITEM);
    await waitForEmbeddingProgress('crash');
    const pids = backendPids(profile.extensionsDir);
    assert.equal(pids.length, 1, `expected one backend, found ${pids.join(', ')}`);
    allowedProblems.push(/^error: Backdoor scan failed: The scanner backend stopped unexpectedly \(signal SIGKILL\)/);
    process.kill(pids[0], 'SIGKILL');
    const error = toast(page, 'Backdoor scan failed');
    await error.first().waitFor({ timeout: 30_000 });
    assert.match(await error.first().locator('.notification-list-item-message').textContent(), /stopped unexpectedly \(signal SIGKILL\)/);
    const retry = error.first().locator('.monaco-button', { hasText: 'Retry' });
    await retry.waitFor({ state: 'visible', timeout: 10_000 });
    await error.first().locator('.monaco-button', { hasText: 'Show Log' }).waitFor({ state: 'visible', timeout: 10_000 });
    await sleep(500); // the toast fades in
    await screenshot(page, '05a-crash-error');
    await retry.click();
    const frame = await waitForPanel('crash');
    const summary = readSummary(cacheDir, dataset('crash'));
    assert.equal(summary?.sampleCount, 100 * BIG_COPIES);
    assert.equal(summary.errorCount, 0);
    await waitForPreviews(frame, 5);
    await screenshot(page, '05b-retried');
    await assertNoUnexpectedProblems();
  });

  it('6. hostile captions and file names → no dialog, no injected element, shown as text', async function () {
    await closeAllEditors();
    await runContextMenu(page, 'hostile', SCAN_ITEM);
    const frame = await waitForPanel('hostile');
    await waitForPreviews(frame, 5);
    // Open the detail of a sample whose caption is a script, so the detail view and its neighbours render hostile text too.
    await frame.locator('[data-sample-id]', { hasText: '<script>' }).first().dblclick();
    await frame.locator('.neighbours .neighbour').first().waitFor({ timeout: 30_000 });
    await sleep(1000);
    const report = await frame.locator('html').evaluate((root) => {
      const all = [...root.querySelectorAll('*')];
      return {
        injectedFlag: typeof window.__e2eInjected !== 'undefined',
        // VS Code itself injects one script (acquireVsCodeApi) before ours; every other script must carry our nonce.
        scriptsWithoutNonce: [...root.querySelectorAll('script')].filter((s) => !s.nonce && s.id !== '_vscodeApiScript').map((s) => s.outerHTML.slice(0, 120)),
        scripts: root.querySelectorAll('script').length,
        imgX: root.querySelectorAll('img[src="x"]').length,
        foreignImages: [...root.querySelectorAll('img[src]')].map((i) => i.getAttribute('src')).filter((src) => !/^https?:\/\//.test(src)),
        handlers: all.filter((el) => [...el.attributes].some((a) => a.name.startsWith('on'))).map((el) => el.outerHTML.slice(0, 120)),
        // Text-only nodes: every element that shows a caption, id or file name must have no child elements at all.
        dangerous: [
          ...all.filter((el) => ['IFRAME', 'OBJECT', 'EMBED', 'A'].includes(el.tagName)).map((el) => el.outerHTML.slice(0, 120)),
          ...all.filter((el) => el.tagName === 'STYLE' && el.textContent.includes('display:none')).map((el) => el.outerHTML.slice(0, 120)),
          ...[...root.querySelectorAll('.card-caption, .detail-caption, .neighbour-caption, .detail-title, .detail-path, .cell-caption, .cell-id')]
            .filter((el) => el.children.length > 0).map((el) => el.outerHTML.slice(0, 120)),
        ],
        javascriptUrls: all.filter((el) => [...el.attributes].some((a) => /^\s*javascript:/i.test(a.value))).map((el) => el.outerHTML.slice(0, 120)),
        captionTexts: [...root.querySelectorAll('.card-caption, .detail-caption, .neighbour-caption')].map((el) => el.textContent),
      };
    });
    assert.equal(report.injectedFlag, false, 'a hostile caption ran script');
    assert.deepEqual(report.scriptsWithoutNonce, [], 'a script without the nonce is in the panel');
    assert.equal(report.scripts, 3, "only VS Code's API script and the toolkit and panel scripts may exist");
    assert.equal(report.imgX, 0, 'an <img src=x> was injected');
    assert.deepEqual(report.foreignImages, [], 'an image with a non-webview source');
    assert.deepEqual(report.handlers, [], 'an element with an inline event handler');
    assert.deepEqual(report.dangerous, [], 'an injected element');
    assert.deepEqual(report.javascriptUrls, [], 'a javascript: URL in an attribute');
    assert.ok(report.captionTexts.some((t) => t.includes('<script>window.__e2eInjected=1;alert(1)</script>')), 'the script caption is not shown as text');
    assert.ok(report.captionTexts.some((t) => t.includes('<img src=x onerror=alert(1)>')), 'the img caption is not shown as text');
    await screenshot(page, '06-hostile');
    await assertNoUnexpectedProblems();
  });

  it('7. reload the window → the last results come back without a rescan', async function () {
    const before = readSummary(cacheDir, dataset('hostile'));
    // Reload through VS Code's own command, as a user would: it runs the shutdown lifecycle that persists open editors
    // (a bare page reload can race the workbench's storage flush, and then nothing is there to restore).
    const reloaded = page.waitForEvent('load', { timeout: 60_000 });
    await runCommand(page, 'Developer: Reload Window');
    await reloaded;
    await waitForWorkbench(page);
    const frame = await waitForPanel('hostile', 90_000);
    await waitForPreviews(frame, 5);
    await sleep(1500);
    const scans = (await seenNotifications(page)).filter((n) => n.message.startsWith('Scanning '));
    assert.deepEqual(scans, [], 'a scan ran after the reload');
    assert.equal(readSummary(cacheDir, dataset('hostile')).mtimeMs, before.mtimeMs, 'the results were rewritten');
    assert.equal(readSummary(cacheDir, dataset('hostile')).finishedAt, before.finishedAt);
    await screenshot(page, '07-restored');
    await assertNoUnexpectedProblems();

    // Figures: VS Code's own activation timing for the extension, and the activation event from the extension host log.
    await runCommand(page, 'Developer: Show Running Extensions');
    const row = page.locator('.runtime-extensions-editor .monaco-list-row', { hasText: 'CLIP Backdoor Scanner' }).first();
    await row.waitFor({ timeout: 20_000 }).catch(() => {});
    figures.activation = (await row.locator('.activation-time').textContent({ timeout: 5000 }).catch(() => null)) ?? undefined;
    await screenshot(page, '07b-running-extensions');
    const logs = join(profile.userDataDir, 'logs');
    const lines = [];
    const walk = (d) => { for (const e of readdirSync(d, { withFileTypes: true })) e.isDirectory() ? walk(join(d, e.name)) : /exthost\.log$/i.test(e.name) && lines.push(...readFileSync(join(d, e.name), 'utf8').split('\n')); };
    if (existsSync(logs)) walk(logs);
    figures.activationEvent = lines.filter((l) => l.includes('_doActivateExtension clip-backdoor-scanner')).map((l) => l.replace(/^.*activationEvent: /, '')).join('; ') || undefined;
  });
});
