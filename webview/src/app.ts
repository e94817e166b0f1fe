/**
 * The results panel: wires the model, the views and the host channel together.
 * Message flow: webview 'ready' → host 'init'; visible rows → 'requestThumbnails' → 'thumbnails'; detail → 'requestNeighbours'
 * → 'neighbours'; marking → 'setMarked' (host answers 'marked' with the full set); state → setState + debounced 'saveState'.
 */
import { SCORE_KEYS, type FlagPolicy, type SampleResult, type ScoreKey } from '../../src/core/types';
import type { ExportFormat, ScanSummary } from '../../src/protocol/backend';
import { assertNever } from '../../src/protocol/assertNever';
import { EXPORT_FORMATS, type HostToWebview, type PanelState } from '../../src/protocol/webview';
import {
  createBadge,
  createButton,
  createCheckbox,
  createDropdown,
  createProgressRing,
  createRadioGroup,
  createTextField,
  type Control,
} from './components';
import { formatScore, h, setText, visibleText } from './dom';
import { SCORE_INFO } from './explanations';
import type { Host } from './host';
import { ResultsModel, histogram, sanitizeState, type PanelFilter } from './model';
import { DetailView } from './views/detailView';
import { HISTOGRAM_BINS, HistogramView } from './views/histogramView';
import { createCard, createTableHeader, createTableRow, renderCard, renderTableRow, type RowStatus } from './views/sampleViews';
import { VirtualList } from './virtualList';

const EXPORT_LABELS: Readonly<Record<ExportFormat, string>> = {
  csv: 'CSV',
  jsonl: 'JSONL',
  parquet: 'Parquet',
  'deletion-list': 'Deletion list',
  'clean-manifest': 'Clean manifest',
  'safe-set': 'Safe set',
};

const EXPORT_TITLES: Readonly<Record<ExportFormat, string>> = {
  csv: 'All scores as CSV',
  jsonl: 'All scores as JSON Lines',
  parquet: 'All scores as Parquet',
  'deletion-list': 'The samples marked for deletion',
  'clean-manifest': 'A manifest of the samples kept (not marked)',
  'safe-set': 'The SafeCLIP-safe samples with EDA-style and counterfactual sub-captions, for CleanCLIP / TA-Cleaner fine-tuning',
};

const SAVE_STATE_DELAY_MS = 400;
const THUMBNAIL_REQUEST_DELAY_MS = 40;
const THUMBNAIL_BATCH = 200;
const CARD_HEIGHT = 232;
const CARD_MIN_WIDTH = 176;
const TABLE_ROW_HEIGHT = 40;

type PolicyKind = FlagPolicy['kind'];

export class PanelApp {
  private readonly model = new ResultsModel();
  private summary: ScanSummary | null = null;
  private trusted = true;
  private readonly thumbnails = new Map<string, string | null>();
  private readonly pendingThumbnails = new Set<string>();
  /** Ids asked for and not answered yet (so scrolling back and forth does not ask twice). */
  private readonly requested = new Set<string>();
  private thumbnailTimer: ReturnType<typeof setTimeout> | undefined;
  private saveTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly selected = new Set<string>();
  private cursor = 0;
  private anchor = 0;
  private dragFrame = 0;

