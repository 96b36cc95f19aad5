/**
 * tcpdump's command line: split like a shell would (quotes, backslashes) but never run by
 * one, then read like tcpdump's getopt_long does (clusters like -nnvvX, options after the
 * expression, `--`). Unknown options are reported, not fatal.
 */

export interface OptionUse {
  /** as the learner wrote it, e.g. `-nn`, `-c 100`, `--count` */
  text: string;
  /** canonical name, e.g. `n`, `c`, `list-interfaces` */
  name: string;
  value?: string;
  /** how many times a repeatable flag was given (-vvv = 3) */
  count: number;
  meaning: string;
}

export interface ParsedCommand {
  /** `sudo`, `timeout 10`: what ran tcpdump */
  prefix: string[];
  /** seconds of a `timeout N` prefix, as written */
  timeout?: string;
  options: OptionUse[];
  unknownOptions: string[];
  /** the expression words, joined by spaces as tcpdump does */
  filter: string;
  filterWords: string[];
  /** shell plumbing after the command (`| grep x`, `> out.txt`), not tcpdump's business */
  shellTail?: string;
  notes: string[];
}

export class CommandLineError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CommandLineError';
  }
}

/** Splits a command line as sh would (quotes, backslashes), without expansion or execution. */
export function shellSplit(line: string): { words: string[]; unquotedSpecials: string[]; tail?: string } {
  const words: string[] = [];
  const specials = new Set<string>();
  let word = '';
  let inWord = false;
  let i = 0;
  while (i < line.length) {
    const c = line[i]!;
    if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new CommandLineError(`unterminated single quote at column ${i + 1}`);
      word += line.slice(i + 1, end);
      inWord = true;
      i = end + 1;
    } else if (c === '"') {
      let j = i + 1;
      for (; j < line.length && line[j] !== '"'; j++) {
        if (line[j] === '\\' && j + 1 < line.length && '"\\$`\n'.includes(line[j + 1]!)) {
          j++;
        }
        word += line[j]!;
      }
      if (j >= line.length) throw new CommandLineError(`unterminated double quote at column ${i + 1}`);
      inWord = true;
      i = j + 1;
    } else if (c === '\\' && i + 1 < line.length) {
      word += line[i + 1]!;
      inWord = true;
      i += 2;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
      i++;
    } else if ((c === '|' || c === ';' || c === '>') && !inWord && /^(\||;|>|>>|2>|&>)(\s|$)/.test(line.slice(i))) {
      // a pipe or a redirection: the rest belongs to the shell, not to tcpdump
      return { words, unquotedSpecials: [...specials], tail: line.slice(i).trim() };
    } else {
      if ('()&|;<>!*?[]$`'.includes(c)) specials.add(c);
      word += c;
      inWord = true;
      i++;
    }
  }
  if (inWord) words.push(word);
  return { words, unquotedSpecials: [...specials] };
}

interface OptionSpec {
  short?: string;
  long?: string[];
  /** takes an argument */
  arg?: boolean;
  explain(value: string | undefined, count: number): string;
}

const times = (count: number, one: string, ...more: string[]) => more[Math.min(count, more.length + 1) - 2] ?? one;

