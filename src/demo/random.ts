/**
 * A seeded random source for the demo data: mulberry32 (tiny, fast, good enough for fake data, and identical on
 * every platform for a given seed) plus the few helpers the generator needs. Never Math.random: the demo must be
 * reproducible so tests and screenshots stay stable.
 */
export class Random {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** A float in [min, max). */
  between(min: number, max: number): number {
    return min + this.next() * (max - min);
  }

  chance(probability: number): boolean {
    return this.next() < probability;
  }

  pick<T>(items: readonly T[]): T {
    const item = items[Math.floor(this.next() * items.length)];
    if (item === undefined) throw new Error('Random.pick() needs a non-empty list');
    return item;
  }

  /** Picks from `[item, weight]` pairs; weights need not sum to anything in particular. */
  weighted<T>(table: readonly (readonly [T, number])[]): T {
    let ticket = this.next() * table.reduce((sum, [, weight]) => sum + weight, 0);
    for (const [item, weight] of table) {
      ticket -= weight;
      if (ticket < 0) return item;
    }
    return this.pick(table)[0];
  }

  chars(alphabet: string, length: number): string {
    let out = '';
    for (let i = 0; i < length; i++) out += alphabet[Math.floor(this.next() * alphabet.length)] ?? '';
    return out;
  }

  hex(length: number): string {
    return this.chars('0123456789abcdef', length);
  }

  base64(length: number): string {
    return this.chars('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/', length);
  }

  /** A version 4 UUID string. */
  uuid(): string {
    const h = this.hex(32);
    const variant = this.pick(['8', '9', 'a', 'b']);
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20)}`;
  }
}
