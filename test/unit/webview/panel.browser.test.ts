/**
 * The results panel in Chromium (playwright-core + Debian chromium): the built dist/webview/panel.js in the page that
 * renderPanelHtml produces, with a fake VS Code host. Chromium missing → these tests FAIL with instructions (no skip).
 */
import { strict as assert } from 'node:assert';
import type { Browser, Page } from 'playwright-core';
import { flaggedMask } from '../../../src/core/flags';
import type { FlagPolicy, SampleResult, ScoreKey } from '../../../src/core/types';
import type { PanelState, WebviewToHost } from '../../../src/protocol/webview';
import { DEFAULT_STATE, launchBrowser, openPanel, startPanelServer, syntheticRows, syntheticSummary, type PanelPage, type PanelServer } from '../../webview-harness/harness';

/** The expected order, computed independently of the panel's code: by suspicion, unscored next, errors last, stable. */
function expectedOrder(rows: readonly SampleResult[], key: ScoreKey): string[] {
  const rank = (row: SampleResult): number => (row.error !== null ? 2 : typeof row.scores?.[key] === 'number' ? 0 : 1);
  const suspicion = (row: SampleResult): number => {
    const value = row.scores?.[key] ?? 0;
    return key === 'clipScore' ? -value : value;
  };
  return rows
    .map((row, index) => ({ row, index }))
    .sort((a, b) => rank(a.row) - rank(b.row) || (rank(a.row) === 0 ? suspicion(b.row) - suspicion(a.row) : 0) || a.index - b.index)
    .map(({ row }) => row.id);
}

async function nextFrames(page: Page): Promise<void> {
  await page.evaluate(() => new Promise<void>((done) => requestAnimationFrame(() => requestAnimationFrame(() => done()))));
}

/**
 * Scrolls a list from top to bottom inside the page, collecting the id at every position. Each step dispatches the
 * scroll event itself (the list renders synchronously on it) instead of waiting for a frame: fast on a loaded machine.
 */
async function walkList(page: Page, selector: string): Promise<string[]> {
  return page.evaluate((s) => {
    const list = document.querySelector(s) as HTMLElement;
    const seen = new Map<number, string>();
    list.scrollTop = 0;
    for (let step = 0; ; step++) {
      list.dispatchEvent(new Event('scroll'));
      for (const item of list.querySelectorAll<HTMLElement>('.virtual-item:not([hidden])')) seen.set(Number(item.dataset.position), item.dataset.sampleId ?? '');
      if (list.scrollTop + list.clientHeight >= list.scrollHeight - 1) break;
      if (step > 500 || list.clientHeight === 0) throw new Error(`cannot walk ${s}: scrollTop ${list.scrollTop}, clientHeight ${list.clientHeight}, scrollHeight ${list.scrollHeight}`);
      list.scrollTop += list.clientHeight;
    }
    return [...seen.entries()].sort((a, b) => a[0] - b[0]).map(([, id]) => id);
  }, selector);
}

async function counts(page: Page): Promise<Record<string, number>> {
  return page.evaluate(() => {
    const data = (document.getElementById('app') as HTMLElement).dataset;
    return { shown: Number(data.countShown), flagged: Number(data.countFlagged), risky: Number(data.countRisky), errors: Number(data.countErrors), marked: Number(data.countMarked) };
  });
}

async function postedOfType<T extends WebviewToHost['type']>(panel: PanelPage, type: T): Promise<Extract<WebviewToHost, { type: T }>[]> {
  return (await panel.posted()).filter((m): m is Extract<WebviewToHost, { type: T }> => m.type === type);
}

function initMessage(rows: SampleResult[], state: Partial<PanelState> = {}, extra: { marked?: string[]; trusted?: boolean } = {}) {
  return { type: 'init' as const, summary: syntheticSummary(rows), rows, marked: extra.marked ?? [], state: { ...DEFAULT_STATE, ...state }, trusted: extra.trusted ?? true };
}

