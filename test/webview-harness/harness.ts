/**
 * Runs the real results panel (dist/webview/panel.js + toolkit.min.js + media/panel.css, in the page renderPanelHtml
 * produces) in Debian's Chromium through playwright-core, with a fake VS Code host injected by an init script.
 * Used by test/unit/webview/*.test.ts, scripts/bench/panel.mjs and scripts/screenshots/panel.mjs.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, resolve, sep } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { HostToWebview, PanelState, WebviewToHost } from '../../src/protocol/webview';
import { createNonce, renderPanelHtml } from '../../src/extension/panelHtml';
import { syntheticRows, syntheticSummary, type SyntheticOptions } from './synthetic';
import { THEMES, type ThemeName } from './themes';

function repoRoot(): string {
  // The harness is bundled into different output folders (tests, bench, screenshots); find the repo by its layout.
  for (let dir = __dirname; ; dir = resolve(dir, '..')) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'webview'))) return dir;
    if (resolve(dir, '..') === dir) return process.cwd();
  }
}

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Debian's Chromium (or CHROMIUM_PATH). Missing → a clear error, never a silent skip. */
export function chromiumPath(): string {
  const path = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  if (!existsSync(path)) {
    throw new Error(
      `Chromium not found at ${path}. The webview tests and the panel bench need it: install it with ` +
        '`sudo apt-get install -y chromium` (Debian) or set CHROMIUM_PATH to a Chromium/Chrome binary.',
    );
  }
  return path;
}

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: chromiumPath(), args: CHROMIUM_ARGS, headless: true });
}

export interface PanelServer {
  origin: string;
  /** The nonce of the last page served (fresh per request, like VS Code does per render). */
  lastNonce(): string;
  lastHtml(): string;
  close(): Promise<void>;
}

const CONTENT_TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
};

/** A deterministic little scene per id: sky, sun, hills and a subject; backdoor rows carry a BadNets-style checkerboard patch. */
export function thumbnailSvg(id: string, poisoned: boolean): string {
  const hash = createHash('sha256').update(id).digest();
  const hue = hash[0] * 1.4;
  const sky = `hsl(${hue}, 55%, ${62 + (hash[1] % 20)}%)`;
  const ground = `hsl(${(hue + 90 + hash[2]) % 360}, 40%, ${30 + (hash[3] % 25)}%)`;
  const subject = `hsl(${(hue + 180) % 360}, 60%, ${40 + (hash[4] % 30)}%)`;
  const sunX = 30 + (hash[5] % 160);
  const hill = 120 + (hash[6] % 50);
  const objectX = 50 + (hash[7] % 120);
  const patch = poisoned
    ? Array.from({ length: 16 }, (_, cell) => {
        const x = 180 + (cell % 4) * 6;
        const y = 24 + Math.floor(cell / 4) * 6;
        return `<rect x="${x}" y="${y}" width="6" height="6" fill="${(cell + Math.floor(cell / 4)) % 2 === 0 ? '#fff' : '#000'}"/>`;
      }).join('')
    : '';
  return `<svg xmlns="http://www.w3.org/2000/svg" width="224" height="168" viewBox="0 0 224 168">
<defs><linearGradient id="g" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="${sky}"/><stop offset="1" stop-color="#fff"/></linearGradient></defs>
<rect width="224" height="168" fill="url(#g)"/>
<circle cx="${sunX}" cy="36" r="${14 + (hash[8] % 10)}" fill="hsl(${45 + (hash[9] % 20)}, 90%, 65%)"/>
<path d="M0 ${hill} Q 56 ${hill - 30} 112 ${hill} T 224 ${hill - 10} V 168 H 0 Z" fill="${ground}"/>
<ellipse cx="${objectX}" cy="${hill + 8}" rx="${18 + (hash[10] % 20)}" ry="${12 + (hash[11] % 14)}" fill="${subject}"/>
<rect x="${objectX - 4}" y="${hill - 20}" width="8" height="22" fill="${subject}"/>
${patch}
</svg>`;
}

