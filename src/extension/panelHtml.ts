/**
 * The results panel's HTML shell. Free of `vscode` so it can be unit-tested and rendered in plain Chromium.
 * Everything the panel shows is built by dist/webview/panel.js through the DOM (text only), never by this template.
 */
import { randomBytes } from 'node:crypto';

export interface PanelHtmlOptions {
  /** `webview.cspSource`: the origin allowed to serve our script, style, font and image resources. */
  cspSource: string;
  /** Fresh per render (createNonce); only scripts carrying it may run. */
  nonce: string;
  /** Webview URI of dist/webview/panel.js. */
  scriptUri: string;
  /** Webview URI of dist/webview/toolkit.min.js (@vscode/webview-ui-toolkit). */
  toolkitUri: string;
  /** Webview URI of media/panel.css. */
  styleUri: string;
  title: string;
}

/** A nonce for the panel's script tags: 128 random bits, base64url (no characters that need escaping). */
export function createNonce(): string {
  return randomBytes(16).toString('base64url');
}

/** Escapes text for an HTML text node or a double/single-quoted attribute value. */
const HTML_ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] ?? c);
}

/** The strict policy: no inline script or style, scripts only by nonce, images only from the webview's resource origin (and data: thumbnails). */
export function panelCsp(cspSource: string, nonce: string): string {
  return [
    "default-src 'none'",
    `img-src ${cspSource} data:`,
    `style-src ${cspSource}`,
    `font-src ${cspSource}`,
    `script-src 'nonce-${nonce}'`,
  ].join('; ') + ';';
}

/**
 * VS Code's cspSource is a space-separated source list (desktop: `'self' https://*.vscode-cdn.net`). Accept only
 * `'self'` and scheme/host sources, so nothing can add a directive (`;`) or a keyword such as 'unsafe-inline'.
 */
export function isSafeCspSourceList(cspSource: string): boolean {
  const tokens = cspSource.split(' ');
  return tokens.length > 0 && tokens.every((token) => token === "'self'" || /^[a-z][a-z0-9+.-]*:(\/\/[A-Za-z0-9*+._:~%/-]+)?$/.test(token));
}

export function renderPanelHtml(options: PanelHtmlOptions): string {
  // A nonce or source with quotes or spaces could break out of the policy; refuse rather than emit a weaker CSP.
  if (!/^[A-Za-z0-9_-]+$/.test(options.nonce)) throw new Error('renderPanelHtml: the nonce must be URL-safe base64');
  if (!isSafeCspSourceList(options.cspSource)) throw new Error('renderPanelHtml: invalid cspSource');
  const attr = escapeHtml;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${attr(panelCsp(options.cspSource, options.nonce))}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>${escapeHtml(options.title)}</title>
<link rel="stylesheet" href="${attr(options.styleUri)}">
<script type="module" nonce="${attr(options.nonce)}" src="${attr(options.toolkitUri)}"></script>
<script type="module" nonce="${attr(options.nonce)}" src="${attr(options.scriptUri)}"></script>
</head>
<body>
<div id="app" class="app" aria-busy="true"><p class="app-loading">Loading scan results…</p></div>
</body>
</html>
`;
}
