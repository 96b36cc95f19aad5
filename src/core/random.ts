import { createHash, randomBytes, randomInt } from 'node:crypto';

/** A deterministic generator for a run's draw: SHA-256 in counter mode over the seed. */
export interface Rng {
  /** A uniform integer in [0, n). */
  int(n: number): number;
  shuffle<T>(items: readonly T[]): T[];
  pick<T>(items: readonly T[]): T;
}

export function newSeed(): string {
  return randomBytes(8).toString('hex');
}

export function seededRng(seed: string, stream = 'draw'): Rng {
  let counter = 0;
  let pool: Buffer = Buffer.alloc(0);
  const nextUint32 = (): number => {
    if (pool.length < 4) {
      pool = createHash('sha256').update(`${stream}\0${seed}\0${counter++}`).digest();
    }
    const v = pool.readUInt32BE(0);
    pool = pool.subarray(4);
    return v;
  };
  const int = (n: number): number => {
    if (!Number.isInteger(n) || n <= 0) throw new RangeError(`int(${n})`);
    // rejection sampling keeps the draw uniform
    const limit = Math.floor(0x100000000 / n) * n;
    for (;;) {
      const v = nextUint32();
      if (v < limit) return v % n;
    }
  };
  return makeRng(int);
}

/** Crypto-random, for everything that must not be reproducible (names, ids, order). */
export const cryptoRng: Rng = makeRng((n) => randomInt(n));

function makeRng(int: (n: number) => number): Rng {
  return {
    int,
    shuffle<T>(items: readonly T[]): T[] {
      const a = [...items];
      for (let i = a.length - 1; i > 0; i--) {
        const j = int(i + 1);
        [a[i], a[j]] = [a[j]!, a[i]!];
      }
      return a;
    },
    pick<T>(items: readonly T[]): T {
      if (items.length === 0) throw new RangeError('pick from nothing');
      return items[int(items.length)]!;
    },
  };
}

export function randomHex(chars: number): string {
  return randomBytes(Math.ceil(chars / 2)).toString('hex').slice(0, chars);
}
