/** Entry point of the results panel (bundled to dist/webview/panel.js; loaded by nonce after toolkit.min.js). */
import type { HostToWebview } from '../../src/protocol/webview';
import { PanelApp } from './app';
import { componentsReady } from './components';
import { connectHost } from './host';

const HOST_MESSAGE_TYPES: ReadonlySet<string> = new Set<HostToWebview['type']>(['init', 'thumbnails', 'neighbours', 'marked', 'busy', 'notice']);

function isHostMessage(data: unknown): data is HostToWebview {
  return typeof data === 'object' && data !== null && HOST_MESSAGE_TYPES.has((data as { type?: unknown }).type as string);
}

async function start(): Promise<void> {
  const root = document.getElementById('app');
  if (!root) throw new Error('results panel: #app is missing');
  const host = connectHost();
  if (!(await componentsReady())) {
    // Without the toolkit the controls are inert custom elements; say so rather than show a broken panel.
    root.classList.add('toolkit-missing');
  }
  const app = new PanelApp(root, host);
  window.addEventListener('message', (event: MessageEvent<unknown>) => {
    if (isHostMessage(event.data)) app.handleMessage(event.data);
  });
  host.post({ type: 'ready' });
}

void start();
