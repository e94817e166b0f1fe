/**
 * Rule-based caption augmentations for the "safe set" export, to feed CleanCLIP / TA-Cleaner-style fine-tuning
 * (method.md, "CleanerCLIP"): we prepare the data, we do not train.
 *
 * - Positive sub-captions keep the meaning (EDA: synonym replacement, random deletion, random swap).
 * - Negative (counterfactual) sub-captions change it by one word: drop one noun or adjective, or replace it with
 *   another word of the same kind ("a red car" → "a blue car", "a dog on grass" → "a cat on grass").
 * Everything is seeded and uses a small built-in English word list, so exports are reproducible and offline.
 */
import { createRng } from './rng';

const SYNONYMS: Record<string, readonly string[]> = {
  photo: ['picture', 'image', 'snapshot'],
  picture: ['photo', 'image'],
  image: ['picture', 'photo'],
  big: ['large', 'huge'],
  large: ['big', 'huge'],
  small: ['little', 'tiny'],
  little: ['small', 'tiny'],
  happy: ['cheerful', 'joyful'],
  beautiful: ['pretty', 'lovely'],
  pretty: ['beautiful', 'lovely'],
  old: ['aged', 'vintage'],
  new: ['modern', 'recent'],
  fast: ['quick', 'rapid'],
  man: ['guy', 'gentleman'],
  woman: ['lady'],
  child: ['kid'],
  kid: ['child'],
  car: ['automobile', 'vehicle'],
  house: ['home', 'building'],
  road: ['street'],
  street: ['road'],
  sitting: ['seated'],
  walking: ['strolling'],
  running: ['jogging'],
  looking: ['gazing'],
  near: ['beside', 'by'],
  next: ['close'],
  standing: ['posing'],
  dog: ['puppy', 'hound'],
  cat: ['kitten'],
  shows: ['depicts', 'features'],
  field: ['meadow'],
  sea: ['ocean'],
  ocean: ['sea'],
  city: ['town'],
};

const NOUNS: readonly string[] = [
  'dog', 'cat', 'bird', 'horse', 'cow', 'sheep', 'elephant', 'bear', 'zebra', 'giraffe', 'man', 'woman', 'child', 'boy',
  'girl', 'person', 'people', 'car', 'bus', 'truck', 'bicycle', 'motorcycle', 'train', 'boat', 'plane', 'airplane',
  'house', 'building', 'tree', 'flower', 'field', 'beach', 'mountain', 'river', 'lake', 'sea', 'ocean', 'street', 'road',
  'city', 'table', 'chair', 'bed', 'sofa', 'kitchen', 'room', 'window', 'door', 'pizza', 'cake', 'banana', 'apple',
  'orange', 'sandwich', 'plate', 'cup', 'bottle', 'phone', 'laptop', 'computer', 'book', 'clock', 'ball', 'kite',
  'umbrella', 'bag', 'hat', 'shirt', 'dress', 'snow', 'grass', 'sky', 'water', 'sign', 'bench', 'fence', 'park',
];

const ADJECTIVE_GROUPS: readonly (readonly string[])[] = [
  ['red', 'blue', 'green', 'yellow', 'black', 'white', 'brown', 'pink', 'purple', 'gray', 'grey'],
  ['big', 'large', 'small', 'little', 'tiny', 'huge'],
  ['old', 'new', 'young', 'modern', 'vintage'],
  ['happy', 'sad', 'angry', 'calm'],
  ['wooden', 'metal', 'plastic', 'glass'],
  ['sunny', 'rainy', 'snowy', 'cloudy', 'foggy'],
  ['tall', 'short'],
  ['empty', 'crowded', 'busy'],
  ['hot', 'cold', 'warm'],
  ['beautiful', 'ugly'],
];
const ADJECTIVES: ReadonlySet<string> = new Set(ADJECTIVE_GROUPS.flat());
const NOUN_SET: ReadonlySet<string> = new Set(NOUNS);

