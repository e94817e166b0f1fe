/**
 * A virtualised list/grid with fixed item sizes: only the items in (and just around) the viewport exist in the DOM,
 * and their nodes are recycled as the user scrolls. Positions are set through CSSOM (allowed by the CSP).
 */

export interface VirtualListOptions {
  className: string;
  /** Fixed height of one item, in CSS pixels. */
  itemHeight: number;
  /** Minimum width of one item; null lays items out one per line at full width (a table). */
  minItemWidth: number | null;
  gap: number;
  createItem: () => HTMLElement;
  /** Fills a (possibly recycled) item node for the item at `position` in the list. */
  renderItem: (element: HTMLElement, position: number) => void;
  /** Called after every render with the positions now in the DOM (used to request thumbnails lazily). */
  onRangeRendered?: (first: number, last: number) => void;
}

/** Extra lines rendered above and below the viewport so fast scrolling does not show blanks. */
const OVERSCAN_LINES = 3;

export class VirtualList {
  readonly element: HTMLElement;
  private readonly spacer: HTMLElement;
  private readonly live = new Map<number, HTMLElement>();
  private readonly free: HTMLElement[] = [];
  private count = 0;
  private columns = 1;
  private itemWidth = 0;
  private viewportHeight = 0;

  constructor(private readonly options: VirtualListOptions) {
    this.element = document.createElement('div');
    this.element.className = `virtual-scroller ${options.className}`;
    this.element.tabIndex = 0;
    this.spacer = document.createElement('div');
    this.spacer.className = 'virtual-spacer';
    this.element.append(this.spacer);
    this.element.addEventListener('scroll', () => this.render(), { passive: true });
    new ResizeObserver(() => this.measure()).observe(this.element);
  }

  get columnCount(): number {
    return this.columns;
  }

  /** Lines per page (for PageUp/PageDown). */
  get pageLines(): number {
    return Math.max(1, Math.floor(this.viewportHeight / this.lineHeight));
  }

  private get lineHeight(): number {
    return this.options.itemHeight + this.options.gap;
  }

  /** Sets the number of items and re-renders the live ones (call after any change to the underlying list). */
  setCount(count: number): void {
    this.count = count;
    this.layoutSpacer();
    this.refresh();
  }

  /** Re-renders every live item (data, selection or marks changed). */
  refresh(): void {
    for (const [position, element] of this.live) {
      if (position < this.count) this.options.renderItem(element, position);
    }
    this.render();
  }

  /** Re-renders live items satisfying a predicate (e.g. the rows whose thumbnail just arrived). */
  refreshWhere(predicate: (element: HTMLElement) => boolean): void {
    for (const [position, element] of this.live) if (predicate(element)) this.options.renderItem(element, position);
  }

  scrollToPosition(position: number): void {
    const line = Math.floor(position / this.columns);
    const top = line * this.lineHeight;
    const bottom = top + this.options.itemHeight;
    if (top < this.element.scrollTop) this.element.scrollTop = top;
    else if (bottom > this.element.scrollTop + this.viewportHeight) this.element.scrollTop = bottom - this.viewportHeight;
    this.render();
  }

  elementAt(position: number): HTMLElement | undefined {
    return this.live.get(position);
  }

  private measure(): void {
    this.viewportHeight = this.element.clientHeight;
    const width = this.element.clientWidth;
    const { minItemWidth, gap } = this.options;
    this.columns = minItemWidth === null ? 1 : Math.max(1, Math.floor((width + gap) / (minItemWidth + gap)));
    this.itemWidth = minItemWidth === null ? width : Math.floor((width - gap * (this.columns - 1)) / this.columns);
    this.layoutSpacer();
    // Column count may have changed: every live item needs a new position.
    for (const [position, element] of this.live) this.place(element, position);
    this.render();
  }

  private layoutSpacer(): void {
    const lines = Math.ceil(this.count / this.columns);
    this.spacer.style.height = `${Math.max(0, lines * this.lineHeight - this.options.gap)}px`;
  }

  private place(element: HTMLElement, position: number): void {
    const line = Math.floor(position / this.columns);
    const column = position % this.columns;
    element.style.transform = `translate(${column * (this.itemWidth + this.options.gap)}px, ${line * this.lineHeight}px)`;
    element.style.width = `${this.itemWidth}px`;
  }

  private render(): void {
    if (this.viewportHeight === 0) this.viewportHeight = this.element.clientHeight;
    const firstLine = Math.max(0, Math.floor(this.element.scrollTop / this.lineHeight) - OVERSCAN_LINES);
    const lastLine = Math.ceil((this.element.scrollTop + this.viewportHeight) / this.lineHeight) + OVERSCAN_LINES;
    const first = firstLine * this.columns;
    const last = Math.min(this.count - 1, (lastLine + 1) * this.columns - 1);
    for (const [position, element] of this.live) {
      if (position < first || position > last) {
        this.live.delete(position);
        element.hidden = true;
        this.free.push(element);
      }
    }
    for (let position = first; position <= last; position++) {
      if (this.live.has(position)) continue;
      let element = this.free.pop();
      if (!element) {
        element = this.options.createItem();
        element.classList.add('virtual-item');
        this.element.append(element);
      }
      element.hidden = false;
      this.live.set(position, element);
      this.place(element, position);
      this.options.renderItem(element, position);
    }
    if (last >= first) this.options.onRangeRendered?.(first, last);
  }
}
