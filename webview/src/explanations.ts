/** Plain-language explanations of every score, shown in the detail view (see ../shared/docs/method.md for the formulas). */
import type { ScoreKey } from '../../src/core/types';

export interface ScoreInfo {
  label: string;
  /** Short column header for the table view. */
  short: string;
  explain: (settings: { k: number; lidK: number }) => string;
}

export const SCORE_INFO: Readonly<Record<ScoreKey, ScoreInfo>> = {
  kdist: {
    label: 'k-distance',
    short: 'k-dist',
    explain: ({ k }) =>
      `Distance from this image to its ${ordinal(k)} nearest neighbour among the other images and captions of its reference batch. ` +
      'Backdoor copies sit in a tight, unusual cluster or far from normal data; higher means lonelier, more suspicious.',
  },
  lid: {
    label: 'Local intrinsic dimensionality (LID)',
    short: 'LID',
    explain: ({ lidK }) =>
      `How many dimensions the data around this sample seems to spread in, estimated from its ${lidK} nearest distances. ` +
      'Higher means the neighbourhood looks irregular, which is typical of poisoned samples. It can be missing when many exact duplicates exist.',
  },
  slof: {
    label: 'Simplified local outlier factor (SLOF)',
    short: 'SLOF',
    explain: ({ k }) =>
      `This sample's k-distance divided by the k-distance of each of its ${k} nearest neighbours, averaged. ` +
      'About 1 means it is as dense as its neighbourhood; well above 1 means it is an outlier relative to its neighbours.',
  },
  dao: {
    label: 'Dimensionality-aware outlier score (DAO)',
    short: 'DAO',
    explain: ({ k }) =>
      `Like SLOF, but each neighbour's density ratio is weighted by that neighbour's local dimensionality (over ${k} neighbours). ` +
      'The paper finds it the strongest single detector; higher is more suspicious.',
  },
  iforest: {
    label: 'Isolation forest',
    short: 'iForest',
    explain: () =>
      'How easily 100 random trees isolate this embedding from the rest of its batch. ' +
      'Samples that are isolated in few random splits score higher and are more unusual.',
  },
  clipScore: {
    label: 'CLIP score',
    short: 'CLIP',
    explain: () =>
      'Cosine similarity between the image and its caption (−1 to 1). LOW is suspicious: a caption that does not describe its image, ' +
      'as in attacks that pair "a photo of a banana" with unrelated pictures.',
  },
};

export const SAFE_PROBABILITY_EXPLANATION =
  'SafeCLIP: the probability that this pair belongs to the well-aligned ("safe") group of a two-group model of all CLIP scores. ' +
  'Below 0.9 the sample is called risky: not proof of poison, a reason to look.';

function ordinal(n: number): string {
  const tens = n % 100;
  if (tens >= 11 && tens <= 13) return `${n}th`;
  return `${n}${['th', 'st', 'nd', 'rd'][n % 10] ?? 'th'}`;
}
