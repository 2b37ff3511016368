/**
 * One error type for every bad-input case in the data layer, so that a user
 * sees a single sentence naming the file and what is wrong ("Expected …, but
 * got …") instead of a stack trace from deep inside zlib or sharp.
 */
import * as fs from 'fs';
import { fsReason } from '../util/fs_safe';

/** Raised for a missing path, a corrupt or truncated file, or inconsistent data. */
export class DatasetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DatasetError';
  }
}

/** Formats a byte count or magic number as 0x-prefixed, zero-padded hex. */
export function hex(n: number, digits = 8): string {
  return '0x' + (n >>> 0).toString(16).padStart(digits, '0');
}

/**
 * Throws a DatasetError unless `path` exists and, if it is a folder, can be
 * listed and entered (otherwise every file in it would look missing). `what`
 * says what was expected there ("a CIFAR-10 directory"); `hint` (optional)
 * says how to obtain it.
 */
export function requirePath(path: string, what: string, hint?: string): void {
  try {
    const st = fs.statSync(path, { throwIfNoEntry: false });
    if (st?.isDirectory()) fs.accessSync(path, fs.constants.R_OK | fs.constants.X_OK);
    if (st !== undefined) return;
  } catch (e) {
    throw new DatasetError(`Expected ${what} at ${path} to be readable, but got: ${fsReason(e)}`);
  }
  const tail = hint ? ` (${hint})` : '';
  throw new DatasetError(`Expected ${what} at ${path}, but the path does not exist${tail}`);
}

/** Reads a whole file; a missing or unreadable file becomes a DatasetError. */
export function readFileChecked(path: string, what: string, hint?: string): Buffer {
  requirePath(path, what, hint);
  try {
    return fs.readFileSync(path);
  } catch (e) {
    throw new DatasetError(`Expected ${what} at ${path} to be readable, but got: ${fsReason(e)}`);
  }
}
