// Results panel with 100,000 samples in Chromium: time to first paint of rows after 'init', and frame times while
// scrolling, for the virtualised table and grid, against a reference in the same page: the same rows as a plain
// (non-virtualised) table of 100,000 <tr>. Needs `npm run build` (`npm run bench` does it) and /usr/bin/chromium.
import { loadavg } from 'node:os';
import { loadHarness } from '../../test/webview-harness/load.mjs';

const COUNT = Number(process.env.PANEL_BENCH_ROWS ?? 100000);
const REPEATS = 3;
const REFERENCE_REPEATS = 1;
const SCROLL_MS = 2500;
const SCROLL_PX_PER_FRAME = 160;
const GOAL_FIRST_PAINT_MS = 1500;

const harness = await loadHarness();
const browser = await harness.launchBrowser();
const server = await harness.startPanelServer();

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/** In the page: scrolls `selector` for a while, one step per frame, and returns the frame intervals (ms). */
async function scrollFrames(page, selector) {
  return page.evaluate(
    async ({ selector, duration, step }) => {
      const list = document.querySelector(selector);
      const frames = [];
      let last = performance.now();
      const end = last + duration;
      let direction = 1;
      while (performance.now() < end) {
        await new Promise((resolve) => requestAnimationFrame(resolve));
        const now = performance.now();
        frames.push(now - last);
        last = now;
        if (list.scrollTop + list.clientHeight >= list.scrollHeight - 1) direction = -1;
        else if (list.scrollTop <= 0) direction = 1;
        list.scrollTop += direction * step;
      }
      return frames.slice(1);
    },
    { selector, duration: SCROLL_MS, step: SCROLL_PX_PER_FRAME },
  );
}

/**
 * In the page: the work one scroll step costs (scroll handler + style + layout), without waiting for frames, so it
 * is less sensitive to other processes than frame intervals on a shared machine. Paint/raster is not included.
 */
async function scrollWork(page, selector) {
  return page.evaluate(
    ({ selector, step }) => {
      const list = document.querySelector(selector);
      const times = [];
      list.scrollTop = 0;
      for (let i = 0; i < 400; i++) {
        const start = performance.now();
        if (list.scrollTop + list.clientHeight >= list.scrollHeight - 1) list.scrollTop = 0;
        list.scrollTop += step;
        list.dispatchEvent(new Event('scroll'));
        void document.body.offsetHeight; // force style + layout now
        times.push(performance.now() - start);
      }
      return times;
    },
    { selector, step: SCROLL_PX_PER_FRAME },
  );
}

function frameStats(frames) {
  const sorted = [...frames].sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return { p50: at(0.5), p95: at(0.95), max: sorted[sorted.length - 1], long: frames.filter((f) => f > 50).length, count: frames.length };
}

async function runPanel(view) {
  const paints = [];
  const deliveries = [];
  const panelTimes = [];
  let frames = [];
  let work = [];
  let domNodes = 0;
  for (let run = 0; run < REPEATS; run++) {
    const panel = await harness.openPanel(browser, server, { viewport: { width: 1280, height: 900 } });
    const state = { ...harness.DEFAULT_STATE, view };
    // Rows are generated in the page first (not timed); the clock starts when 'init' is posted, as the host would,
    // and stops after the frame that shows the first rows has been produced.
    const ms = await panel.page.evaluate(
      async ({ count, state }) => {
        const rows = window.__syntheticRows(count, 1);
        window.__fakeHost.rows = rows;
        const message = { type: 'init', summary: window.__syntheticSummary(rows), rows, marked: [], state, trusted: true };
        // A capture listener on the window runs before the panel's own listener: it marks when the message arrived.
        let delivered = 0;
        window.addEventListener('message', () => (delivered = performance.now()), { capture: true, once: true });
        const start = performance.now();
        window.postMessage(message, '*');
        await new Promise((resolve) => {
          const check = () => {
            if (document.querySelector('[data-sample-id]')) requestAnimationFrame(() => setTimeout(resolve, 0));
            else requestAnimationFrame(check);
          };
          check();
        });
        const end = performance.now();
        return { total: end - start, delivery: delivered - start, panel: end - delivered };
      },
      { count: COUNT, state },
    );
    paints.push(ms.total);
    deliveries.push(ms.delivery);
    panelTimes.push(ms.panel);
    if (run === REPEATS - 1) {
      frames = await scrollFrames(panel.page, view === 'grid' ? '.grid-view' : '.table-body');
      work = await scrollWork(panel.page, view === 'grid' ? '.grid-view' : '.table-body');
      domNodes = await panel.page.evaluate(() => document.getElementsByTagName('*').length);
    }
    await panel.close();
  }
  return { firstPaint: median(paints), paints, delivery: median(deliveries), panel: median(panelTimes), frames: frameStats(frames), work: frameStats(work), domNodes };
}

