/**
 * Fault injection for the crash tests (test/kill_trials.test.ts): with
 * BIGBIGAN_FAULT=NAME (or NAME@N, the N-th time), the process kills itself
 * with SIGKILL when it reaches the point NAME, as `kill -9` would at that
 * moment. Points: 'checkpoint-write' (half of a checkpoint's temporary file
 * written), 'checkpoint-rename' (written and flushed, not yet renamed),
 * 'metrics-append' (half of a metrics line written), 'step' (an E/G step
 * done, nothing of it written yet). Unset, a point costs one comparison.
 */
const [wantedName, wantedCount] = (process.env.BIGBIGAN_FAULT ?? '').split('@');
let hits = 0;

/** Whether BIGBIGAN_FAULT names this point and this is the hit it names (the caller then does half its work and calls die()). */
export function faultDue(name: string): boolean {
  if (name !== wantedName) return false;
  hits++;
  return hits === Number(wantedCount ?? 1);
}

/** Ends this process at once, as kill -9 does (no exit handlers, no finally blocks). */
export function die(): never {
  process.kill(process.pid, 'SIGKILL');
  throw new Error('unreachable');
}

/** Kills this process (SIGKILL) if BIGBIGAN_FAULT names this point and its count is reached. */
export function faultPoint(name: string): void {
  if (faultDue(name)) die();
}
