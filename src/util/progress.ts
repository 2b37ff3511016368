/**
 * A progress line for long work: step/total, bar, ETA and the latest figures.
 * On a terminal it rewrites one line (at most 10 times a second); in logs and
 * notebooks it prints a line every ~5% of the way or every 30 s.
 */
export class Progress {
  private readonly start = Date.now();
  private lastPrint = 0;
  private lastFraction = -1;

  constructor(private readonly total: number, private readonly label: string,
              private readonly out: NodeJS.WriteStream = process.stderr) {}

  /** Reports that `done` of `total` units are finished, with named figures. */
  update(done: number, figures: Record<string, number | string> = {}): void {
    const now = Date.now();
    const fraction = Math.min(1, done / this.total);
    const tty = this.out.isTTY === true;
    const due = tty ? now - this.lastPrint >= 100 : fraction - this.lastFraction >= 0.05 || now - this.lastPrint >= 30_000;
    if (!due && done < this.total) return;
    this.lastPrint = now;
    this.lastFraction = fraction;
    const line = this.format(done, fraction, (now - this.start) / 1000, figures);
    this.out.write(tty ? `\r${line}\x1b[K` : `${line}\n`);
  }

  /** Ends the progress line. */
  finish(): void {
    if (this.out.isTTY === true) this.out.write('\n');
  }

  private format(done: number, fraction: number, elapsed: number, figures: Record<string, number | string>): string {
    const width = 20;
    const filled = Math.round(fraction * width);
    const bar = '='.repeat(filled) + (filled < width ? '>' : '') + ' '.repeat(Math.max(0, width - filled - 1));
    const eta = fraction > 0 ? elapsed * (1 - fraction) / fraction : NaN;
    const shown = Object.entries(figures).map(([k, v]) => `${k} ${typeof v === 'number' ? formatNumber(v) : v}`);
    return [`${this.label} ${done}/${this.total} [${bar}] ${(fraction * 100).toFixed(0)}%`,
            `elapsed ${formatDuration(elapsed)}`, `ETA ${formatDuration(eta)}`, ...shown].join('  ');
  }
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  return s >= 3600 ? `${Math.floor(s / 3600)}h${String(Math.floor(s / 60) % 60).padStart(2, '0')}m`
       : s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

function formatNumber(v: number): string {
  return Math.abs(v) >= 100 || Number.isInteger(v) ? v.toFixed(0) : v.toPrecision(3);
}
