/**
 * One sample as a grid card or a table row. Nodes are built once and refilled on recycle; all data goes in as text.
 * Rows use plain elements (not toolkit components) so that recycling hundreds of them per second stays cheap.
 */
import { SCORE_KEYS, type SampleResult, type ScoreKey } from '../../../src/core/types';
import { clip, formatScore, h, setText, visibleText } from '../dom';
import { SCORE_INFO } from '../explanations';

/** Everything about a row's display besides the row itself. */
export interface RowStatus {
  position: number;
  flagged: boolean;
  marked: boolean;
  selected: boolean;
  cursor: boolean;
  /** Webview URI of the thumbnail; undefined while not yet known, null when there is none. */
  thumbnail: string | null | undefined;
  sortBy: ScoreKey;
}

interface SampleParts {
  image: HTMLImageElement;
  placeholder: HTMLElement;
  caption: HTMLElement;
  score: HTMLElement;
  status: HTMLElement;
  /** Table only: one cell per score key. */
  scores?: Map<ScoreKey, HTMLElement>;
  safe?: HTMLElement;
  id?: HTMLElement;
}

const parts = new WeakMap<HTMLElement, SampleParts>();

/** Captions in lists are cut to this many characters (the detail view shows all). */
const LIST_CAPTION_MAX = 300;

function thumb(): { image: HTMLImageElement; placeholder: HTMLElement; frame: HTMLElement } {
  const image = h('img', { className: 'thumb-image', attrs: { alt: '', decoding: 'async', draggable: 'false' } });
  const placeholder = h('span', { className: 'thumb-placeholder' });
  return { image, placeholder, frame: h('div', { className: 'thumb' }, [image, placeholder]) };
}

export function createCard(): HTMLElement {
  const { image, placeholder, frame } = thumb();
  const caption = h('div', { className: 'card-caption', attrs: { dir: 'auto' } });
  const score = h('span', { className: 'card-score' });
  const status = h('span', { className: 'chips' });
  const element = h('div', { className: 'card', attrs: { role: 'option' } }, [frame, caption, h('div', { className: 'card-footer' }, [score, status])]);
  parts.set(element, { image, placeholder, caption, score, status });
  return element;
}

export function createTableRow(): HTMLElement {
  const { image, placeholder, frame } = thumb();
  const id = h('span', { className: 'cell cell-id' });
  const caption = h('span', { className: 'cell cell-caption', attrs: { dir: 'auto' } });
  const scores = new Map<ScoreKey, HTMLElement>(SCORE_KEYS.map((key) => [key, h('span', { className: `cell cell-score score-${key}` })]));
  const safe = h('span', { className: 'cell cell-score' });
  const status = h('span', { className: 'cell cell-status chips' });
  const element = h('div', { className: 'table-row', attrs: { role: 'row' } }, [
    h('span', { className: 'cell cell-thumb' }, [frame]),
    id,
    caption,
    ...scores.values(),
    safe,
    status,
  ]);
  parts.set(element, { image, placeholder, caption, score: id, status, scores, safe, id });
  return element;
}

/** Header cells of the table view, aligned with createTableRow. */
export function createTableHeader(sortBy: ScoreKey): HTMLElement {
  return h('div', { className: 'table-row table-header', attrs: { role: 'row' } }, [
    h('span', { className: 'cell cell-thumb', text: '' }),
    h('span', { className: 'cell cell-id', text: 'Id' }),
    h('span', { className: 'cell cell-caption', text: 'Caption' }),
    ...SCORE_KEYS.map((key) =>
      h('span', { className: `cell cell-score${key === sortBy ? ' sorted' : ''}`, text: SCORE_INFO[key].short + (key === sortBy ? (key === 'clipScore' ? ' ▲' : ' ▼') : ''), title: SCORE_INFO[key].label }),
    ),
    h('span', { className: 'cell cell-score', text: 'P(safe)', title: 'SafeCLIP safe probability' }),
    h('span', { className: 'cell cell-status', text: 'Status' }),
  ]);
}

function setChip(container: HTMLElement, labels: readonly (readonly [string, string])[]): void {
  // Rebuild only when the set of chips changed: chips are tiny and fixed text, never data.
  const key = labels.map(([text]) => text).join('|');
  if (container.dataset.chips === key) return;
  container.dataset.chips = key;
  container.replaceChildren(...labels.map(([text, kind]) => h('span', { className: `chip chip-${kind}`, text })));
}

function statusChips(row: SampleResult, status: RowStatus, markedChip: boolean): [string, string][] {
  const chips: [string, string][] = [];
  if (row.error !== null) chips.push(['error', 'error']);
  if (status.flagged) chips.push(['flagged', 'flagged']);
  if (row.error === null && row.safe === false) chips.push(['risky', 'risky']);
  else if (row.error === null && row.safe === true) chips.push(['safe', 'safe']);
  if (status.marked && markedChip) chips.push(['marked', 'marked']);
  return chips;
}

function fillThumb(p: SampleParts, row: SampleResult, uri: string | null | undefined): void {
  if (row.error === null && typeof uri === 'string') {
    if (p.image.getAttribute('src') !== uri) p.image.src = uri;
    p.image.hidden = false;
    p.placeholder.hidden = true;
  } else {
    if (p.image.hasAttribute('src')) p.image.removeAttribute('src');
    p.image.hidden = true;
    p.placeholder.hidden = false;
    setText(p.placeholder, row.error !== null ? '⚠' : uri === null ? 'no preview' : '');
  }
}

/** `markedChip`: the table shows "marked" as a status chip; cards show it over the picture (their footer is narrow). */
function fillCommon(element: HTMLElement, row: SampleResult, status: RowStatus, markedChip: boolean): SampleParts {
  const p = parts.get(element);
  if (!p) throw new Error('not a sample element');
  element.dataset.sampleId = row.id;
  element.dataset.position = String(status.position);
  element.classList.toggle('is-error', row.error !== null);
  element.classList.toggle('is-flagged', status.flagged);
  element.classList.toggle('is-marked', status.marked);
  element.classList.toggle('is-selected', status.selected);
  element.classList.toggle('is-cursor', status.cursor);
  element.setAttribute('aria-selected', String(status.selected));
  fillThumb(p, row, status.thumbnail);
  setChip(p.status, statusChips(row, status, markedChip));
  // The caption is hostile text: textContent only. Errors show their reason instead.
  const text = row.error !== null ? `Error: ${row.error}` : row.caption ?? '(no caption)';
  setText(p.caption, visibleText(clip(text, LIST_CAPTION_MAX)));
  p.caption.classList.toggle('is-error-text', row.error !== null);
  element.title = visibleText(`${row.id}\n${row.image}`);
  return p;
}

export function renderCard(element: HTMLElement, row: SampleResult, status: RowStatus): void {
  const p = fillCommon(element, row, status, false);
  const value = row.scores?.[status.sortBy];
  setText(p.score, row.error !== null ? '' : `${SCORE_INFO[status.sortBy].short} ${formatScore(value)}`);
}

export function renderTableRow(element: HTMLElement, row: SampleResult, status: RowStatus): void {
  const p = fillCommon(element, row, status, true);
  if (p.id) setText(p.id, visibleText(clip(row.id, 80)));
  for (const [key, cell] of p.scores ?? []) {
    setText(cell, row.error !== null ? '' : formatScore(row.scores?.[key]));
    cell.classList.toggle('sorted', key === status.sortBy);
  }
  if (p.safe) setText(p.safe, row.error !== null ? '' : formatScore(row.safeProbability));
}
