/**
 * Explorer badges: files of flagged samples (under the flag policy from settings, computed by src/core/flags.ts) get a
 * badge with the score in the tooltip. Only plain image files inside a scanned dataset are decorated.
 */
import { join, resolve } from 'node:path';
import * as vscode from 'vscode';
import { flaggedMask } from '../core/flags';
import type { FlagPolicy, SampleResult, ScoreKey } from '../core/types';

interface DatasetFlags {
  root: string;
  /** Absolute image path → tooltip. */
  byPath: Map<string, string>;
}

function describeScore(row: SampleResult, policy: FlagPolicy): string {
  if (policy.kind === 'risky') {
    const p = row.safeProbability;
    return `Backdoor Scanner: risky (SafeCLIP safe probability ${typeof p === 'number' ? p.toFixed(3) : 'n/a'} < 0.9)`;
  }
  const key: ScoreKey = policy.detector;
  const value = row.scores?.[key];
  const how = policy.kind === 'top-percent' ? `top ${policy.percent}%` : `threshold ${policy.threshold}`;
  return `Backdoor Scanner: flagged by ${key} = ${typeof value === 'number' ? value.toPrecision(4) : 'n/a'} (${how})`;
}

export class FlaggedFileDecorations implements vscode.FileDecorationProvider, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<vscode.Uri | vscode.Uri[] | undefined>();
  readonly onDidChangeFileDecorations = this.changed.event;
  private readonly datasets = new Map<string, DatasetFlags>();

  /** Replaces one dataset's flags (after a scan, on opening results, after deletions or a policy change). */
  setDataset(root: string, rows: readonly SampleResult[], policy: FlagPolicy, hiddenIds: ReadonlySet<string> = new Set()): void {
    const previous = this.datasets.get(root);
    const mask = flaggedMask(rows, policy);
    const byPath = new Map<string, string>();
    rows.forEach((row, index) => {
      // Only plain files: a tar or parquet member (`shard.tar#key`) has no Explorer entry of its own.
      if (!mask[index] || hiddenIds.has(row.id) || row.image.includes('#')) return;
      const absolute = resolve(root, row.image);
      if (!absolute.startsWith(join(root, '/')) && absolute !== root) return;
      byPath.set(absolute, describeScore(row, policy));
    });
    this.datasets.set(root, { root, byPath });
    const uris = new Set([...(previous?.byPath.keys() ?? []), ...byPath.keys()]);
    this.changed.fire([...uris].map((p) => vscode.Uri.file(p)));
  }

  provideFileDecoration(uri: vscode.Uri): vscode.FileDecoration | undefined {
    if (uri.scheme !== 'file') return undefined;
    for (const flags of this.datasets.values()) {
      const tooltip = flags.byPath.get(uri.fsPath);
      if (tooltip) return { badge: '⚠', tooltip, color: new vscode.ThemeColor('list.warningForeground'), propagate: false };
    }
    return undefined;
  }

  dispose(): void {
    this.changed.dispose();
  }
}