  // Views and controls.
  private readonly root: HTMLElement;
  private readonly summaryTitle = h('h1', { className: 'summary-title', attrs: { dir: 'auto' } });
  private readonly summaryMeta = h('p', { className: 'summary-meta' });
  private readonly untrustedBanner = h('div', { className: 'banner banner-warning', attrs: { role: 'alert' } });
  private readonly noticeText = h('span', { className: 'notice-text' });
  private readonly noticeBanner: HTMLElement;
  private readonly busyText = h('span', { className: 'busy-text' });
  private readonly busyBar: HTMLElement;
  private readonly emptyMessage = h('p', { className: 'empty', text: 'No samples match the filters.' });
  private readonly grid: VirtualList;
  private readonly table: VirtualList;
  private readonly tableView: HTMLElement;
  private tableHeader: HTMLElement;
  private readonly histogram: HistogramView;
  private readonly detail: DetailView;
  private readonly counts = {
    shown: createBadge('0'),
    flagged: createBadge('0'),
    risky: createBadge('0'),
    errors: createBadge('0'),
    marked: createBadge('0'),
  };
  private readonly detector: Control & { setValue(value: ScoreKey): void };
  private readonly policyKind: Control & { setValue(value: PolicyKind): void };
  private readonly policyValue: Control & { setValue(value: string): void };
  private readonly view: Control & { setValue(value: PanelState['view']): void };
  private readonly filters: Record<keyof Omit<PanelFilter, 'search'>, Control & { setChecked(checked: boolean): void }>;
  private readonly search: Control & { setValue(value: string): void };
  private readonly rescanButton: Control;
  private readonly markSelectedButton: Control;
  private readonly unmarkSelectedButton: Control;
  private readonly applyButton: Control;

