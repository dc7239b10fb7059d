// The supervisor's control API kills processes and injects faults, so it takes a bearer token that only the user who
// started the stack can read: a random one per stack, in a 0600 file in the state directory.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { NextFunction, Request, Response } from 'express';

export const controlTokenFile = (stateDir: string) => join(stateDir, 'control-token');

/** A new token for a new stack; an older file is replaced, never reused, and the new one is created 0600. */
export function createControlToken(stateDir: string): string {
  const file = controlTokenFile(stateDir);
  const token = randomBytes(32).toString('base64url');
  rmSync(file, { force: true });
  const fd = openSync(file, 'wx', 0o600);
  try {
    writeSync(fd, token);
  } finally {
    closeSync(fd);
  }
  return token;
}

/** The stack's token, or undefined when no stack was started in this state directory. */
export function readControlToken(stateDir: string): string | undefined {
  try {
    return readFileSync(controlTokenFile(stateDir), 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

export const bearer = (token: string | undefined): Record<string, string> => (token ? { authorization: `Bearer ${token}` } : {});

/** Express middleware: 401 unless the request carries the token as `Authorization: Bearer`. */
export function requireToken(token: string) {
  const expected = Buffer.from(token);
  return (req: Request, res: Response, next: NextFunction) => {
    // The scheme's name is case-insensitive (RFC 9110); the token is compared in constant time.
    const given = Buffer.from(/^bearer +(\S+)$/i.exec(req.headers.authorization ?? '')?.[1] ?? '');
    if (given.length === expected.length && timingSafeEqual(given, expected)) return next();
    res.status(401).set('www-authenticate', 'Bearer realm="faultline control"');
    res.json({ error: { code: 'unauthorized', message: 'the control API needs the stack\'s token (Authorization: Bearer, from control-token in the state directory)' } });
  };
}
