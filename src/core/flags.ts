/** Which samples a flag policy flags. Shared by the results panel and the host (Explorer badges, "mark all flagged"). */
import { suspicionOf, type FlagPolicy, type SampleResult, type ScoreKey } from './types';

/** Suspicion value of a row for a detector (higher = more suspicious), or null when it has none. */
export function suspicionValue(row: SampleResult, key: ScoreKey): number | null {
  const value = row.scores?.[key];
  return typeof value === 'number' && Number.isFinite(value) ? suspicionOf(key, value) : null;
}

/** The suspicion threshold equivalent to a policy: rows at or above it are flagged. Null for the SafeCLIP policy. */
export function suspicionThreshold(rows: readonly SampleResult[], policy: FlagPolicy): number | null {
  switch (policy.kind) {
    case 'risky':
      return null;
    case 'threshold':
      return suspicionOf(policy.detector, policy.threshold);
    case 'top-percent': {
      const values = rows.map((r) => suspicionValue(r, policy.detector)).filter((v): v is number => v !== null);
      if (values.length === 0) return Infinity;
      values.sort((a, b) => b - a);
      const count = Math.max(1, Math.ceil((Math.min(100, Math.max(0, policy.percent)) / 100) * values.length));
      return policy.percent <= 0 ? Infinity : values[count - 1];
    }
  }
}

/** Per-row flag: true when the row is flagged by the policy. Error rows are never flagged (they are shown as errors). */
export function flaggedMask(rows: readonly SampleResult[], policy: FlagPolicy): boolean[] {
  if (policy.kind === 'risky') return rows.map((r) => r.error === null && r.safe === false);
  const threshold = suspicionThreshold(rows, policy);
  const key = policy.detector;
  return rows.map((r) => {
    const value = suspicionValue(r, key);
    return r.error === null && value !== null && threshold !== null && value >= threshold;
  });
}
