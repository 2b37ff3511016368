/**
 * One process at a time in a folder (a run, a sweep): `<dir>/.lock`, created
 * exclusively (O_EXCL), holding its owner's pid, host, process start time and
 * a random token.
 *
 * A lock whose owner is gone does not block for ever (kill -9, a crash, a
 * power cut): on the same host it is stale when its pid no longer runs, or
 * now belongs to a process started at another time (pids are reused); from
 * another host (shared storage, queue workers) when its owner has not touched
 * it for LOCK_STALE_MS. A stale lock is moved aside and taken over, and the
 * new owner is told whose it was. The owner checks at every step that the
 * lock is still its own (`refresh`), so that the loser of a race between two
 * takers stops before it writes anything more.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { fileError } from '../util/fs_safe';

/** A lock from another host not touched for this long is stale (its owner touches it at every step and every TOUCH_MS). */
export const LOCK_STALE_MS = 10 * 60_000;
const TOUCH_MS = 30_000;
/** An unreadable lock younger than this is being written (between its exclusive create and its write); older, it is stale. */
const WRITING_MS = 2000;
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

/** Whether a process with this pid runs here (EPERM: it does, under another user). */
function pidRuns(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== 'ESRCH';
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

const ageMs = (file: string) => Date.now() - (fs.statSync(file, { throwIfNoEntry: false })?.mtimeMs ?? 0);

/** Whether the owner of a lock still runs (see the file comment). */
function ownerAlive(owner: LockOwner, file: string): boolean {
  if (owner.host !== os.hostname()) return ageMs(file) < LOCK_STALE_MS;
  if (!pidRuns(owner.pid)) return false;
  const now = procStart(owner.pid);
  return owner.procStart === null || now === null || now === owner.procStart;
}

const describeOwner = (o: LockOwner) => `process ${o.pid} on ${o.host} (since ${o.since})`;

/** A held lock. */
export class FolderLock {
  private timer: NodeJS.Timeout | null;

  constructor(readonly dir: string, readonly file: string, readonly owner: LockOwner,
              /** The stale lock this one replaced (its process had ended), if any. */
              readonly tookOver: LockOwner | null) {
    // The heartbeat other hosts read, also while a long evaluation keeps the steps from touching it.
    this.timer = setInterval(() => { try { this.touch(); } catch { /* refresh() reports it */ } }, TOUCH_MS);
    this.timer.unref();
  }

  private touch(): void {
    const now = new Date();
    fs.utimesSync(this.file, now, now);
  }

  /** Throws unless this process still holds the lock; touches it. */
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

/**
 * Moves a stale lock aside if it is still the one seen; a fresh lock moved by
 * mistake (another process took over in between) is put back.
 */
function breakStale(file: string, seen: LockOwner | null): void {
  const moved = `${file}.stale-${process.pid}-${crypto.randomBytes(4).toString('hex')}`;
  try {
    fs.renameSync(file, moved);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;  // another process moved it first
    throw e;
  }
  const got = readOwner(moved);
  if (got !== null && got.token !== seen?.token) {
    try { fs.linkSync(moved, file); } catch { /* a third process holds it now; refresh() stops one of us */ }
  }
  fs.rmSync(moved, { force: true });
}

/** Removes locks that a process killed inside breakStale left moved aside. */
function removeMovedLocks(dir: string): void {
  for (const name of fs.readdirSync(dir)) {
    const pid = /^\.lock\.stale-(\d+)-[0-9a-f]+$/.exec(name)?.[1];
    if (pid !== undefined && !pidRuns(Number(pid))) fs.rmSync(path.join(dir, name), { force: true });
  }
}

/** Creates `file` holding `owner` if it does not exist (false if it does); a lock whose write failed (a full disk) is removed. */
function createLock(file: string, owner: LockOwner, dir: string): boolean {
  let fd: number;
  try {
    fd = fs.openSync(file, 'wx');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw fileError('lock', dir, e);
  }
  try {
    fs.writeSync(fd, JSON.stringify(owner) + '\n');
  } catch (e) {
    fs.rmSync(file, { force: true });
    throw fileError('lock', dir, e);
  } finally {
    fs.closeSync(fd);
  }
  return true;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

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
    if (createLock(file, owner, dir)) {
      removeMovedLocks(dir);
      return new FolderLock(dir, file, owner, tookOver);
    }
    const held = readOwner(file);
    if (held === null && ageMs(file) < WRITING_MS) {
      await sleep(50);
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
