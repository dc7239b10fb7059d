import { accessSync, constants, existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { UsageError } from './errors.ts';

/** Creates `dir` when missing and checks that it is a writable folder, before a run starts; otherwise a UsageError (exit 2) naming the flag. */
export function writableReportDir(dir: string, flag = '--report-dir'): string {
  const absolute = resolve(dir);
  try {
    // One level at a time: Node's recursive mkdirSync never returns for a path under /proc.
    const missing: string[] = [];
    for (let d = absolute; !existsSync(d); d = dirname(d)) missing.unshift(d);
    for (const d of missing) mkdirSync(d);
    if (!statSync(absolute).isDirectory()) throw new Error('not a folder');
    accessSync(absolute, constants.W_OK);
  } catch (err) {
    throw new UsageError(`${flag}: cannot write to ${absolute} (${(err as Error).message})`);
  }
  return absolute;
}