const SPECS: OptionSpec[] = [
  { short: 'A', explain: () => 'print each packet\'s payload as ASCII text (handy for HTTP); long output on a busy interface' },
  { short: 'b', explain: () => 'print BGP AS numbers in asdot notation' },
  { short: 'B', long: ['buffer-size'], arg: true, explain: (v) => `set the capture buffer to ${v} KiB (fewer drops on a busy interface)` },
  { short: 'c', arg: true, explain: (v) => `stop after ${v} packets` },
  { long: ['count'], explain: () => 'print only the number of matching packets when the capture ends, not the packets' },
  { short: 'C', arg: true, explain: (v) => `with -w: start a new file when the current one exceeds ${v} million bytes` },
  { short: 'd', explain: (_, n) => times(n, 'do not capture: print the compiled filter (BPF program) as assembly and exit', 'do not capture: print the compiled filter as C code and exit', 'do not capture: print the compiled filter as decimal numbers and exit') },
  { short: 'D', long: ['list-interfaces'], explain: () => 'list the interfaces tcpdump can capture on, and exit' },
  { short: 'e', explain: () => 'print the link-level header (MAC addresses, EtherType) on each line' },
  { short: 'E', arg: true, explain: () => 'decrypt IPsec ESP packets with the given secret' },
  { short: 'f', explain: () => 'print foreign IPv4 addresses as numbers' },
  { short: 'F', arg: true, explain: (v) => `read the filter expression from the file ${v} (an expression on the command line is then ignored)` },
  { short: 'G', arg: true, explain: (v) => `with -w: start a new file every ${v} seconds (put strftime % codes in the name)` },
  { short: 'h', long: ['help'], explain: () => 'print usage and exit' },
  { long: ['version'], explain: () => 'print the versions of tcpdump and libpcap and exit' },
  { short: 'H', explain: () => 'detect 802.11s mesh headers' },
  { short: 'i', long: ['interface'], arg: true, explain: (v) => (v === 'any' ? 'capture on every interface at once (the pseudo-interface `any`)' : `capture on the interface ${v}`) },
  { short: 'I', long: ['monitor-mode'], explain: () => 'put a Wi-Fi interface in monitor mode' },
  { long: ['immediate-mode'], explain: () => 'deliver each packet at once instead of buffering (lower latency, more CPU)' },
  { short: 'j', long: ['time-stamp-type'], arg: true, explain: (v) => `use the time stamp source ${v}` },
  { short: 'J', long: ['list-time-stamp-types'], explain: () => 'list the time stamp sources of the interface, and exit' },
  { long: ['time-stamp-precision'], arg: true, explain: (v) => `time stamps with ${v} precision` },
  { long: ['micro'], explain: () => 'time stamps in microseconds' },
  { long: ['nano'], explain: () => 'time stamps in nanoseconds' },
  { short: 'K', long: ['dont-verify-checksums'], explain: () => 'do not verify IP/TCP/UDP checksums (offloading makes outgoing ones look wrong)' },
  { short: 'l', explain: () => 'line-buffer the output, so `| grep` or `| tee` sees each line at once' },
  { short: 'L', long: ['list-data-link-types'], explain: () => 'list the link types of the interface, and exit' },
  { short: 'm', arg: true, explain: (v) => `load the SMI MIB module ${v}` },
  { short: 'M', arg: true, explain: () => 'use a shared secret to check TCP-MD5 signatures' },
  { short: 'n', explain: (_, n) => times(n, 'do not convert addresses to names (no DNS lookups while printing: faster, and no DNS traffic of its own)', 'do not convert host addresses or port numbers to names (10.0.0.1.80, not myhost.http)') },
  { short: 'N', explain: () => 'print host names without their domain' },
  { short: '#', long: ['number'], explain: () => 'print a packet number at the start of each line' },
  { short: 'O', long: ['no-optimize'], explain: () => 'do not optimize the compiled filter' },
  { short: 'p', long: ['no-promiscuous-mode'], explain: () => 'do not put the interface in promiscuous mode: only traffic to or from this machine' },
  { long: ['print'], explain: () => 'print packets even while writing them with -w' },
  { short: 'Q', long: ['direction'], arg: true, explain: (v) => `capture only packets ${v === 'in' ? 'received' : v === 'out' ? 'sent' : 'sent and received'} (-Q ${v})` },
  { short: 'q', explain: () => 'quiet: print less protocol detail, one short line per packet' },
  { short: 'r', arg: true, explain: (v) => `read packets from the file ${v} instead of capturing live` },
  { short: 'S', long: ['absolute-tcp-sequence-numbers'], explain: () => 'print absolute TCP sequence numbers, not relative ones' },
  { short: 's', long: ['snapshot-length'], arg: true, explain: (v) => (v === '0' ? 'capture whole packets (snap length 0 means the maximum, 262144 bytes)' : `keep only the first ${v} bytes of each packet`) },
  { short: 'T', arg: true, explain: (v) => `decode the selected packets as ${v}` },
  {
    short: 't',
    explain: (_, n) =>
      times(n, 'do not print a time stamp', 'print time stamps as seconds since 1970 (Unix time)', 'print the time since the previous packet', 'print the date and time', 'print the time since the first packet'),
  },
  { short: 'u', explain: () => 'print undecoded NFS handles' },
  { short: 'U', long: ['packet-buffered'], explain: () => 'with -w: write each packet to the file as soon as it is captured' },
  { short: 'v', explain: (_, n) => times(n, 'verbose: more protocol detail (TTL, IP id, total length, options)', 'more verbose', 'most verbose (telnet options and more)') },
  { short: 'V', arg: true, explain: (v) => `read the list of capture files to read from ${v}` },
  { short: 'w', arg: true, explain: (v) => (v === '-' ? 'write raw packets to standard output (for a pipe to another program)' : `write the raw packets to the file ${v} instead of printing them (open it later with tcpdump -r or Wireshark)`) },
  { short: 'W', arg: true, explain: (v) => `with -C or -G: keep at most ${v} files` },
  { short: 'x', explain: (_, n) => times(n, 'print each packet in hex (without the link-level header)', 'print each packet in hex, link-level header included') },
  { short: 'X', explain: (_, n) => times(n, 'print each packet in hex and ASCII (without the link-level header)', 'print each packet in hex and ASCII, link-level header included') },
  { short: 'y', long: ['linktype'], arg: true, explain: (v) => `capture with the link type ${v}` },
  { short: 'Y', explain: () => 'print the compiled filter while it runs (debug)' },
  { short: 'z', arg: true, explain: (v) => `after each file rotation, run ${v} on the closed file` },
  { short: 'Z', long: ['relinquish-privileges'], arg: true, explain: (v) => `drop root privileges and run as ${v} once the capture is open${v === 'root' ? ' (here: keep root, so files are written as root)' : ''}` },
  { long: ['print-sampling'], arg: true, explain: (v) => `print only every ${v}th packet` },
  { long: ['lengths'], explain: () => 'print the captured and original length of each packet' },
];

