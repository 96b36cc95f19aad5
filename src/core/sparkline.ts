/** Small pictures for the terminal: a sparkline and horizontal bars. */
const ticks = '▁▂▃▄▅▆▇█';

/** One character a value, scaled on a log axis (response times span 10 ms to seconds). */
export function sparkline(values: ReadonlyArray<number | null>): string {
  const nums = values.filter((v): v is number => v !== null && v > 0);
  if (nums.length === 0) return '';
  const lo = Math.log(Math.min(...nums));
  const hi = Math.log(Math.max(...nums));
  return values
    .map((v) => {
      if (v === null || v <= 0) return ' ';
      if (hi - lo < 1e-9) return ticks[0];
      return ticks[Math.min(ticks.length - 1, Math.floor(((Math.log(v) - lo) / (hi - lo)) * ticks.length))];
    })
    .join('');
}

export function bars(rows: ReadonlyArray<{ label: string; value: number; note?: string }>, width = 40): string {
  const max = Math.max(1, ...rows.map((r) => r.value));
  const labelWidth = Math.max(...rows.map((r) => r.label.length));
  return rows
    .map((r) => {
      const n = Math.round((r.value / max) * width);
      const bar = '█'.repeat(n) || (r.value > 0 ? '▏' : '');
      return `${r.label.padEnd(labelWidth)} ${bar} ${r.value}${r.note ? `  ${r.note}` : ''}`;
    })
    .join('\n');
}
