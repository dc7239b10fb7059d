// Secrets made per stack, each in a 0600 file in the state directory that only the user who started the stack can read:
// the supervisor's control API kills processes and injects faults, so it takes a bearer token; Redis takes a password.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { NextFunction, Request, Response } from 'express';

export const stackSecrets = ['control-token', 'redis-password'] as const;
export type StackSecret = (typeof stackSecrets)[number];

export const secretFile = (stateDir: string, name: StackSecret) => join(stateDir, name);
export const controlTokenFile = (stateDir: string) => secretFile(stateDir, 'control-token');

/** A new secret for a new stack; an older file is replaced, never reused, and the new one is created 0600. */
export function createSecret(stateDir: string, name: StackSecret): string {
  const file = secretFile(stateDir, name);
  const secret = randomBytes(32).toString('base64url');
  rmSync(file, { force: true });
  const fd = openSync(file, 'wx', 0o600);
  try {
    writeSync(fd, secret);
  } finally {
    closeSync(fd);
  }
  return secret;
}

/** The stack's secret, or undefined when no stack was started in this state directory. */
export function readSecret(stateDir: string, name: StackSecret): string | undefined {
  try {
    return readFileSync(secretFile(stateDir, name), 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

export const readControlToken = (stateDir: string) => readSecret(stateDir, 'control-token');

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
