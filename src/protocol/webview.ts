/**
 * Messages between the extension host and the results panel (webview postMessage).
 * Every webview→host message is untrusted: the host runs parseWebviewMessage before acting.
 */
import type { FlagPolicy, SampleResult, ScoreKey } from '../core/types';
export type { FlagPolicy };
import type { ExportFormat, NeighbourInfo, ScanSummary } from './backend';
export { EXPORT_FORMATS, type ExportFormat } from './backend';



export interface PanelState {
  sortBy: ScoreKey;
  policy: FlagPolicy;
  view: 'grid' | 'table';
  filter: { flaggedOnly: boolean; riskyOnly: boolean; errorsOnly: boolean; markedOnly: boolean; search: string };
}

export type HostToWebview =
  | { type: 'init'; summary: ScanSummary; rows: SampleResult[]; marked: string[]; state: PanelState; trusted: boolean }
  | { type: 'thumbnails'; items: { id: string; uri: string | null; error?: string }[] }
  | { type: 'neighbours'; id: string; neighbours: (NeighbourInfo & { uri: string | null })[] }
  | { type: 'marked'; ids: string[] }
  | { type: 'busy'; message: string | null }
  | { type: 'notice'; level: 'info' | 'error'; message: string };

export type WebviewToHost =
  | { type: 'ready' }
  | { type: 'requestThumbnails'; ids: string[] }
  | { type: 'requestNeighbours'; id: string }
  | { type: 'setMarked'; ids: string[]; marked: boolean }
  | { type: 'applyDeletions' }
  | { type: 'undoDeletion' }
  | { type: 'export'; format: ExportFormat }
  | { type: 'saveState'; state: PanelState }
  | { type: 'rescan' };