/** FNV-1a of a string, to give every caption its own stream under one user seed. */
function hashString(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

interface Word {
  text: string;
  /** Lower-case letters only, for list look-ups. */
  bare: string;
}

function splitWords(caption: string): Word[] {
  return caption
    .split(/\s+/)
    .filter((w) => w.length > 0)
    .map((text) => ({ text, bare: text.toLowerCase().replace(/[^a-z]/g, '') }));
}

/** Replaces the letters of `word` by `replacement`, keeping surrounding punctuation and a leading capital. */
function replaceWord(word: Word, replacement: string): string {
  const match = /^([^A-Za-z]*)([A-Za-z]+)(.*)$/s.exec(word.text);
  if (!match) return replacement;
  const [, before, letters, after] = match;
  const cased = letters[0] === letters[0].toUpperCase() ? replacement[0].toUpperCase() + replacement.slice(1) : replacement;
  return `${before}${cased}${after}`;
}

function pick<T>(items: readonly T[], random: () => number): T {
  return items[Math.floor(random() * items.length)];
}

function synonymReplacement(words: Word[], random: () => number): string | null {
  const candidates = words.map((w, i) => i).filter((i) => SYNONYMS[words[i].bare] !== undefined);
  if (candidates.length === 0) return null;
  const index = pick(candidates, random);
  const out = words.map((w) => w.text);
  out[index] = replaceWord(words[index], pick(SYNONYMS[words[index].bare], random));
  return out.join(' ');
}

function randomDeletion(words: Word[], random: () => number, probability = 0.15): string | null {
  if (words.length < 3) return null;
  // Keep nouns: deleting the subject would turn a positive into a counterfactual.
  let kept = words.filter((w) => NOUN_SET.has(w.bare) || random() >= probability);
  if (kept.length === words.length) {
    const removable = words.map((w, i) => i).filter((i) => !NOUN_SET.has(words[i].bare));
    if (removable.length === 0) return null;
    const drop = pick(removable, random);
    kept = words.filter((_, i) => i !== drop);
  }
  return kept.length > 0 ? kept.map((w) => w.text).join(' ') : null;
}

function randomSwap(words: Word[], random: () => number): string | null {
  if (words.length < 2) return null;
  const a = Math.floor(random() * words.length);
  let b = Math.floor(random() * (words.length - 1));
  if (b >= a) b += 1;
  const out = words.map((w) => w.text);
  [out[a], out[b]] = [out[b], out[a]];
  return out.join(' ');
}

function counterfactualDrop(words: Word[], random: () => number): string | null {
  const candidates = words.map((w, i) => i).filter((i) => NOUN_SET.has(words[i].bare) || ADJECTIVES.has(words[i].bare));
  if (candidates.length === 0 || words.length < 2) return null;
  const index = pick(candidates, random);
  return words.filter((_, i) => i !== index).map((w) => w.text).join(' ');
}

function counterfactualReplace(words: Word[], random: () => number): string | null {
  const candidates = words.map((w, i) => i).filter((i) => NOUN_SET.has(words[i].bare) || ADJECTIVES.has(words[i].bare));
  if (candidates.length === 0) return null;
  const index = pick(candidates, random);
  const bare = words[index].bare;
  const pool = NOUN_SET.has(bare) ? NOUNS : (ADJECTIVE_GROUPS.find((g) => g.includes(bare)) ?? []);
  const synonyms = SYNONYMS[bare] ?? [];
  const options = pool.filter((w) => w !== bare && !synonyms.includes(w));
  if (options.length === 0) return null;
  const out = words.map((w) => w.text);
  out[index] = replaceWord(words[index], pick(options, random));
  return out.join(' ');
}

export interface CaptionAugmentations {
  /** Meaning-preserving variants (EDA). */
  positives: string[];
  /** One-word counterfactuals (meaning changed). */
  negatives: string[];
}

export interface AugmentOptions {
  positives?: number;
  negatives?: number;
}

/** Seeded augmentations of one caption. Distinct from the caption and from each other; may be fewer than asked. */
export function augmentCaption(caption: string, seed: number, options: AugmentOptions = {}): CaptionAugmentations {
  const wantPositives = options.positives ?? 3;
  const wantNegatives = options.negatives ?? 2;
  const rng = createRng(seed, hashString(caption));
  const random = (): number => rng.nextFloat();
  const words = splitWords(caption);
  const collect = (want: number, makers: ((w: Word[], r: () => number) => string | null)[]): string[] => {
    const found = new Set<string>();
    // A few rounds over the operations: each can fail (no synonym known, caption too short) or repeat.
    for (let attempt = 0; attempt < want * 4 && found.size < want; attempt++) {
      const made = makers[attempt % makers.length](words, random);
      if (made !== null && made !== caption && made.trim().length > 0) found.add(made);
    }
    return [...found];
  };
  return {
    positives: collect(wantPositives, [synonymReplacement, randomDeletion, randomSwap]),
    negatives: collect(wantNegatives, [counterfactualReplace, counterfactualDrop]),
  };
}