  constructor(
    root: HTMLElement,
    private readonly host: Host,
  ) {
    this.root = root;
    this.rescanButton = createButton({ label: 'Rescan', title: 'Scan the dataset again', onClick: () => this.host.post({ type: 'rescan' }) });
    const header = h('header', { className: 'summary' }, [h('div', { className: 'summary-text' }, [this.summaryTitle, this.summaryMeta]), this.rescanButton.element]);

    const dismiss = createButton({ label: 'Dismiss', onClick: () => (this.noticeBanner.hidden = true) });
    this.noticeBanner = h('div', { className: 'banner banner-notice', attrs: { role: 'status' } }, [this.noticeText, dismiss.element]);
    this.noticeBanner.hidden = true;
    this.untrustedBanner.hidden = true;
    this.busyBar = h('div', { className: 'busy', attrs: { role: 'status' } }, [createProgressRing(), this.busyText]);
    this.busyBar.hidden = true;

    this.detector = createDropdown<ScoreKey>({
      label: 'Detector',
      choices: SCORE_KEYS.map((key) => ({ value: key, label: SCORE_INFO[key].label })),
      value: this.model.state.sortBy,
      onChange: (key) => this.changeDetector(key),
    });
    this.policyKind = createRadioGroup<PolicyKind>({
      label: 'Flag',
      choices: [
        { value: 'top-percent', label: 'Top %' },
        { value: 'threshold', label: 'Score threshold' },
        { value: 'risky', label: 'SafeCLIP risky' },
      ],
      value: 'top-percent',
      onChange: (kind) => this.changePolicyKind(kind),
    });
    this.policyValue = createTextField({ label: 'Value', value: '1', className: 'policy-value', onInput: (text) => this.changePolicyValue(text) });
    this.view = createRadioGroup<PanelState['view']>({
      label: 'View',
      choices: [
        { value: 'grid', label: 'Grid' },
        { value: 'table', label: 'Table' },
      ],
      value: 'grid',
      onChange: (view) => this.changeView(view),
    });
    this.histogram = new HistogramView((raw, final) => this.dragThreshold(raw, final));

    const filter = (name: keyof Omit<PanelFilter, 'search'>, label: string): Control & { setChecked(checked: boolean): void } => {
      const box = createCheckbox({ label, checked: false, onChange: (checked) => this.changeFilter({ [name]: checked }) });
      box.element.dataset.filter = name;
      return box;
    };
    this.filters = {
      flaggedOnly: filter('flaggedOnly', 'Flagged only'),
      riskyOnly: filter('riskyOnly', 'Risky only'),
      errorsOnly: filter('errorsOnly', 'Errors only'),
      markedOnly: filter('markedOnly', 'Marked only'),
    };
    let searchTimer: ReturnType<typeof setTimeout> | undefined;
    this.search = createTextField({
      label: 'Search',
      value: '',
      placeholder: 'caption, id or file name',
      className: 'search',
      onInput: (text) => {
        clearTimeout(searchTimer);
        searchTimer = setTimeout(() => this.changeFilter({ search: text }), 150);
      },
    });

    this.markSelectedButton = createButton({ label: 'Mark selected', onClick: () => this.markIds([...this.selected], true) });
    this.unmarkSelectedButton = createButton({ label: 'Unmark selected', onClick: () => this.markIds([...this.selected], false) });
    const markFlagged = createButton({ label: 'Mark all flagged', onClick: () => this.markIds(this.model.flaggedIds(), true) });
    this.applyButton = createButton({ label: 'Apply deletions…', appearance: 'primary', onClick: () => this.host.post({ type: 'applyDeletions' }) });
    const undo = createButton({ label: 'Undo last deletion', onClick: () => this.host.post({ type: 'undoDeletion' }) });
    const exports = EXPORT_FORMATS.map((format) => {
      const button = createButton({ label: EXPORT_LABELS[format], title: EXPORT_TITLES[format], onClick: () => this.host.post({ type: 'export', format }) });
      button.element.dataset.export = format;
      return button.element;
    });

    const countItem = (label: string, badge: { element: HTMLElement }, kind: string): HTMLElement => {
      badge.element.dataset.count = kind;
      return h('span', { className: `count count-${kind}` }, [h('span', { text: label }), badge.element]);
    };
    const controls = h('section', { className: 'controls' }, [
      h('div', { className: 'control-row' }, [this.detector.element, this.policyKind.element, this.policyValue.element, this.view.element]),
      this.histogram.element,
      h('div', { className: 'control-row counts' }, [
        countItem('Shown', this.counts.shown, 'shown'),
        countItem('Flagged', this.counts.flagged, 'flagged'),
        countItem('Risky', this.counts.risky, 'risky'),
        countItem('Errors', this.counts.errors, 'errors'),
        countItem('Marked', this.counts.marked, 'marked'),
      ]),
      h('div', { className: 'control-row filters' }, [...Object.values(this.filters).map((f) => f.element), this.search.element]),
      h('div', { className: 'control-row actions' }, [
        this.markSelectedButton.element,
        this.unmarkSelectedButton.element,
        markFlagged.element,
        this.applyButton.element,
        undo.element,
        h('span', { className: 'field-label export-label', text: 'Export:' }),
        ...exports,
      ]),
    ]);

    this.grid = new VirtualList({
      className: 'grid-view',
      itemHeight: CARD_HEIGHT,
      minItemWidth: CARD_MIN_WIDTH,
      gap: 8,
      createItem: createCard,
      renderItem: (element, position) => this.renderItem(element, position, renderCard),
      onRangeRendered: (first, last) => this.requestVisibleThumbnails(first, last),
    });
    this.table = new VirtualList({
      className: 'table-body',
      itemHeight: TABLE_ROW_HEIGHT,
      minItemWidth: null,
      gap: 0,
      createItem: createTableRow,
      renderItem: (element, position) => this.renderItem(element, position, renderTableRow),
      onRangeRendered: (first, last) => this.requestVisibleThumbnails(first, last),
    });
    for (const list of [this.grid, this.table]) {
      list.element.setAttribute('role', list === this.grid ? 'listbox' : 'grid');
      list.element.setAttribute('aria-multiselectable', 'true');
      list.element.setAttribute('aria-label', 'Samples');
      list.element.addEventListener('click', (event) => this.onItemClick(event));
      list.element.addEventListener('dblclick', (event) => {
        const position = this.positionOf(event.target);
        if (position !== null) this.openDetail(position);
      });
    }
    this.tableHeader = createTableHeader(this.model.state.sortBy);
    this.tableView = h('div', { className: 'table-view' }, [this.tableHeader, this.table.element]);

    this.detail = new DetailView({
      close: () => this.closeDetail(),
      step: (delta) => this.moveCursor(delta, false, true),
      toggleMark: (id) => this.markIds([id], !this.model.marked.has(id)),
      openSample: (id) => this.openSampleById(id),
    });

    const results = h('main', { className: 'results' }, [this.grid.element, this.tableView, this.emptyMessage]);
    root.replaceChildren(header, this.untrustedBanner, this.noticeBanner, this.busyBar, controls, results, this.detail.element);
    root.removeAttribute('aria-busy');
    document.addEventListener('keydown', (event) => this.onKey(event));
    this.applyView();
    this.updateButtons();
  }

