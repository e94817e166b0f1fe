/**
 * Tiny DOM helpers. Data (captions, file names, ids) only ever reaches the page through textContent or
 * property/attribute setters, never through HTML parsing; this module is the place that guarantees it.
 */

export interface ElementProps {
  className?: string;
  text?: string;
  title?: string;
  attrs?: Readonly<Record<string, string>>;
}

/** Inline handlers and style attributes are forbidden by the panel's CSP and by design: refuse them loudly. */
function assertSafeAttribute(name: string): void {
  const lower = name.toLowerCase();
  if (lower.startsWith('on') || lower === 'style' || lower === 'srcdoc') throw new Error(`refusing to set attribute ${name}`);
}

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, props: ElementProps = {}, children: readonly Node[] = []): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  if (props.className) element.className = props.className;
  if (props.text !== undefined) element.textContent = props.text;
  if (props.title !== undefined) element.title = props.title;
  if (props.attrs) {
    for (const [name, value] of Object.entries(props.attrs)) {
      assertSafeAttribute(name);
      element.setAttribute(name, value);
    }
  }
  if (children.length > 0) element.append(...children);
  return element;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

export function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Readonly<Record<string, string | number>> = {}): SVGElementTagNameMap[K] {
  const element = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs)) {
    assertSafeAttribute(name);
    element.setAttribute(name, String(value));
  }
  return element;
}

/** Sets text only when it changed (recycled rows are re-rendered on every scroll step). */
export function setText(element: Element, text: string): void {
  if (element.textContent !== text) element.textContent = text;
}

/** Long captions are cut for list views (the detail view shows the whole text); keeps layout and memory bounded. */
export function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}…`;
}

export function formatScore(value: number | null | undefined): string {
  if (typeof value !== 'number' || !Number.isFinite(value)) return '—';
  const abs = Math.abs(value);
  if (abs !== 0 && (abs < 1e-3 || abs >= 1e5)) return value.toExponential(2);
  return value.toFixed(abs >= 100 ? 1 : 3);
}

/**
 * Makes invisible formatting characters visible. Bidi overrides/isolates and zero-width characters in hostile captions
 * or file names can disguise text (e.g. "photo\u202Egnp.exe" displays as "photoexe.png"); people judging what to delete
 * must see what is really there.
 */
export function visibleText(text: string): string {
  return text.replace(/[\u200B-\u200F\u202A-\u202E\u2066-\u2069\uFEFF\u061C]/g, (c) => `[U+${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}]`);
}
