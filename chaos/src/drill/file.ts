import { closeSync, openSync, readSync } from 'node:fs';
import { LineCounter, isMap, isScalar, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
import { UsageError } from '../core/errors.ts';
import { faultKindNames } from './faults/index.ts';
import { drill, type Drill } from './schema.ts';

/** A drill file that cannot run: every message names the file, the line and the field. Exit code 2. */
export class DrillFileError extends UsageError {
  override name = 'DrillFileError';
}

const kinds = faultKindNames.join(', ');

export function loadDrillFile(file: string): Drill {
  let text: string;
  try {
    text = readCapped(file, maxDrillBytes + 1);
  } catch (err) {
    throw new DrillFileError(`${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  return parseDrill(text, file);
}

/** At most `limit` bytes of a file: a device or a huge file is not read to its end. */
function readCapped(file: string, limit: number): string {
  const fd = openSync(file, 'r');
  try {
    const buffer = Buffer.alloc(limit);
    let length = 0;
    for (let n = 1; n > 0 && length < limit; length += n) n = readSync(fd, buffer, length, limit - length, null);
    return buffer.toString('utf8', 0, length);
  } finally {
    closeSync(fd);
  }
}

/** The showcase drills are 2-4 KiB; the cap keeps parsing fast, since the YAML parser's duplicate-key check is quadratic. */
export const maxDrillBytes = 64 * 1024;

export function parseDrill(text: string, file = 'drill'): Drill {
  const bytes = Buffer.byteLength(text);
  if (bytes > maxDrillBytes) throw new DrillFileError(`${file}: larger than ${maxDrillBytes / 1024} KiB, the most a drill file may be`);
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length > 0) {
    throw new DrillFileError(doc.errors.map((e) => `${file}:${lines.linePos(e.pos[0]).line}: ${e.message.split('\n')[0]}`).join('\n'));
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    // An alias bomb ("billion laughs") or nesting too deep for the stack: refused, not followed.
    throw new DrillFileError(`${file}: cannot be read as a drill: ${(err as Error).message}`);
  }
  const parsed = drill.safeParse(data);
  if (parsed.success) return parsed.data;
  throw new DrillFileError(parsed.error.issues.map((issue) => describe(issue, doc, lines, file)).join('\n'));
}

function describe(issue: z.core.$ZodIssue, doc: Document, lines: LineCounter, file: string) {
  const path = issue.path.map(String);
  let where = path;
  let message = issue.message;
  if (issue.code === 'unrecognized_keys') {
    where = [...path, issue.keys[0]!];
    message = `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
  } else if (issue.code === 'invalid_union' && path.at(-1) === 'kind') {
    message = `kind must be one of ${kinds}`;
  } else if (issue.code === 'invalid_type' && issue.message.includes('received undefined')) {
    message = `${path.at(-1)} is required`;
  }
  return `${file}:${lineOf(doc, where, lines)}: ${path.join('.') || '(top level)'}: ${message}`;
}

/** The line of the deepest node along `path` that exists: a missing field is reported where its parent is. */
function lineOf(doc: Document, path: string[], lines: LineCounter): number {
  for (let depth = path.length; depth >= 0; depth--) {
    const keyPath = path.slice(0, depth).map((p) => (/^\d+$/.test(p) ? Number(p) : p));
    const parent = depth > 0 ? doc.getIn(keyPath.slice(0, -1), true) : undefined;
    // An unknown key's own line: the pair's key node.
    if (isMap(parent)) {
      const pair = parent.items.find((it) => isScalar(it.key) && it.key.value === keyPath.at(-1));
      const range = (pair?.key as { range?: [number, number, number] } | undefined)?.range;
      if (range) return lines.linePos(range[0]).line;
    }
    const node = depth > 0 ? doc.getIn(keyPath, true) : doc.contents;
    const range = (node as { range?: [number, number, number] } | null)?.range;
    if (range) return lines.linePos(range[0]).line;
  }
  return 1;
}