export async function startPanelServer(options: { title?: string; theme?: ThemeName } = {}): Promise<PanelServer> {
  const root = repoRoot();
  let nonce = '';
  let html = '';
  const server: Server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    const send = (status: number, type: string, body: string | Buffer): void => {
      response.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      response.end(body);
    };
    if (url.pathname === '/' || url.pathname === '/panel.html') {
      nonce = createNonce();
      html = renderPanelHtml({
        cspSource: origin,
        nonce,
        scriptUri: `${origin}/dist/webview/panel.js`,
        toolkitUri: `${origin}/dist/webview/toolkit.min.js`,
        styleUri: `${origin}/media/panel.css`,
        title: options.title ?? 'Backdoor scan: test dataset',
      });
      return send(200, 'text/html; charset=utf-8', html);
    }
    const theme = /^\/theme\/(light|dark)\.css$/.exec(url.pathname);
    if (theme) return send(200, CONTENT_TYPES['.css'], themeCss(theme[1] as ThemeName));
    const thumb = /^\/thumb\/(.+)\.svg$/.exec(url.pathname);
    if (thumb) return send(200, CONTENT_TYPES['.svg'], thumbnailSvg(decodeURIComponent(thumb[1]), url.searchParams.get('p') === '1'));
    // Static files, only under dist/webview and media.
    const file = resolve(root, `.${decodeURIComponent(url.pathname)}`);
    const allowed = [join(root, 'dist', 'webview') + sep, join(root, 'media') + sep];
    if (!allowed.some((dir) => file.startsWith(dir)) || !existsSync(file)) return send(404, 'text/plain', 'not found');
    return send(200, CONTENT_TYPES[extname(file)] ?? 'application/octet-stream', readFileSync(file));
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    lastNonce: () => nonce,
    lastHtml: () => html,
    close: () => new Promise<void>((done) => server.close(() => done())),
  };
}

function themeCss(theme: ThemeName): string {
  const variables = Object.entries(THEMES[theme])
    .map(([name, value]) => `  ${name}: ${value};`)
    .join('\n');
  return `html {\n${variables}\n}\n`;
}

export interface OpenOptions {
  theme?: ThemeName;
  viewport?: { width: number; height: number };
  /** What acquireVsCodeApi().getState() returns at start (a reload). */
  storedState?: unknown;
  /** Whether the fake host answers thumbnails/neighbours/setMarked by itself (default true). */
  autoReply?: boolean;
}

/** Source of the fake VS Code API, injected before any page script (like VS Code's own preload). */
function fakeHostScript(storedState: unknown, autoReply: boolean): string {
  return `(() => {
  const posted = [];
  let state = ${JSON.stringify(storedState ?? null)} ?? undefined;
  window.__posted = posted;
  window.__cspViolations = [];
  document.addEventListener('securitypolicyviolation', (event) => window.__cspViolations.push(event.effectiveDirective + ' ' + event.blockedURI + ' ' + event.sourceFile + ':' + event.lineNumber + ':' + event.columnNumber + ' ' + event.sample));
  window.__fakeHost = { autoReply: ${autoReply}, marked: new Set(), rows: [], byId: null };
  window.__syntheticRows = ${syntheticRows.toString()};
  window.__syntheticSummary = ${syntheticSummary.toString()};
  const host = window.__fakeHost;
  const reply = (message) => setTimeout(() => window.postMessage(message, '*'), 0);
  const thumbUri = (row) => location.origin + '/thumb/' + encodeURIComponent(row.id) + '.svg' + (row.caption === 'a photo of a banana' ? '?p=1' : '');
  const rowById = (id) => {
    if (!host.byId) host.byId = new Map(host.rows.map((row, index) => [row.id, index]));
    return host.byId.get(id);
  };
  window.acquireVsCodeApi = () => ({
    postMessage(message) {
      posted.push(JSON.parse(JSON.stringify(message)));
      if (!host.autoReply) return;
      if (message.type === 'requestThumbnails') {
        reply({ type: 'thumbnails', items: message.ids.map((id) => {
          const index = rowById(id);
          return index === undefined ? { id, uri: null, error: 'unknown id' } : { id, uri: thumbUri(host.rows[index]) };
        }) });
      } else if (message.type === 'requestNeighbours') {
        const index = rowById(message.id);
        if (index === undefined) return;
        const row = host.rows[index];
        const poisoned = row.caption === 'a photo of a banana';
        const candidates = host.rows.filter((other, j) => j !== index && other.error === null && (other.caption === 'a photo of a banana') === poisoned).slice(0, 8);
        reply({ type: 'neighbours', id: message.id, neighbours: candidates.map((other, j) => ({
          id: other.id, kind: j % 3 === 2 ? 'caption' : 'image', distance: (poisoned ? 0.2 : 0.9) + j * 0.03,
          image: other.image, caption: other.caption, uri: thumbUri(other) })) });
      } else if (message.type === 'setMarked') {
        for (const id of message.ids) message.marked ? host.marked.add(id) : host.marked.delete(id);
        reply({ type: 'marked', ids: [...host.marked] });
      }
    },
    getState: () => state,
    setState: (next) => { state = next; window.__storedState = next; },
  });
})();`;
}