  handleMessage(message: HostToWebview): void {
    switch (message.type) {
      case 'init':
        this.init(message.summary, message.rows, message.marked, message.state, message.trusted);
        break;
      case 'thumbnails':
        this.receiveThumbnails(message.items);
        break;
      case 'neighbours':
        this.detail.setNeighbours(message.id, message.neighbours);
        break;
      case 'marked':
        this.model.setMarked(message.ids);
        this.refreshAll();
        break;
      case 'busy':
        this.busyBar.hidden = message.message === null;
        setText(this.busyText, message.message ?? '');
        break;
      case 'notice':
        this.noticeBanner.hidden = false;
        this.noticeBanner.classList.toggle('banner-error', message.level === 'error');
        setText(this.noticeText, visibleText(message.message));
        break;
      default:
        assertNever(message);
    }
  }

  private init(summary: ScanSummary, rows: SampleResult[], marked: string[], hostState: PanelState, trusted: boolean): void {
    const stored = this.host.storedState();
    // After a reload the webview's own state is the freshest; the host's copy is the fallback (e.g. a new window).
    const state = sanitizeState(stored && stored.dataset === summary.dataset ? stored.panel : hostState);
    const previousDataset = this.summary?.dataset;
    this.summary = summary;
    this.trusted = trusted;
    this.model.setRows(rows, marked, state);
    if (previousDataset !== summary.dataset) {
      this.thumbnails.clear();
      this.requested.clear();
      this.selected.clear();
      this.cursor = 0;
      this.anchor = 0;
    } else {
      for (const id of this.selected) if (this.model.indexOf(id) === undefined) this.selected.delete(id);
    }
    this.renderSummary();
    this.syncControls();
    this.redrawHistogram();
    this.closeDetail();
    this.applyView();
    this.refreshAll();
    this.persist();
  }

  private renderSummary(): void {
    const summary = this.summary;
    if (!summary) return;
    setText(this.summaryTitle, visibleText(summary.dataset));
    const options = summary.options;
    const finished = new Date(summary.finishedAt);
    const date = Number.isNaN(finished.getTime()) ? summary.finishedAt : finished.toLocaleString();
    setText(
      this.summaryMeta,
      [
        `${summary.sampleCount.toLocaleString()} samples (${summary.errorCount.toLocaleString()} errors)`,
        `layout ${summary.layout}`,
        `model ${summary.model}`,
        `device ${summary.device}`,
        `scanned ${date}`,
        `k=${options.k}, LID k=${options.lidK}, batch ${options.batchSize === 0 ? 'all' : options.batchSize}, seed ${options.seed}`,
        `detectors ${options.detectors.join(', ')}`,
        `${summary.embeddedImages.toLocaleString()} embedded, ${summary.cachedImages.toLocaleString()} from cache`,
      ].join(' · '),
    );
    this.summaryMeta.title = `Device: ${summary.device}: ${summary.deviceReason}\nNeighbour mapping: ${options.compat}`;
    this.untrustedBanner.hidden = this.trusted;
    setText(
      this.untrustedBanner,
      this.trusted ? '' : 'This workspace is not trusted, so scanning is disabled. You can inspect these results; trust the folder to scan again.',
    );
  }

  private syncControls(): void {
    const state = this.model.state;
    this.detector.setValue(state.sortBy);
    this.policyKind.setValue(state.policy.kind);
    this.syncPolicyValue();
    this.view.setValue(state.view);
    for (const [name, control] of Object.entries(this.filters) as [keyof typeof this.filters, (typeof this.filters)[keyof typeof this.filters]][]) {
      control.setChecked(state.filter[name]);
    }
    this.search.setValue(state.filter.search);
  }

