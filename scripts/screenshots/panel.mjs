// Screenshots of the results panel in Chromium, light and dark theme: grid, table, detail, untrusted banner.
// Output: .screenshots/panel-<theme>-<view>.png (gitignored). Needs `npm run build` first (`npm run screenshots` does it).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadHarness } from '../../test/webview-harness/load.mjs';

const root = new URL('../..', import.meta.url).pathname;
const outDir = join(root, '.screenshots');
mkdirSync(outDir, { recursive: true });

const harness = await loadHarness();
const browser = await harness.launchBrowser();
const server = await harness.startPanelServer({ title: 'Backdoor scan: cc3m-subset' });
const saved = [];

async function shot(panel, name) {
  await panel.settle();
  // Let thumbnails arrive and decode before the picture is taken.
  await panel.page.waitForTimeout(400);
  const file = join(outDir, `panel-${name}.png`);
  await panel.page.screenshot({ path: file });
  saved.push(file);
}

try {
  for (const theme of ['dark', 'light']) {
    const panel = await harness.openPanel(browser, server, { theme, viewport: { width: 1280, height: 900 } });
    const rows = harness.syntheticRows(5000, 7);
    // A few hostile captions among them, as a real crawl would have.
    const hostile = rows.find((row) => row.caption === 'a photo of a banana');
    hostile.caption = '<img src=x onerror=alert(1)> a photo of a banana \u202Egnp.exe';
    const markedIds = rows.filter((row) => row.caption === 'a photo of a banana').slice(1, 3).map((row) => row.id);
    const state = { ...harness.DEFAULT_STATE, view: 'grid' };
    await panel.init({ type: 'init', summary: harness.syntheticSummary(rows), rows, marked: markedIds, state, trusted: theme === 'dark' });
    await panel.settle();
    // Select two cards (click, ctrl-click) so selection styling shows.
    const cards = panel.page.locator('.grid-view .virtual-item');
    await cards.nth(1).click();
    await cards.nth(4).click({ modifiers: ['Control'] });
    await shot(panel, `${theme}-grid`);

    await panel.page.locator('vscode-radio[data-choice="table"]').click();
    await shot(panel, `${theme}-table`);

    await panel.page.locator('.table-body .virtual-item').first().dblclick();
    await panel.page.waitForSelector('.neighbour');
    await shot(panel, `${theme}-detail`);
    await panel.close();
  }
} finally {
  await browser.close();
  await server.close();
}
console.log(saved.join('\n'));
