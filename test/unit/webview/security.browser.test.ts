/**
 * Hostile captions, ids and file names in the real panel (Chromium): they must show as literal text, run nothing and
 * inject nothing; and the page's CSP must be the strict one and really block inline script.
 */
import { strict as assert } from 'node:assert';
import type { Browser, Page } from 'playwright-core';
import type { SampleResult } from '../../../src/core/types';
import { panelCsp } from '../../../src/extension/panelHtml';
import { DEFAULT_STATE, launchBrowser, openPanel, startPanelServer, syntheticRows, syntheticSummary, type PanelPage, type PanelServer } from '../../webview-harness/harness';

const HOSTILE_CAPTIONS = [
  '<img src=x onerror="window.__pwned=1;alert(1)">',
  '<script>window.__pwned=2;alert(2)</script>',
  '</textarea><svg onload="window.__pwned=3">',
  'javascript:window.__pwned=4',
  '"><iframe src="javascript:window.parent.__pwned=5"></iframe>',
  'invoice\u202Egnp.exe',
  `${'A'.repeat(10000)}<b id="bold">tail</b>`,
  "{{constructor.constructor('window.__pwned=6')()}}",
  '<a href="javascript:window.__pwned=7">click</a><style>body{display:none}</style>',
];

function hostileRows(): SampleResult[] {
  const rows = syntheticRows(200, 9, { errorRate: 0, poisonRate: 0 });
  HOSTILE_CAPTIONS.forEach((caption, i) => {
    // Give the hostile rows the highest scores so they are at the top of the list (rendered without scrolling).
    const row = rows[i * 7];
    row.caption = caption;
    row.scores = { ...row.scores, kdist: 100 - i };
  });
  rows[1].id = '"><img src=x onerror="window.__pwned=8">';
  rows[1].image = '../../<script>window.__pwned=9</script>.jpg';
  rows[1].scores = { ...rows[1].scores, kdist: 200 };
  rows[2].id = 'err\u202Ename';
  rows[2].error = '<img src=x onerror="window.__pwned=10"> unreadable';
  rows[2].caption = null;
  rows[2].scores = undefined;
  return rows;
}

/** Everything in the document that our code did not create: script/iframe/style/b/a/svg-with-handler elements, handlers. */
async function injectedElements(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const found: string[] = [];
    for (const element of document.querySelectorAll('*')) {
      const tag = element.tagName.toLowerCase();
      if (['iframe', 'textarea', 'b', 'a', 'style', 'object', 'embed'].includes(tag)) found.push(tag);
      if (tag === 'script' && !(element as HTMLScriptElement).src) found.push('inline script');
      if (tag === 'img' && !/^(thumb-image|detail-image)$/.test(element.className)) found.push(`img.${element.className}`);
      if (tag === 'svg' && !element.classList.contains('histogram-chart')) found.push('svg');
      for (const attribute of element.getAttributeNames()) if (attribute.startsWith('on')) found.push(`${tag}[${attribute}]`);
    }
    return found;
  });
}