export interface PanelPage {
  page: Page;
  /** Messages the panel posted to the (fake) host, oldest first. */
  posted(): Promise<WebviewToHost[]>;
  send(message: HostToWebview): Promise<void>;
  /** Sends 'init' with rows generated inside the page (fast for 100,000 rows); resolves when it was dispatched. */
  initSynthetic(count: number, seed: number, options?: SyntheticOptions & { state?: PanelState; marked?: string[]; trusted?: boolean }): Promise<void>;
  /** Sends 'init' with the given rows (the fake host remembers them for thumbnails/neighbours). */
  init(message: Extract<HostToWebview, { type: 'init' }>): Promise<void>;
  /** Waits until rows are in the DOM and two frames have been produced. */
  settle(): Promise<void>;
  close(): Promise<void>;
}

export const DEFAULT_STATE: PanelState = {
  sortBy: 'kdist',
  policy: { kind: 'top-percent', detector: 'kdist', percent: 1 },
  view: 'table',
  filter: { flaggedOnly: false, riskyOnly: false, errorsOnly: false, markedOnly: false, search: '' },
};

export async function openPanel(browser: Browser, server: PanelServer, options: OpenOptions = {}): Promise<PanelPage> {
  const page = await browser.newPage({ viewport: options.viewport ?? { width: 1280, height: 900 } });
  page.on('pageerror', (error) => {
    process.stderr.write(`[panel page error] ${error.message}\n`);
  });
  await page.addInitScript({ content: fakeHostScript(options.storedState, options.autoReply ?? true) });
  if (options.theme) {
    // VS Code injects its theme variables into every webview; stand in for that with a stylesheet from the allowed origin.
    const themeLink = `<link rel="stylesheet" href="${server.origin}/theme/${options.theme}.css">`;
    await page.route(`${server.origin}/`, async (route) => {
      const response = await route.fetch();
      const body = (await response.text()).replace('<link rel="stylesheet"', `${themeLink}\n<link rel="stylesheet"`);
      await route.fulfill({ response, body });
    });
    await page.addInitScript({
      content: `document.addEventListener('DOMContentLoaded', () => { document.body.classList.add('vscode-${options.theme}'); document.body.dataset.vscodeThemeKind = 'vscode-${options.theme}'; });`,
    });
  }
  await page.goto(`${server.origin}/`);
  await page.waitForFunction(() => (window as unknown as { __posted: { type: string }[] }).__posted.some((m) => m.type === 'ready'));
  const panel: PanelPage = {
    page,
    posted: () => page.evaluate(() => (window as unknown as { __posted: WebviewToHost[] }).__posted),
    send: (message) =>
      page.evaluate((m) => {
        window.postMessage(m, '*');
      }, message),
    init: async (message) => {
      await page.evaluate((m) => {
        const host = (window as unknown as { __fakeHost: { rows: unknown[]; byId: unknown; marked: Set<string> } }).__fakeHost;
        host.rows = m.rows;
        host.byId = null;
        host.marked = new Set(m.marked);
        window.postMessage(m, '*');
      }, message);
    },
    initSynthetic: async (count, seed, extra = {}) => {
      await page.evaluate(
        ({ count, seed, extra, defaultState }) => {
          type Generated = { rows: unknown[]; byId: unknown; marked: Set<string> };
          const w = window as unknown as {
            __fakeHost: Generated;
            __syntheticRows: (count: number, seed: number, options: unknown) => unknown[];
            __syntheticSummary: (rows: unknown[]) => unknown;
          };
          const rows = w.__syntheticRows(count, seed, extra);
          w.__fakeHost.rows = rows;
          w.__fakeHost.byId = null;
          w.__fakeHost.marked = new Set(extra.marked ?? []);
          window.postMessage(
            { type: 'init', summary: w.__syntheticSummary(rows), rows, marked: extra.marked ?? [], state: extra.state ?? defaultState, trusted: extra.trusted ?? true },
            '*',
          );
        },
        { count, seed, extra, defaultState: DEFAULT_STATE },
      );
    },
    settle: async () => {
      await page.waitForFunction(() => document.querySelector('[data-sample-id]') !== null || document.querySelector('.empty:not([hidden])') !== null);
      await page.evaluate(() => new Promise<void>((done) => requestAnimationFrame(() => requestAnimationFrame(() => done()))));
    },
    close: () => page.close(),
  };
  return panel;
}

/** Ids of the rendered rows of the active view, in list order (by their position). */
export async function renderedIds(page: Page): Promise<{ position: number; id: string }[]> {
  return page.evaluate(() =>
    [...document.querySelectorAll<HTMLElement>('.virtual-item')]
      .filter((element) => element.checkVisibility())
      .map((element) => ({ position: Number(element.dataset.position), id: element.dataset.sampleId ?? '' }))
      .sort((a, b) => a.position - b.position),
  );
}

export { syntheticRows, syntheticSummary };
