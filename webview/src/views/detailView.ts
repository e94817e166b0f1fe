/**
 * The detail view of one sample: large image, full caption, every score explained in plain words, and the nearest
 * neighbours from its reference batch (the evidence a person needs to judge a flag).
 */
import { SCORE_KEYS, type SampleResult } from '../../../src/core/types';
import type { HostToWebview } from '../../../src/protocol/webview';
import { createButton } from '../components';
import { formatScore, h, setText, visibleText } from '../dom';
import { SAFE_PROBABILITY_EXPLANATION, SCORE_INFO } from '../explanations';

export type NeighbourList = Extract<HostToWebview, { type: 'neighbours' }>['neighbours'];

export interface DetailActions {
  close(): void;
  step(delta: number): void;
  toggleMark(id: string): void;
  openSample(id: string): void;
}

export interface DetailContext {
  row: SampleResult;
  flagged: boolean;
  marked: boolean;
  thumbnail: string | null | undefined;
  settings: { k: number; lidK: number };
  /** 1-based position in the current (filtered, sorted) list and its length. */
  position: number;
  of: number;
}

export class DetailView {
  readonly element: HTMLElement;
  private readonly title = h('h2', { className: 'detail-title', attrs: { dir: 'auto' } });
  private readonly where = h('span', { className: 'detail-where' });
  private readonly image = h('img', { className: 'detail-image', attrs: { alt: '' } });
  private readonly noImage = h('div', { className: 'detail-noimage' });
  private readonly caption = h('p', { className: 'detail-caption', attrs: { dir: 'auto' } });
  private readonly path = h('p', { className: 'detail-path', attrs: { dir: 'auto' } });
  private readonly chips = h('div', { className: 'chips' });
  private readonly scores = h('dl', { className: 'detail-scores' });
  private readonly neighbours = h('div', { className: 'neighbours' });
  private readonly neighboursStatus = h('p', { className: 'neighbours-status' });
  private readonly markButton;
  private currentId: string | null = null;

  constructor(private readonly actions: DetailActions) {
    const close = createButton({ label: 'Close', title: 'Close (Esc)', onClick: () => actions.close() });
    const previous = createButton({ label: '‹ Previous', title: 'Previous sample (k)', onClick: () => actions.step(-1) });
    const next = createButton({ label: 'Next ›', title: 'Next sample (j)', onClick: () => actions.step(1) });
    this.markButton = createButton({
      label: 'Mark for deletion',
      appearance: 'primary',
      title: 'Mark or unmark (Space)',
      onClick: () => {
        if (this.currentId !== null) actions.toggleMark(this.currentId);
      },
    });
    const header = h('div', { className: 'detail-header' }, [
      this.title,
      this.where,
      h('div', { className: 'detail-buttons' }, [previous.element, next.element, this.markButton.element, close.element]),
    ]);
    const media = h('div', { className: 'detail-media' }, [this.image, this.noImage]);
    const text = h('div', { className: 'detail-text' }, [this.chips, this.caption, this.path, h('h3', { text: 'Scores' }), this.scores]);
    this.element = h('section', { className: 'detail', attrs: { role: 'dialog', 'aria-modal': 'false', 'aria-label': 'Sample detail', tabindex: '-1' } }, [
      header,
      h('div', { className: 'detail-body' }, [media, text]),
      h('h3', { text: 'Nearest neighbours in its reference batch' }),
      this.neighboursStatus,
      this.neighbours,
    ]);
    this.element.hidden = true;
  }

  get openId(): string | null {
    return this.element.hidden ? null : this.currentId;
  }