  private syncPolicyValue(): void {
    const policy = this.model.state.policy;
    this.policyValue.setDisabled(policy.kind === 'risky');
    this.policyValue.setValue(policy.kind === 'top-percent' ? String(policy.percent) : policy.kind === 'threshold' ? formatScore(policy.threshold) : '');
    this.policyValue.element.title = policy.kind === 'top-percent' ? 'Percent of scored samples to flag' : policy.kind === 'threshold' ? 'Raw score threshold' : '';
  }

  private redrawHistogram(): void {
    const key = this.model.state.sortBy;
    this.histogram.update(histogram(this.model.rows, key, HISTOGRAM_BINS), key, this.model.displayThreshold());
  }

  // ---- state changes -------------------------------------------------------------------------------------------

  private changeDetector(key: ScoreKey): void {
    const policy = this.model.state.policy;
    this.model.setSortBy(key);
    if (policy.kind === 'top-percent') this.model.setPolicy({ ...policy, detector: key });
    else if (policy.kind === 'threshold' && policy.detector !== key) {
      // A raw threshold means nothing on another detector's scale: keep the same share of flagged samples instead.
      const flagged = this.model.counts().flagged;
      const scored = this.model.rows.filter((row) => row.error === null).length;
      const percent = scored > 0 ? Math.max(0.01, Math.round((flagged / scored) * 10000) / 100) : 1;
      this.model.setPolicy({ kind: 'top-percent', detector: key, percent });
    }
    const header = createTableHeader(key);
    this.tableHeader.replaceWith(header);
    this.tableHeader = header;
    this.syncControls();
    this.redrawHistogram();
    this.cursor = 0;
    this.refreshAll();
    this.persist();
  }

  private changePolicyKind(kind: PolicyKind): void {
    const current = this.model.state.policy;
    if (current.kind === kind) return;
    const detector = this.model.state.sortBy;
    let policy: FlagPolicy;
    if (kind === 'risky') policy = { kind: 'risky' };
    else if (kind === 'top-percent') policy = { kind, detector, percent: 1 };
    else {
      // Start the threshold where the current policy's cut-off is, so switching does not jump.
      const threshold = this.model.displayThreshold() ?? histogram(this.model.rows, detector, HISTOGRAM_BINS).max;
      policy = { kind, detector, threshold };
    }
    this.applyPolicy(policy);
    this.syncPolicyValue();
  }

  private changePolicyValue(text: string): void {
    const value = Number(text.trim());
    if (text.trim() === '' || !Number.isFinite(value)) return;
    const policy = this.model.state.policy;
    if (policy.kind === 'top-percent') this.applyPolicy({ ...policy, percent: Math.min(100, Math.max(0, value)) });
    else if (policy.kind === 'threshold') this.applyPolicy({ ...policy, threshold: value });
  }

  private dragThreshold(raw: number, final: boolean): void {
    const policy: FlagPolicy = { kind: 'threshold', detector: this.model.state.sortBy, threshold: raw };
    cancelAnimationFrame(this.dragFrame);
    const apply = (): void => {
      this.applyPolicy(policy);
      this.policyKind.setValue('threshold');
      this.syncPolicyValue();
    };
    // While dragging, recompute at most once per frame; the final position applies at once.
    if (final) apply();
    else this.dragFrame = requestAnimationFrame(apply);
  }

  private applyPolicy(policy: FlagPolicy): void {
    this.model.setPolicy(policy);
    this.histogram.setThreshold(this.model.displayThreshold());
    this.refreshAll();
    this.persist();
  }

  private changeFilter(filter: Partial<PanelFilter>): void {
    this.model.setFilter(filter);
    this.cursor = 0;
    this.refreshAll();
    this.persist();
  }

