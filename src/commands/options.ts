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
