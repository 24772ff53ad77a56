import { Random } from '../../src/demo/random.js';

/** A deterministic PRNG (the demo's mulberry32) so fixtures, fault injection and property loops repeat exactly. */
export function seededRandom(seed: number): () => number {
  const random = new Random(seed);
  return () => random.next();
}