  private changeView(view: PanelState['view']): void {
    if (this.model.state.view === view) return;
    const id = this.cursorId();
    this.model.state.view = view;
    this.applyView();
    if (id !== null) this.activeList().scrollToPosition(this.cursor);
    this.persist();
  }

  private applyView(): void {
    const grid = this.model.state.view === 'grid';
    this.grid.element.hidden = !grid;
    this.tableView.hidden = grid;
    this.activeList().setCount(this.model.visible.length);
  }

  private activeList(): VirtualList {
    return this.model.state.view === 'grid' ? this.grid : this.table;
  }

  /** Re-renders counts, buttons and the visible items (after any change to data, flags, marks or selection). */
  private refreshAll(): void {
    const counts = this.model.counts();
    this.counts.shown.setText(counts.shown === counts.total ? counts.total.toLocaleString() : `${counts.shown.toLocaleString()} / ${counts.total.toLocaleString()}`);
    this.counts.flagged.setText(counts.flagged.toLocaleString());
    this.counts.risky.setText(counts.risky.toLocaleString());
    this.counts.errors.setText(counts.errors.toLocaleString());
    this.counts.marked.setText(counts.marked.toLocaleString());
    for (const [name, value] of Object.entries(counts)) this.root.dataset[`count${name[0].toUpperCase()}${name.slice(1)}`] = String(value);
    this.cursor = Math.min(this.cursor, Math.max(0, this.model.visible.length - 1));
    this.emptyMessage.hidden = this.model.visible.length > 0;
    this.activeList().setCount(this.model.visible.length);
    this.updateButtons();
    this.refreshDetail();
  }

  private updateButtons(): void {
    this.rescanButton.setDisabled(!this.trusted);
    this.rescanButton.element.title = this.trusted ? 'Scan the dataset again' : 'Scanning is disabled in an untrusted workspace';
    this.markSelectedButton.setDisabled(this.selected.size === 0);
    this.unmarkSelectedButton.setDisabled(this.selected.size === 0);
    this.applyButton.setDisabled(this.model.marked.size === 0);
  }

  private persist(): void {
    if (!this.summary) return;
    const state = structuredClone(this.model.state);
    this.host.store({ dataset: this.summary.dataset, panel: state });
    clearTimeout(this.saveTimer);
    this.saveTimer = setTimeout(() => this.host.post({ type: 'saveState', state }), SAVE_STATE_DELAY_MS);
  }

  // ---- rows ----------------------------------------------------------------------------------------------------

  private renderItem(element: HTMLElement, position: number, render: (element: HTMLElement, row: SampleResult, status: RowStatus) => void): void {
    const index = this.model.visible[position];
    const row = this.model.rows[index];
    render(element, row, {
      position,
      flagged: this.model.isFlagged(index),
      marked: this.model.isMarked(index),
      selected: this.selected.has(row.id),
      cursor: position === this.cursor,
      thumbnail: this.thumbnails.get(row.id),
      sortBy: this.model.state.sortBy,
    });
  }

  private requestVisibleThumbnails(first: number, last: number): void {
    for (let position = first; position <= last; position++) {
      const row = this.model.rows[this.model.visible[position]];
      if (row.error === null && !this.thumbnails.has(row.id) && !this.requested.has(row.id)) this.pendingThumbnails.add(row.id);
    }
    if (this.pendingThumbnails.size === 0 || this.thumbnailTimer !== undefined) return;
    // Batch the ids of a scroll gesture into few messages (ids scrolled past before the timer fires are still fetched: cheap, cached).
    this.thumbnailTimer = setTimeout(() => {
      this.thumbnailTimer = undefined;
      const ids = [...this.pendingThumbnails];
      this.pendingThumbnails.clear();
      for (const id of ids) this.requested.add(id);
      for (let start = 0; start < ids.length; start += THUMBNAIL_BATCH) {
        this.host.post({ type: 'requestThumbnails', ids: ids.slice(start, start + THUMBNAIL_BATCH) });
      }
    }, THUMBNAIL_REQUEST_DELAY_MS);
  }

