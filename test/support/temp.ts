// Temporary folders for tests, each removed when its test file is done, so that runs leave nothing behind in /tmp.
// Importing this module registers the removal with the importing file's suite.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

const made: string[] = [];

/** A new empty folder, `faultline-<prefix>XXXXXX` in the OS's temp folder. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `faultline-${prefix}`));
  made.push(dir);
  return dir;
}

afterAll(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});