describe('results panel (Chromium)', function () {
  this.timeout(60000);
  let browser: Browser;
  let server: PanelServer;
  let panel: PanelPage | undefined;
  const rows = syntheticRows(1000, 3);

  before(async () => {
    browser = await launchBrowser();
    server = await startPanelServer();
  });
  afterEach(async () => {
    await panel?.close();
    panel = undefined;
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  it('renders 1,000 rows sorted by the chosen detector in the table and the grid, each carrying data-sample-id', async () => {
    panel = await openPanel(browser, server);
    await panel.init(initMessage(rows, { sortBy: 'clipScore', policy: { kind: 'top-percent', detector: 'clipScore', percent: 1 }, view: 'table' }));
    await panel.settle();
    assert.deepEqual(await walkList(panel.page, '.table-body'), expectedOrder(rows, 'clipScore'));
    // Switch detector and view through the UI.
    await panel.page.locator('vscode-radio[data-choice="grid"]').click();
    await panel.page.evaluate(() => {
      const dropdown = document.querySelector('vscode-dropdown') as HTMLElement & { value: string };
      dropdown.value = 'dao';
      dropdown.dispatchEvent(new Event('change'));
    });
    assert.deepEqual(await walkList(panel.page, '.grid-view'), expectedOrder(rows, 'dao'));
    const untagged = await panel.page.evaluate(() => [...document.querySelectorAll('.virtual-item:not([hidden])')].filter((e) => !(e as HTMLElement).dataset.sampleId).length);
    assert.equal(untagged, 0);
  });

  it('keeps the DOM small with 100,000 rows, also after scrolling to the middle and the end', async () => {
    panel = await openPanel(browser, server);
    await panel.initSynthetic(100000, 5, { state: { ...DEFAULT_STATE, view: 'table' } });
    await panel.settle();
    const measure = (): Promise<{ samples: number; elements: number; positions: number[]; ordered: boolean }> =>
      panel!.page.evaluate(() => {
        const items = [...document.querySelectorAll<HTMLElement>('.table-body .virtual-item:not([hidden])')];
        const rows = (window as unknown as { __fakeHost: { rows: { id: string; scores?: { kdist?: number } }[] } }).__fakeHost.rows;
        const byId = new Map(rows.map((row) => [row.id, row]));
        const sorted = items.sort((a, b) => Number(a.dataset.position) - Number(b.dataset.position));
        const values = sorted.map((e) => byId.get(e.dataset.sampleId ?? '')?.scores?.kdist ?? -Infinity);
        return {
          samples: document.querySelectorAll('[data-sample-id]').length,
          elements: document.getElementsByTagName('*').length,
          positions: sorted.map((e) => Number(e.dataset.position)),
          ordered: values.every((v, i) => i === 0 || v <= values[i - 1]),
        };
      });
    const top = await measure();
    assert.equal(await panel.page.evaluate(() => (document.getElementById('app') as HTMLElement).dataset.countTotal), '100000');
    for (const where of [0.5, 1]) {
      await panel.page.evaluate((f) => {
        const list = document.querySelector('.table-body') as HTMLElement;
        list.scrollTop = (list.scrollHeight - list.clientHeight) * f;
      }, where);
      await nextFrames(panel.page);
      const now = await measure();
      assert.ok(now.samples < 120, `sample elements in the DOM: ${now.samples}`);
      assert.ok(now.elements < 2500, `elements in the DOM: ${now.elements}`);
      assert.ok(now.ordered, 'rendered rows are in suspicion order');
      assert.ok(Math.min(...now.positions) > (where === 1 ? 99000 : 45000), `positions ${now.positions[0]}…`);
      if (where === 1) assert.equal(Math.max(...now.positions), 99999);
    }
    assert.ok(top.samples < 120 && top.positions[0] === 0);
  });

  it('changes the flagged count exactly as flags.ts does, for filters, percent, dragged threshold and SafeCLIP policy', async () => {
    panel = await openPanel(browser, server);
    await panel.init(initMessage(rows, { view: 'table' }));
    await panel.settle();
    const flaggedFor = (policy: FlagPolicy): number => flaggedMask(rows, policy).filter(Boolean).length;
    assert.equal((await counts(panel.page)).flagged, flaggedFor({ kind: 'top-percent', detector: 'kdist', percent: 1 }));
    assert.equal((await counts(panel.page)).errors, rows.filter((r) => r.error !== null).length);

    await panel.page.locator('.policy-value').locator('input').fill('5');
    await panel.page.waitForFunction((n) => (document.getElementById('app') as HTMLElement).dataset.countFlagged === String(n), flaggedFor({ kind: 'top-percent', detector: 'kdist', percent: 5 }));
    assert.equal((await counts(panel.page)).flagged, flaggedFor({ kind: 'top-percent', detector: 'kdist', percent: 5 }));

    await panel.page.locator('vscode-checkbox[data-filter="flaggedOnly"]').click();
    await nextFrames(panel.page);
    const filtered = await counts(panel.page);
    assert.equal(filtered.shown, filtered.flagged);
    assert.equal(filtered.flagged, flaggedFor({ kind: 'top-percent', detector: 'kdist', percent: 5 }));

    // Drag the threshold on the histogram: the count must match flags.ts for the threshold the panel reports.
    const chart = await panel.page.locator('.histogram-chart').boundingBox();
    assert.ok(chart);
    await panel.page.mouse.move(chart.x + chart.width * 0.5, chart.y + chart.height / 2);
    await panel.page.mouse.down();
    await panel.page.mouse.move(chart.x + chart.width * 0.45, chart.y + chart.height / 2, { steps: 5 });
    await panel.page.mouse.up();
    await nextFrames(panel.page);
    const threshold = Number(await panel.page.locator('.histogram-chart').getAttribute('data-threshold'));
    assert.ok(Number.isFinite(threshold) && threshold > 0);
    const dragged = await counts(panel.page);
    assert.equal(dragged.flagged, flaggedFor({ kind: 'threshold', detector: 'kdist', threshold }));
    assert.equal(dragged.shown, dragged.flagged);
    await panel.page.waitForFunction(() =>
      (window as unknown as { __posted: { type: string; state?: { policy: { kind: string } } }[] }).__posted.some((m) => m.type === 'saveState' && m.state?.policy.kind === 'threshold'),
    );
    const saved = (await postedOfType(panel, 'saveState')).at(-1);
    assert.deepEqual(saved?.state.policy, { kind: 'threshold', detector: 'kdist', threshold });
    assert.equal(saved?.state.filter.flaggedOnly, true);

    await panel.page.locator('vscode-radio[data-choice="risky"]').click();
    await nextFrames(panel.page);
    assert.equal((await counts(panel.page)).flagged, rows.filter((r) => r.error === null && r.safe === false).length);
  });

  it('marks with Space, Ctrl/Shift-click and "Mark all flagged", sending setMarked with the right ids', async () => {
    panel = await openPanel(browser, server, { autoReply: true });
    await panel.init(initMessage(rows, { view: 'table' }));
    await panel.settle();
    const order = expectedOrder(rows, 'kdist');
    const item = (position: number) => panel!.page.locator(`.table-body .virtual-item[data-position="${position}"]`);
    await item(0).click();
    await item(2).click({ modifiers: ['Control'] });
    await item(5).click({ modifiers: ['Shift'] });
    await panel.page.keyboard.press('Space');
    let marks = await postedOfType(panel, 'setMarked');
    assert.deepEqual(marks.at(-1), { type: 'setMarked', ids: [order[2], order[3], order[4], order[5]], marked: true });
    await panel.page.waitForFunction(() => (document.getElementById('app') as HTMLElement).dataset.countMarked === '4');
    assert.equal(await item(3).getAttribute('class').then((c) => c?.includes('is-marked')), true);

    await panel.page.keyboard.press('Space'); // all selected are marked → unmark
    marks = await postedOfType(panel, 'setMarked');
    assert.equal(marks.at(-1)?.marked, false);

    await panel.page.locator('vscode-button', { hasText: 'Mark all flagged' }).click();
    marks = await postedOfType(panel, 'setMarked');
    const flagged = rows.filter((_, i) => flaggedMask(rows, DEFAULT_STATE.policy)[i]).map((r) => r.id);
    assert.deepEqual([...(marks.at(-1)?.ids ?? [])].sort(), flagged.sort());
    assert.equal(marks.at(-1)?.marked, true);

    for (const [label, type] of [
      ['Apply deletions…', 'applyDeletions'],
      ['Undo last deletion', 'undoDeletion'],
    ] as const) {
      await panel.page.locator('vscode-button', { hasText: label }).click();
      assert.equal((await panel.posted()).at(-1)?.type, type);
    }
    await panel.page.locator('vscode-button[data-export="deletion-list"]').click();
    assert.deepEqual((await panel.posted()).at(-1), { type: 'export', format: 'deletion-list' });
  });

  it('navigates with the keyboard, opens the detail view with neighbours, and closes it with Esc', async () => {
    panel = await openPanel(browser, server);
    await panel.init(initMessage(rows, { view: 'table' }));
    await panel.settle();
    const order = expectedOrder(rows, 'kdist');
    await panel.page.locator('.table-body').focus();
    for (const key of ['ArrowDown', 'ArrowDown', 'j', 'j', 'k']) await panel.page.keyboard.press(key);
    await panel.page.keyboard.press('Enter');
    const detail = panel.page.locator('section.detail');
    await detail.waitFor({ state: 'visible' });
    assert.equal(await detail.getAttribute('data-sample-id'), order[3]);
    assert.deepEqual((await postedOfType(panel, 'requestNeighbours')).at(-1), { type: 'requestNeighbours', id: order[3] });
    await panel.page.waitForSelector('.neighbour');
    assert.equal(await panel.page.locator('.neighbour').count(), 8);
    const explained = await panel.page.locator('.score-entry dd').allTextContents();
    assert.ok(explained.some((text) => text.includes('16th nearest neighbour')), 'k-distance is explained with k');
    assert.equal(await panel.page.locator('.detail-caption').textContent(), rows.find((r) => r.id === order[3])?.caption);
    await panel.page.keyboard.press('j');
    assert.equal(await detail.getAttribute('data-sample-id'), order[4]);
    await panel.page.keyboard.press('Escape');
    await detail.waitFor({ state: 'hidden' });
    const thumbs = await postedOfType(panel, 'requestThumbnails');
    assert.ok(thumbs.length > 0 && thumbs[0].ids.includes(order[0]), 'thumbnails requested for visible rows');
    const src = await panel.page.locator(`.table-body [data-sample-id="${order[0]}"] img`).getAttribute('src');
    assert.ok(src?.startsWith(`${server.origin}/thumb/`), `thumbnail src ${src}`);
  });

  it('restores its state from the webview state after a reload, and shows the untrusted-workspace banner', async () => {
    const stored = {
      dataset: syntheticSummary(rows).dataset,
      panel: { ...DEFAULT_STATE, view: 'table', sortBy: 'dao', policy: { kind: 'top-percent', detector: 'dao', percent: 3 }, filter: { ...DEFAULT_STATE.filter, search: 'banana' } },
    };
    panel = await openPanel(browser, server, { storedState: stored });
    await panel.init(initMessage(rows, { view: 'grid' }, { trusted: false }));
    await panel.settle();
    assert.equal(await panel.page.locator('.table-view').isVisible(), true);
    const visible = await walkList(panel.page, '.table-body');
    const bananas = expectedOrder(rows, 'dao').filter((id) => rows.find((r) => r.id === id)?.caption?.includes('banana'));
    assert.deepEqual(visible, bananas);
    assert.equal(await panel.page.locator('.banner-warning').isVisible(), true);
    assert.match((await panel.page.locator('.banner-warning').textContent()) ?? '', /not trusted.*scanning is disabled/);
    assert.equal(await panel.page.locator('vscode-button', { hasText: 'Rescan' }).getAttribute('disabled'), '');
  });
});