  private receiveThumbnails(items: { id: string; uri: string | null; error?: string }[]): void {
    const changed = new Set<string>();
    for (const item of items) {
      if (this.model.indexOf(item.id) === undefined) continue;
      this.thumbnails.set(item.id, typeof item.uri === 'string' ? item.uri : null);
      this.requested.delete(item.id);
      changed.add(item.id);
    }
    this.activeList().refreshWhere((element) => changed.has(element.dataset.sampleId ?? ''));
    const open = this.detail.openId;
    if (open !== null && changed.has(open)) this.refreshDetail();
  }

  private positionOf(target: EventTarget | null): number | null {
    const element = target instanceof Element ? target.closest<HTMLElement>('[data-position]') : null;
    if (!element) return null;
    const position = Number(element.dataset.position);
    return Number.isInteger(position) && position < this.model.visible.length ? position : null;
  }

  private idAt(position: number): string {
    return this.model.rows[this.model.visible[position]].id;
  }

  private cursorId(): string | null {
    return this.model.visible.length > 0 ? this.idAt(this.cursor) : null;
  }

  private onItemClick(event: MouseEvent): void {
    const position = this.positionOf(event.target);
    if (position === null) return;
    if (event.shiftKey) this.selectRange(this.anchor, position, event.ctrlKey || event.metaKey);
    else if (event.ctrlKey || event.metaKey) {
      const id = this.idAt(position);
      if (this.selected.has(id)) this.selected.delete(id);
      else this.selected.add(id);
      this.anchor = position;
    } else {
      this.selected.clear();
      this.selected.add(this.idAt(position));
      this.anchor = position;
    }
    this.cursor = position;
    this.activeList().element.focus({ preventScroll: true });
    this.refreshAll();
  }

  private selectRange(from: number, to: number, add: boolean): void {
    if (!add) this.selected.clear();
    for (let p = Math.min(from, to); p <= Math.max(from, to); p++) this.selected.add(this.idAt(p));
  }

  private moveCursor(delta: number, extend: boolean, keepDetail = false): void {
    const count = this.model.visible.length;
    if (count === 0) return;
    this.cursor = Math.min(count - 1, Math.max(0, this.cursor + delta));
    if (extend) this.selectRange(this.anchor, this.cursor, false);
    else {
      this.selected.clear();
      this.selected.add(this.idAt(this.cursor));
      this.anchor = this.cursor;
    }
    this.activeList().scrollToPosition(this.cursor);
    if (keepDetail && this.detail.openId !== null) this.openDetail(this.cursor);
    this.refreshAll();
  }

  private markIds(ids: string[], marked: boolean): void {
    const known = ids.filter((id) => this.model.indexOf(id) !== undefined);
    if (known.length === 0) return;
    this.model.updateMarked(known, marked); // optimistic; the host's 'marked' reply is authoritative
    this.host.post({ type: 'setMarked', ids: known, marked });
    this.refreshAll();
  }

  /** Space: marks the selection (or the cursor row); if every one of them is already marked, unmarks them. */
  private toggleMarkSelection(): void {
    const ids = this.selected.size > 0 ? [...this.selected] : [this.cursorId()].filter((id): id is string => id !== null);
    if (ids.length === 0) return;
    this.markIds(ids, !ids.every((id) => this.model.marked.has(id)));
  }

  // ---- detail --------------------------------------------------------------------------------------------------

  private openDetail(position: number): void {
    if (position >= this.model.visible.length) return;
    this.cursor = position;
    const row = this.model.rows[this.model.visible[position]];
    const wasOpen = this.detail.openId;
    this.showDetail(row, position);
    if (wasOpen !== row.id && row.error === null) {
      this.host.post({ type: 'requestNeighbours', id: row.id });
      if (!this.thumbnails.has(row.id) && !this.requested.has(row.id)) this.host.post({ type: 'requestThumbnails', ids: [row.id] });
    }
    this.root.classList.add('detail-open');
    if (wasOpen === null) this.detail.element.focus({ preventScroll: true });
  }

