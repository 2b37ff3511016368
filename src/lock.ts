/**
 * One process at a time in a run folder (or a sweep folder): an exclusive
 * lock file, `<dir>/.lock`, holding its owner's pid, host, process start time
 * and a random token.
 *
 * - Taken atomically: the owner's record is written to a private file and
 *   hard-linked to `.lock` (link fails if `.lock` exists), so a reader never
 *   sees a half-written lock; where hard links are not supported, an
 *   exclusive create (O_EXCL) is used instead.
 * - A dead owner does not block for ever (kill -9, a crash, a power cut): on
 *   the same host a lock whose process is gone (or whose pid now belongs to a
 *   process started at another time) is stale; from another host (shared
 *   storage) a lock is stale when its owner has not touched it for
 *   LOCK_STALE_MS. A stale lock is taken over, and the caller is told whose.
 * - The owner checks at every step that the lock is still its own
 *   (`refresh`, which also touches it), so that even a lost race stops the
 *   loser before it writes.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { fileError } from './fs_safe';

/** A lock from another host not touched for this long is stale (its owner refreshes it at every step and every 30 s). */
export const LOCK_STALE_MS = 10 * 60_000;
const TOUCH_MS = 30_000;
export const LOCK_NAME = '.lock';

export interface LockOwner {
  pid: number;
  host: string;
  /** The process's start time (Linux: /proc/<pid>/stat field 22), to tell a reused pid; null elsewhere. */
  procStart: string | null;
  token: string;
  since: string;
}

/** A process's start time in clock ticks since boot (Linux), or null. */
function procStart(pid: number): string | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

function readOwner(file: string): LockOwner | null {
  try {
    const o = JSON.parse(fs.readFileSync(file, 'utf8')) as LockOwner;
    return typeof o.pid === 'number' && typeof o.token === 'string' ? o : null;
  } catch {
    return null;
  }
}

/** Whether the owner of a lock still runs (see the file comment). */
export function ownerAlive(owner: LockOwner, file: string): boolean {
  if (owner.host !== os.hostname()) {
    const mtime = fs.statSync(file, { throwIfNoEntry: false })?.mtimeMs ?? 0;
    return Date.now() - mtime < LOCK_STALE_MS;
  }
  if (!pidRuns(owner.pid)) return false;
  return owner.procStart === null || procStart(owner.pid) === null || procStart(owner.pid) === owner.procStart;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Whether a process with this pid runs here (EPERM: it does, under another user). */
function pidRuns(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

const describeOwner = (o: LockOwner) => `process ${o.pid} on ${o.host} (since ${o.since})`;

/** A held lock. */
export class FolderLock {
  private timer: NodeJS.Timeout | null;

  constructor(readonly dir: string, readonly file: string, readonly owner: LockOwner,
              /** The stale lock this one replaced (its process had ended), if any. */
              readonly tookOver: LockOwner | null) {
    this.timer = setInterval(() => { try { this.touch(); } catch { /* refresh() reports it */ } }, TOUCH_MS);
    this.timer.unref();
  }

  private touch(): void {
    const now = new Date();
    fs.utimesSync(this.file, now, now);
  }

  /** Throws unless this process still holds the lock; touches it (the heartbeat other hosts read). */
  refresh(): void {
    const now = readOwner(this.file);
    if (now === null || now.token !== this.owner.token) {
      throw new Error(`Lost the lock of ${this.dir} to ${now ? describeOwner(now) : 'another process (the lock was removed)'}: ` +
                      'stopping before writing anything more');
    }
    this.touch();
  }

  /** Removes the lock if it is still this process's. */
  release(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    if (readOwner(this.file)?.token === this.owner.token) fs.rmSync(this.file, { force: true });
  }
}

/** Hard-links a private file holding `owner` to `file`; false when `file` exists. */
function tryCreate(file: string, owner: LockOwner): boolean {
  const mine = `${file}.${owner.pid}-${owner.token.slice(0, 8)}`;
  fs.writeFileSync(mine, JSON.stringify(owner) + '\n');
  try {
    fs.linkSync(mine, file);
    return true;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw e;
    try {  // no hard links here: an exclusive create
      fs.writeFileSync(file, JSON.stringify(owner) + '\n', { flag: 'wx' });
      return true;
    } catch (e2) {
      if ((e2 as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw e2;
    }
  } finally {
    fs.rmSync(mine, { force: true });
  }
}

/**
 * Moves a stale lock out of the way if it is still the one seen (`seen`); a
 * fresh lock moved by mistake (another process took over first) is put back.
 */
function breakStale(file: string, seen: LockOwner | null): void {
  const moved = `${file}.stale-${process.pid}-${crypto.randomBytes(4).toString('hex')}`;
  try {
    fs.renameSync(file, moved);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  const got = readOwner(moved);
  if (seen !== null && got !== null && got.token !== seen.token) {
    try { fs.linkSync(moved, file); } catch { /* a third process holds it now; refresh() stops one of us */ }
  }
  fs.rmSync(moved, { force: true });
}

/**
 * Takes the lock of `dir` (which must exist), waiting up to `waitMs` for a
 * live owner to let go. `what` names the folder in the refusal, e.g.
 * "Run folder runs/a is in use by process 4242 on host (since ...)".
 */
export async function acquireLock(dir: string, opts: { what?: string; waitMs?: number } = {}): Promise<FolderLock> {
  const file = path.join(dir, LOCK_NAME);
  const owner: LockOwner = {
    pid: process.pid, host: os.hostname(), procStart: procStart(process.pid),
    token: crypto.randomBytes(16).toString('hex'), since: new Date().toISOString(),
  };
  const deadline = Date.now() + (opts.waitMs ?? 0);
  let tookOver: LockOwner | null = null;
  for (;;) {
    let created: boolean;
    try {
      created = tryCreate(file, owner);
    } catch (e) {
      throw fileError('lock', dir, e);
    }
    if (created) return new FolderLock(dir, file, owner, tookOver);
    const held = readOwner(file);
    const age = Date.now() - (fs.statSync(file, { throwIfNoEntry: false })?.mtimeMs ?? 0);
    if (held === null && age < 5000) {  // being written (the exclusive-create fallback): look again
      await sleep(100);
      continue;
    }
    if (held === null || !ownerAlive(held, file)) {
      tookOver = held;
      breakStale(file, held);
      continue;
    }
    if (Date.now() >= deadline) {
      throw new Error(`${opts.what ?? 'Folder'} ${dir} is in use by ${describeOwner(held)}: ` +
                      'one process at a time writes a folder; wait for that one to end, or stop it');
    }
    await sleep(250);
  }
}

/** Removes what killed lock-takers left (their private files and moved stale locks) in `dir`. */
export function removeLockLeftovers(dir: string): void {
  for (const name of fs.readdirSync(dir)) {
    const m = /^\.lock\.(?:stale-)?(\d+)-[0-9a-f]+$/.exec(name);
    if (m === null || Number(m[1]) === process.pid) continue;
    if (!pidRuns(Number(m[1]))) fs.rmSync(path.join(dir, name), { force: true });
  }
}