const BY_SHORT = new Map(SPECS.filter((s) => s.short).map((s) => [s.short!, s]));
const BY_LONG = new Map(SPECS.flatMap((s) => (s.long ?? []).map((l) => [l, s] as const)));

/**
 * The words of a command given as one string (split like a shell, never run by one) or as
 * words already split; refuses an empty command.
 */
export function commandWords(input: string | string[]): { words: string[]; unquotedSpecials: string[]; tail?: string } {
  const split = typeof input === 'string' || input.length === 1 ? shellSplit(typeof input === 'string' ? input : input[0]!) : { words: input, unquotedSpecials: [] };
  if (split.words.length === 0) throw new CommandLineError('there is no tcpdump command to explain');
  return split;
}

/** Reads a tcpdump command (words, already split) into prefix, options and filter. */
export function parseCommand(input: string[]): ParsedCommand {
  const words = [...input];
  const prefix: string[] = [];
  const notes: string[] = [];
  let timeout: string | undefined;
  // Allowed prefixes: sudo [-E|-u user...], timeout [opts] DURATION, and the program name.
  for (;;) {
    const w = words[0];
    if (w === 'sudo') {
      prefix.push(words.shift()!);
      while (words[0]?.startsWith('-')) {
        const opt = words.shift()!;
        prefix.push(opt);
        if (['-u', '-g', '-C', '-h', '-p', '-U'].includes(opt) && words.length) prefix.push(words.shift()!);
      }
    } else if (w === 'timeout') {
      prefix.push(words.shift()!);
      while (words[0]?.startsWith('-')) {
        const opt = words.shift()!;
        prefix.push(opt);
        if ((opt === '-s' || opt === '-k') && words.length) prefix.push(words.shift()!);
      }
      if (words[0] && /^\d+(\.\d+)?[smhd]?$/.test(words[0])) {
        timeout = words.shift()!;
        prefix.push(timeout);
      }
    } else if (w && /(^|\/)tcpdump$/.test(w)) {
      prefix.push(words.shift()!);
      break;
    } else break;
  }

  const options: OptionUse[] = [];
  const unknownOptions: string[] = [];
  const filterWords: string[] = [];
  const counted = new Map<string, OptionUse>();
  const add = (spec: OptionSpec, name: string, text: string, value?: string) => {
    // a repeated flag (-v -v, -nn) counts up, as in tcpdump
    const existing = !spec.arg ? counted.get(name) : undefined;
    if (existing) {
      existing.count++;
      existing.text = `-${name.repeat(existing.count)}`;
      existing.meaning = spec.explain(undefined, existing.count);
      return;
    }
    const use: OptionUse = { text, name, count: 1, meaning: spec.explain(value, 1), ...(value === undefined ? {} : { value }) };
    options.push(use);
    if (!spec.arg) counted.set(name, use);
  };

  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    if (w === '--') {
      filterWords.push(...words.slice(i + 1));
      break;
    }
    if (w.startsWith('--')) {
      const [longName, inline] = w.slice(2).split(/=(.*)/s) as [string, string | undefined];
      const spec = BY_LONG.get(longName);
      if (!spec) {
        unknownOptions.push(w);
        continue;
      }
      let value = inline;
      if (spec.arg && value === undefined) {
        value = words[++i];
        if (value === undefined) notes.push(`${w} needs a value; tcpdump would refuse to start.`);
      }
      add(spec, spec.short ?? longName, value === undefined ? w : inline === undefined ? `${w} ${value}` : w, value);
      continue;
    }
    if (w.startsWith('-') && w.length > 1) {
      for (let j = 1; j < w.length; j++) {
        const c = w[j]!;
        const spec = BY_SHORT.get(c);
        if (!spec) {
          unknownOptions.push(`-${c}`);
          continue;
        }
        if (spec.arg) {
          let value = w.slice(j + 1);
          if (!value) {
            value = words[++i] ?? '';
            if (!value) notes.push(`-${c} needs a value; tcpdump would refuse to start.`);
          }
          add(spec, c, `-${c} ${value}`, value);
          break;
        }
        add(spec, c, `-${c}`);
      }
      continue;
    }
    // GNU getopt lets options follow the expression; everything else is the expression
    filterWords.push(w);
  }
  for (const o of options) {
    // tcpdump refuses to start on these
    if (['c', 'C', 'G', 'W', 's', 'B'].includes(o.name) && o.value !== undefined && !/^\d+[kmg]?$/i.test(o.value)) {
      notes.push(`${o.text}: tcpdump expects a number there and would refuse to start.`);
    }
    if (o.name === 'Q' && o.value !== undefined && !['in', 'out', 'inout'].includes(o.value)) notes.push(`${o.text}: the direction must be in, out or inout.`);
  }
  return { prefix, ...(timeout ? { timeout } : {}), options, unknownOptions, filter: filterWords.join(' '), filterWords, notes };
}

export function findOption(cmd: ParsedCommand, name: string): OptionUse | undefined {
  return cmd.options.find((o) => o.name === name);
}