  private showDetail(row: SampleResult, position: number): void {
    const index = this.model.visible[position];
    this.detail.show({
      row,
      flagged: this.model.isFlagged(index),
      marked: this.model.isMarked(index),
      thumbnail: this.thumbnails.get(row.id),
      settings: { k: this.summary?.options.k ?? 16, lidK: this.summary?.options.lidK ?? 64 },
      position: position + 1,
      of: this.model.visible.length,
    });
  }

  private refreshDetail(): void {
    const id = this.detail.openId;
    if (id === null) return;
    const index = this.model.indexOf(id);
    if (index === undefined) return this.closeDetail();
    const position = this.model.visible.indexOf(index);
    this.showDetail(this.model.rows[index], position >= 0 ? position : this.cursor);
  }

  private openSampleById(id: string): void {
    const index = this.model.indexOf(id);
    if (index === undefined) return;
    let position = this.model.visible.indexOf(index);
    if (position < 0) {
      // The neighbour is hidden by a filter: clear filters so it can be shown in context.
      this.changeFilter({ flaggedOnly: false, riskyOnly: false, errorsOnly: false, markedOnly: false, search: '' });
      this.syncControls();
      position = this.model.visible.indexOf(index);
    }
    this.selected.clear();
    this.selected.add(id);
    this.anchor = position;
    this.activeList().scrollToPosition(position);
    this.openDetail(position);
    this.refreshAll();
  }

  private closeDetail(): void {
    if (this.detail.openId === null) return;
    this.detail.hide();
    this.root.classList.remove('detail-open');
    this.activeList().element.focus({ preventScroll: true });
  }

  // ---- keyboard ------------------------------------------------------------------------------------------------

  private onKey(event: KeyboardEvent): void {
    if (event.defaultPrevented || event.altKey) return;
    const target = event.target instanceof HTMLElement ? event.target : null;
    // Typing in a text field, or operating a toolkit control, must not move the selection.
    if (target && (target.closest('vscode-text-field, vscode-dropdown, vscode-radio-group, input, textarea') || ((event.key === ' ' || event.key === 'Enter') && target.closest('vscode-button, vscode-checkbox, vscode-radio, button')))) {
      if (event.key === 'Escape' && this.detail.openId !== null) this.closeDetail();
      return;
    }
    const detailOpen = this.detail.openId !== null;
    const columns = this.model.state.view === 'grid' && !detailOpen ? this.activeList().columnCount : 1;
    const page = this.activeList().pageLines * columns;
    const moves: Record<string, number> = {
      ArrowDown: columns,
      ArrowUp: -columns,
      ArrowRight: 1,
      ArrowLeft: -1,
      j: 1,
      k: -1,
      PageDown: page,
      PageUp: -page,
      Home: -Infinity,
      End: Infinity,
    };
    const delta = moves[event.key];
    if (delta !== undefined && !event.ctrlKey && !event.metaKey) {
      event.preventDefault();
      const bounded = Number.isFinite(delta) ? delta : delta > 0 ? this.model.visible.length : -this.model.visible.length;
      this.moveCursor(bounded, event.shiftKey, true);
      return;
    }
    if (event.key === 'Enter') {
      event.preventDefault();
      this.openDetail(this.cursor);
    } else if (event.key === ' ') {
      event.preventDefault();
      if (detailOpen) {
        const id = this.detail.openId;
        if (id !== null) this.markIds([id], !this.model.marked.has(id));
      } else this.toggleMarkSelection();
    } else if (event.key === 'Escape') {
      if (detailOpen) {
        event.preventDefault();
        this.closeDetail();
      } else if (this.selected.size > 0) {
        this.selected.clear();
        this.refreshAll();
      }
    } else if ((event.ctrlKey || event.metaKey) && event.key === 'a' && !detailOpen) {
      event.preventDefault();
      this.selectRange(0, this.model.visible.length - 1, false);
      this.refreshAll();
    }
  }
}
