/** Parsers for option values, with messages that say what is wrong and what to do. */
import { InvalidArgumentError } from 'commander';

export function intOption(name: string, min: number, max: number) {
  return (raw: string): number => {
    const n = Number(raw);
    if (!/^\d+$/.test(raw) || n < min || n > max) {
      throw new InvalidArgumentError(`${name} must be a whole number from ${min} to ${max}.`);
    }
    return n;
  };
}

export function choiceOption<T extends string>(name: string, choices: readonly T[]) {
  return (raw: string): T => {
    if (!choices.includes(raw as T)) throw new InvalidArgumentError(`${name} must be one of: ${choices.join(', ')}.`);
    return raw as T;
  };
}

/** `--cpus 0.5`: a number of CPUs, as `docker run --cpus` takes it, from `min` to this machine's count. */
export function cpusOption(name: string, min: number, max: number) {
  return (raw: string): number => {
    const n = Number(raw);
    if (!/^\d+(\.\d+)?$/.test(raw) || n < min || n > max) {
      throw new InvalidArgumentError(`${name} must be a number of CPUs from ${min} to ${max} (this machine's), e.g. 0.5 or 2.`);
    }
    return n;
  };
}

/** `--memory 256m`: bytes, with k, m or g as `docker run --memory` takes them; at least `minBytes`. */
export function sizeOption(name: string, minBytes: number) {
  return (raw: string): number => {
    const m = /^(\d+)([kmg])?b?$/i.exec(raw);
    const bytes = m ? Number(m[1]) * 1024 ** ({ k: 1, m: 2, g: 3 }[m[2]?.toLowerCase() as 'k' | 'm' | 'g'] ?? 0) : NaN;
    if (!m || !Number.isSafeInteger(bytes) || bytes < minBytes) {
      throw new InvalidArgumentError(`${name} must be a size of at least ${minBytes / 1024 ** 2}m, in bytes or with k, m or g (e.g. 256m, 1g).`);
    }
    return bytes;
  };
}
