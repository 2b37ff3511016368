/** The progress line (src/util/progress.ts) as a log file sees it. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatDuration, Progress } from '../src/util/progress';

test('a progress line in a log shows step, percentage, ETA and figures, and is not printed every step', () => {
  const lines: string[] = [];
  const out = { isTTY: false, write: (s: string) => { lines.push(s); return true; } } as unknown as NodeJS.WriteStream;
  const p = new Progress(200, 'train', out);
  for (let i = 1; i <= 200; i++) p.update(i, { loss: 1 / i, 'img/s': 123.456 });
  assert.ok(lines.length >= 20 && lines.length <= 22, `${lines.length} lines for 200 steps`);
  assert.match(lines[lines.length - 1], /^train 200\/200 \[=+\] 100% {2}elapsed \d+s {2}ETA 0s {2}loss 0\.00500 {2}img\/s 123\n$/);
  assert.match(lines[0], /^train 1\/200 \[> /);  // the first step is shown at once
});

test('durations read as s, m and h', () => {
  assert.deepEqual([formatDuration(5.4), formatDuration(125), formatDuration(3 * 3600 + 7 * 60), formatDuration(NaN)],
                   ['5s', '2m05s', '3h07m', '?']);
});
