/** The panel's only channel to the extension host: VS Code's webview API, typed with the shared protocol. */
import type { PanelState, WebviewToHost } from '../../src/protocol/webview';

interface VsCodeApi {
  postMessage(message: unknown): void;
  getState(): unknown;
  setState(state: unknown): void;
}

declare function acquireVsCodeApi(): VsCodeApi;

/** What the webview keeps across reloads (VS Code stores it with the panel). */
export interface StoredState {
  dataset: string;
  panel: PanelState;
}

export interface Host {
  post(message: WebviewToHost): void;
  storedState(): StoredState | undefined;
  store(state: StoredState): void;
}

function isStoredState(value: unknown): value is StoredState {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Partial<StoredState>;
  return typeof candidate.dataset === 'string' && typeof candidate.panel === 'object' && candidate.panel !== null;
}

export function connectHost(): Host {
  // acquireVsCodeApi may be called once per page load; outside VS Code it does not exist and the panel is inert.
  const api: VsCodeApi =
    typeof acquireVsCodeApi === 'function'
      ? acquireVsCodeApi()
      : { postMessage: () => undefined, getState: () => undefined, setState: () => undefined };
  return {
    post: (message) => api.postMessage(message),
    storedState: () => {
      const state = api.getState();
      return isStoredState(state) ? state : undefined;
    },
    store: (state) => api.setState(state),
  };
}