describe('results panel security (Chromium)', function () {
  this.timeout(60000);
  let browser: Browser;
  let server: PanelServer;
  let panel: PanelPage | undefined;

  before(async () => {
    browser = await launchBrowser();
    server = await startPanelServer({ title: '<img src=x onerror=alert(1)> title' });
  });
  afterEach(async () => {
    await panel?.close();
    panel = undefined;
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  it('renders hostile captions, ids, file names and error reasons as literal text: nothing runs, nothing is injected', async () => {
    panel = await openPanel(browser, server);
    const dialogs: string[] = [];
    panel.page.on('dialog', (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
    const rows = hostileRows();
    await panel.init({ type: 'init', summary: syntheticSummary(rows, '/data/<img src=x onerror=alert(1)>'), rows, marked: [], state: { ...DEFAULT_STATE, view: 'table' }, trusted: true });
    await panel.settle();

    // Every hostile row is in the table; its caption cell shows the text itself (bidi controls made visible, long text cut).
    for (const [i, caption] of HOSTILE_CAPTIONS.entries()) {
      const id = rows[i * 7].id;
      const text = await panel.page.locator(`.table-body [data-sample-id="${id}"] .cell-caption`).textContent();
      const expected = caption.replace('\u202E', '[U+202E]');
      assert.equal(text, expected.length > 300 ? `${expected.slice(0, 300)}…` : expected, `caption ${i}`);
    }
    assert.equal(await panel.page.locator('.summary-title').textContent(), '/data/<img src=x onerror=alert(1)>');

    // Open each hostile row in the detail view (full caption; neighbours carry hostile captions too).
    for (const position of [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]) {
      await panel.page.locator(`.table-body [data-position="${position}"]`).dblclick();
      await panel.page.locator('section.detail').waitFor({ state: 'visible' });
      const id: string | null = await panel.page.locator('section.detail').getAttribute('data-sample-id');
      const row: SampleResult | undefined = rows.find((r) => r.id === id);
      assert.ok(row, `detail shows a known row: ${id}`);
      const shown = await panel.page.locator('.detail-caption').textContent();
      const expected: string = (row.error !== null ? `Error: ${row.error}` : row.caption ?? '(no caption)').replace('\u202E', '[U+202E]');
      assert.equal(shown, expected);
      if (row.error === null) await panel.page.waitForSelector('.neighbour');
      await panel.page.keyboard.press('Escape');
    }
    const longCaption = HOSTILE_CAPTIONS[6];
    assert.equal(longCaption.length, 10000 + '<b id="bold">tail</b>'.length);

    await panel.page.waitForTimeout(200); // let any (wrongly) created image fail and fire its handler
    assert.deepEqual(dialogs, []);
    // The panel runs under the CSP without a single violation. The toolkit has two known, harmless ones: FAST's
    // :focus-visible feature probe inserts a <style> (it falls back to :focus) and vscode-badge's template carries an
    // empty style attribute. Nothing else is allowed, and nothing from panel.js.
    const violations = await panel.page.evaluate(() => (window as unknown as { __cspViolations: string[] }).__cspViolations);
    const unexpected = violations.filter((v) => !/^style-src-(elem|attr) inline \S+\/dist\/webview\/toolkit\.min\.js:/.test(v));
    assert.deepEqual(unexpected, []);
    assert.equal(await panel.page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned), undefined);
    assert.deepEqual(await injectedElements(panel.page), []);
    assert.equal(await panel.page.locator('#bold').count(), 0);
    assert.equal(await panel.page.evaluate(() => document.querySelectorAll('script').length), 2);
    const sources = await panel.page.evaluate(() => [...document.images].map((image) => image.getAttribute('src')).filter((src) => src !== null));
    assert.ok(sources.length > 0);
    for (const src of sources) assert.ok(src.startsWith(`${server.origin}/thumb/`), `image source ${src}`);
    assert.equal(await panel.page.title(), '<img src=x onerror=alert(1)> title');
  });

  it('serves the strict CSP with a fresh nonce, and the CSP blocks inline script, inline style attributes and foreign images', async () => {
    panel = await openPanel(browser, server);
    const csp = await panel.page.locator('meta[http-equiv="Content-Security-Policy"]').getAttribute('content');
    assert.equal(csp, panelCsp(server.origin, server.lastNonce()));
    const result = await panel.page.evaluate(async () => {
      const violations: string[] = [];
      document.addEventListener('securitypolicyviolation', (event) => violations.push(event.effectiveDirective));
      const script = document.createElement('script');
      script.textContent = 'window.__inline = 1';
      document.body.append(script);
      const probe = document.createElement('div');
      probe.setAttribute('style', 'color: rgb(1, 2, 3)');
      document.body.append(probe);
      const foreign = document.createElement('img');
      foreign.src = 'https://example.invalid/x.png';
      document.body.append(foreign);
      await new Promise((done) => setTimeout(done, 300));
      return {
        inline: (window as unknown as { __inline?: number }).__inline,
        styleApplied: getComputedStyle(probe).color === 'rgb(1, 2, 3)',
        violations,
      };
    });
    assert.equal(result.inline, undefined, 'inline script did not run');
    assert.equal(result.styleApplied, false, 'inline style attribute not applied');
    assert.ok(result.violations.includes('script-src-elem'), `violations: ${result.violations.join(', ')}`);
    assert.ok(result.violations.includes('style-src-attr'), `violations: ${result.violations.join(', ')}`);
    assert.ok(result.violations.includes('img-src'), `violations: ${result.violations.join(', ')}`);
    // The panel itself works under this CSP: the toolkit registered its elements and the panel script said 'ready'.
    assert.equal(await panel.page.evaluate(() => customElements.get('vscode-button') !== undefined), true);
    assert.equal((await panel.posted())[0]?.type, 'ready');
    // And each render gets a new nonce.
    const first = server.lastNonce();
    await panel.page.reload();
    assert.notEqual(server.lastNonce(), first);
  });
});
