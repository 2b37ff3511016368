/**
 * File writes that a crash or a full disk cannot leave half-done, and file
 * errors as one sentence that names the path: "Could not write F: no space
 * left on device (ENOSPC)" instead of a bare errno from deep inside Node.
 */
import * as fs from 'fs';
import * as path from 'path';

/** A failed read or write of a file, its message naming the path and the reason. */
export class FileError extends Error {
  constructor(message: string, readonly code: string | undefined) {
    super(message);
    this.name = 'FileError';
  }
}

const REASONS: Record<string, string> = {
  ENOSPC: 'no space left on device', EDQUOT: 'the disk quota is exhausted', EROFS: 'the file system is read-only',
  EACCES: 'permission denied', EPERM: 'permission denied', ENOTDIR: 'a part of the path is a file, not a folder',
  EISDIR: 'it is a folder', ENOENT: 'it does not exist', EIO: 'an input/output error of the device', EEXIST: 'it exists already',
};

/** An fs error's reason in words, with its code: "no space left on device (ENOSPC)". */
export function fsReason(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  const reason = code !== undefined ? REASONS[code] : undefined;
  return reason ? `${reason} (${code})` : (e as Error).message;
}

/** `e` as a FileError "Could not <action> <file>: <reason>"; a FileError passes unchanged. */
export function fileError(action: string, file: string, e: unknown): FileError {
  if (e instanceof FileError) return e;
  return new FileError(`Could not ${action} ${file}: ${fsReason(e)}`, (e as NodeJS.ErrnoException).code);
}

/** Runs `f`, turning an fs error into a FileError naming `file`. */
export function guarded<T>(action: string, file: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw fileError(action, file, e);
  }
}

/**
 * The JSON in `file`; a file that cannot be read is a FileError, one that does not parse is
 * "Expected <file> to hold <what> as JSON, but it does not (<reason>): <remedy>".
 */
export function readJsonFile<T>(file: string, what: string, remedy: string): T {
  const text = guarded('read', file, () => fs.readFileSync(file, 'utf8'));
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new Error(`Expected ${file} to hold ${what} as JSON, but it does not (${(e as Error).message}): ${remedy}`);
  }
}

/** The temporary name a file is written under before it is renamed into place (per process: two writers never share one). */
const tmpName = (file: string) => `${file}.tmp-${process.pid}`;
const TEMPORARY = /\.tmp-\d+$/;

/** Removes the temporary files that interrupted writers left in `dir` (call it holding the folder's lock); returns their paths. */
export function removeTemporaryFiles(dir: string): string[] {
  const names = guarded('list', dir, () => fs.readdirSync(dir)).filter((n) => TEMPORARY.test(n));
  for (const name of names) guarded('remove', path.join(dir, name), () => fs.rmSync(path.join(dir, name), { force: true }));
  return names.map((n) => path.join(dir, n));
}

/**
 * Writes `parts` to `file` atomically: into file.tmp-<pid>, flushed, then renamed
 * over `file` (and the folder flushed, so that the rename survives a power
 * cut). On failure the temporary file is removed and a FileError names `file`.
 */
export function writeFileAtomic(file: string, parts: Buffer | string | Array<Buffer | Uint8Array>,
                                hooks: { midway?: () => void; beforeRename?: () => void } = {}): void {
  const tmp = tmpName(file);
  const list = Array.isArray(parts) ? parts : [parts];
  try {
    const fd = fs.openSync(tmp, 'w');
    try {
      list.forEach((part, i) => {
        if (i === Math.ceil(list.length / 2)) hooks.midway?.();
        const bytes = Buffer.isBuffer(part) ? part : Buffer.from(part);
        for (let done = 0; done < bytes.length;) done += fs.writeSync(fd, bytes, done);  // a write may take fewer bytes
      });
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    hooks.beforeRename?.();
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw fileError('write', file, e);
  }
  syncFolder(path.dirname(file));
}

/** Flushes a folder's entries (a rename in it) to disk; a no-op where folders cannot be opened. */
export function syncFolder(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    // Windows and some network file systems cannot fsync a folder: the rename is still atomic there.
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** Appends one line (a single write, so a crash leaves at most a torn last line); a FileError names the file. */
export function appendLine(file: string, line: string): void {
  guarded('append to', file, () => fs.appendFileSync(file, line + '\n'));
}

/** 'missing', 'file', 'folder', or the error that stat gave (EACCES under an unreadable folder, ...). */
export function pathKind(p: string): 'missing' | 'file' | 'folder' | NodeJS.ErrnoException {
  try {
    const st = fs.statSync(p, { throwIfNoEntry: false });
    return st === undefined ? 'missing' : st.isDirectory() ? 'folder' : 'file';
  } catch (e) {
    return e as NodeJS.ErrnoException;
  }
}

/**
 * Makes sure `dir` is a folder this process can write, creating it (and its
 * parents) if needed; returns the outermost folder it created (what to remove
 * if nothing gets written), or null. One clear sentence otherwise: a file in
 * the way, a read-only file system, no permission.
 */
export function ensureFolder(dir: string, what: string): string | null {
  const kind = pathKind(dir);
  if (kind === 'file') throw new FileError(`Expected ${what} ${dir} to be a folder, but it is a file`, 'ENOTDIR');
  if (kind === 'folder') {
    guarded('write in', dir, () => fs.accessSync(dir, fs.constants.W_OK | fs.constants.X_OK));
    return null;
  }
  if (kind !== 'missing') throw fileError(`reach ${what}`, dir, kind);
  // One folder at a time (not mkdir's recursive mode, which reports ENOENT on a read-only file system).
  const missing: string[] = [];
  for (let d = path.resolve(dir); pathKind(d) === 'missing' && path.dirname(d) !== d; d = path.dirname(d)) missing.unshift(d);
  for (const d of missing) guarded(`create ${what}`, dir, () => fs.mkdirSync(d));
  return missing[0] ?? null;
}