async function runReference() {
  const paints = [];
  let frames = [];
  let work = [];
  let domNodes = 0;
  // One run: building 100,000 <tr> takes tens of seconds on a loaded 2-core machine.
  for (let run = 0; run < REFERENCE_REPEATS; run++) {
    const panel = await harness.openPanel(browser, server, { viewport: { width: 1280, height: 900 } });
    const ms = await panel.page.evaluate(async (count) => {
      const rows = window.__syntheticRows(count, 1);
      const start = performance.now();
      // The same data as a plain table: one <tr> per sample, text only, scores sorted by k-dist like the panel.
      const order = rows.map((_, i) => i).sort((a, b) => (rows[b].scores?.kdist ?? -Infinity) - (rows[a].scores?.kdist ?? -Infinity));
      const scroller = document.createElement('div');
      scroller.className = 'reference-scroller';
      scroller.style.height = '700px';
      scroller.style.overflowY = 'auto';
      const table = document.createElement('table');
      const body = document.createElement('tbody');
      for (const i of order) {
        const row = rows[i];
        const tr = document.createElement('tr');
        tr.dataset.sampleId = row.id;
        const cells = [row.id, row.error ?? row.caption ?? '', ...['kdist', 'lid', 'slof', 'dao', 'iforest', 'clipScore'].map((k) => (row.scores?.[k] ?? NaN).toFixed(3)), row.safe ? 'safe' : 'risky'];
        for (const text of cells) {
          const td = document.createElement('td');
          td.textContent = text;
          tr.append(td);
        }
        body.append(tr);
      }
      table.append(body);
      scroller.append(table);
      document.getElementById('app').replaceChildren(scroller);
      await new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
      return performance.now() - start;
    }, COUNT);
    paints.push(ms);
    if (run === REFERENCE_REPEATS - 1) {
      frames = await scrollFrames(panel.page, '.reference-scroller');
      work = await scrollWork(panel.page, '.reference-scroller');
      domNodes = await panel.page.evaluate(() => document.getElementsByTagName('*').length);
    }
    await panel.close();
  }
  return { firstPaint: median(paints), paints, frames: frameStats(frames), work: frameStats(work), domNodes };
}

try {
  console.log(`panel bench: ${COUNT.toLocaleString()} samples, Chromium headless, viewport 1280×900, median of ${REPEATS} runs (reference: ${REFERENCE_REPEATS}); load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  const table = await runPanel('table');
  const grid = await runPanel('grid');
  const reference = await runReference();
  const f = (n) => n.toFixed(n < 10 ? 2 : 1);
  const lines = [
    ['metric', 'panel table (virtualised)', 'panel grid (virtualised)', `reference: plain ${COUNT.toLocaleString()} <tr>`, 'ratio table/ref'],
    ['first paint of rows after init (ms)', f(table.firstPaint), f(grid.firstPaint), f(reference.firstPaint), (table.firstPaint / reference.firstPaint).toFixed(3)],
    ['  of which: message delivery (clone)', f(table.delivery), f(grid.delivery), '—', ''],
    ['  of which: panel (sort, flags, DOM)', f(table.panel), f(grid.panel), '—', ''],
    ['scroll frame p50 (ms)', f(table.frames.p50), f(grid.frames.p50), f(reference.frames.p50), (table.frames.p50 / reference.frames.p50).toFixed(2)],
    ['scroll frame p95 (ms)', f(table.frames.p95), f(grid.frames.p95), f(reference.frames.p95), (table.frames.p95 / reference.frames.p95).toFixed(2)],
    ['scroll frame max (ms)', f(table.frames.max), f(grid.frames.max), f(reference.frames.max), (table.frames.max / reference.frames.max).toFixed(2)],
    ['scroll step work p50 (ms)', f(table.work.p50), f(grid.work.p50), f(reference.work.p50), (table.work.p50 / reference.work.p50).toFixed(2)],
    ['scroll step work p95 (ms)', f(table.work.p95), f(grid.work.p95), f(reference.work.p95), (table.work.p95 / reference.work.p95).toFixed(2)],
    ['frames > 50 ms / frames', `${table.frames.long}/${table.frames.count}`, `${grid.frames.long}/${grid.frames.count}`, `${reference.frames.long}/${reference.frames.count}`, ''],
    ['DOM elements', String(table.domNodes), String(grid.domNodes), String(reference.domNodes), (table.domNodes / reference.domNodes).toFixed(4)],
  ];
  const widths = lines[0].map((_, c) => Math.max(...lines.map((l) => l[c].length)));
  for (const [i, line] of lines.entries()) {
    console.log(line.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  '));
    if (i === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  }
  console.log(`first-paint runs (ms): table ${table.paints.map(f).join(', ')}; grid ${grid.paints.map(f).join(', ')}; reference ${reference.paints.map(f).join(', ')}`);
  const worst = Math.max(table.firstPaint, grid.firstPaint);
  console.log(`goal: first paint ≤ ${GOAL_FIRST_PAINT_MS} ms → ${worst <= GOAL_FIRST_PAINT_MS ? 'met' : 'MISSED'} (${f(worst)} ms)`);
} finally {
  await browser.close();
  await server.close();
}