  show(context: DetailContext): void {
    const { row } = context;
    const changed = this.currentId !== row.id;
    this.currentId = row.id;
    this.element.hidden = false;
    this.element.dataset.sampleId = row.id;
    setText(this.title, visibleText(row.id));
    setText(this.where, `${context.position} of ${context.of}`);
    this.setThumbnail(context.thumbnail, row);
    this.caption.classList.toggle('is-error-text', row.error !== null);
    setText(this.caption, visibleText(row.error !== null ? `Error: ${row.error}` : row.caption ?? '(no caption)'));
    setText(this.path, `Image: ${visibleText(row.image)}`);
    this.markButton.setLabel(context.marked ? 'Unmark' : 'Mark for deletion');
    this.chips.replaceChildren(
      ...[
        row.error !== null ? ['error', 'error'] : null,
        context.flagged ? ['flagged', 'flagged'] : null,
        row.error === null && row.safe === false ? ['risky', 'risky'] : null,
        row.error === null && row.safe === true ? ['safe', 'safe'] : null,
        context.marked ? ['marked for deletion', 'marked'] : null,
      ]
        .filter((chip): chip is string[] => chip !== null)
        .map(([label, kind]) => h('span', { className: `chip chip-${kind}`, text: label })),
    );
    this.renderScores(row, context.settings);
    if (changed) {
      this.neighbours.replaceChildren();
      setText(this.neighboursStatus, row.error !== null ? 'No neighbours: this sample could not be scored.' : 'Loading neighbours…');
    }
  }

  hide(): void {
    this.element.hidden = true;
  }

  setThumbnail(uri: string | null | undefined, row: SampleResult): void {
    if (typeof uri === 'string' && row.error === null) {
      if (this.image.getAttribute('src') !== uri) this.image.src = uri;
      this.image.hidden = false;
      this.noImage.hidden = true;
    } else {
      this.image.removeAttribute('src');
      this.image.hidden = true;
      this.noImage.hidden = false;
      setText(this.noImage, row.error !== null ? 'This sample could not be read.' : uri === null ? 'No preview available.' : 'Loading preview…');
    }
  }

  setNeighbours(id: string, neighbours: NeighbourList): void {
    if (id !== this.currentId) return;
    setText(this.neighboursStatus, neighbours.length === 0 ? 'No neighbours were returned.' : 'Click a neighbour to open it.');
    this.neighbours.replaceChildren(
      ...neighbours.map((neighbour) => {
        const picture =
          typeof neighbour.uri === 'string'
            ? h('img', { className: 'thumb-image', attrs: { alt: '', src: neighbour.uri, loading: 'lazy' } })
            : h('span', { className: 'thumb-placeholder', text: 'no preview' });
        const card = h('button', { className: `neighbour neighbour-kind-${neighbour.kind}`, attrs: { type: 'button' } }, [
          h('div', { className: 'thumb' }, [picture]),
          h('div', { className: 'neighbour-meta' }, [
            h('span', { className: `chip chip-kind`, text: neighbour.kind === 'image' ? 'image' : 'caption' }),
            h('span', { className: 'neighbour-distance', text: `distance ${formatScore(neighbour.distance)}` }),
          ]),
          h('div', { className: 'neighbour-caption', text: visibleText(neighbour.caption ?? '(no caption)'), attrs: { dir: 'auto' } }),
        ]);
        card.dataset.sampleId = neighbour.id;
        card.title = visibleText(`${neighbour.id}\n${neighbour.image}`);
        card.addEventListener('click', () => this.actions.openSample(neighbour.id));
        return card;
      }),
    );
  }

  private renderScores(row: SampleResult, settings: { k: number; lidK: number }): void {
    const entries: HTMLElement[] = [];
    for (const key of SCORE_KEYS) {
      const info = SCORE_INFO[key];
      const value = row.scores?.[key];
      if (value === undefined && row.error === null) continue; // detector not run in this scan
      entries.push(
        h('div', { className: 'score-entry' }, [
          h('dt', {}, [h('span', { className: 'score-name', text: info.label }), h('span', { className: 'score-value', text: formatScore(value) })]),
          h('dd', { text: info.explain(settings) }),
        ]),
      );
    }
    if (row.safeProbability !== undefined) {
      entries.push(
        h('div', { className: 'score-entry' }, [
          h('dt', {}, [
            h('span', { className: 'score-name', text: 'SafeCLIP safe probability' }),
            h('span', { className: 'score-value', text: `${formatScore(row.safeProbability)} (${row.safe === true ? 'safe' : row.safe === false ? 'risky' : 'unknown'})` }),
          ]),
          h('dd', { text: SAFE_PROBABILITY_EXPLANATION }),
        ]),
      );
    }
    for (const warning of row.warnings ?? []) entries.push(h('div', { className: 'score-warning', text: `Warning: ${warning}` }));
    this.scores.replaceChildren(...entries);
  }
}
