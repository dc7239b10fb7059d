// The checks that lock the local runtime's control surfaces, on their own: which requests a loopback server refuses,
// and the control token's file and comparison.
import { statSync, writeFileSync } from 'node:fs';
import express from 'express';
import { describe, expect, it } from 'vitest';
import { loopbackRefusal } from '../../chaos/src/core/loopback-guard.ts';
import { notFound } from '../../chaos/src/platforms/local/control-fallbacks.ts';
import { controlTokenFile, createSecret, readControlToken, requireToken } from '../../chaos/src/platforms/local/stack-secrets.ts';
import { tempDir } from '../support/temp.ts';

describe('loopbackRefusal', () => {
  it.each([
    [{ host: '127.0.0.1:27400' }],
    [{ host: 'localhost:27400' }],
    [{ host: 'LOCALHOST:27400' }],
    [{ host: '[::1]:27400' }],
    [{ host: '127.0.0.1:27400', origin: 'http://localhost:27400', 'sec-fetch-site': 'same-origin' }],
    [{ host: '127.0.0.1:27400', 'sec-fetch-site': 'none' }],
  ])('lets %j through', (headers) => {
    expect(loopbackRefusal(headers)).toBeUndefined();
  });

  it.each([
    [{}, 'forbidden_host'],
    [{ host: 'attacker.example:27400' }, 'forbidden_host'],
    [{ host: '127.0.0.1.attacker.example:27400' }, 'forbidden_host'],
    [{ host: '10.0.0.5:27400' }, 'forbidden_host'],
    [{ host: '127.0.0.1:27400', origin: 'https://attacker.example' }, 'cross_origin'],
    [{ host: '127.0.0.1:27400', origin: 'http://127.0.0.1:8080' }, 'cross_origin'],
    [{ host: '127.0.0.1:27400', origin: 'https://127.0.0.1:27400' }, 'cross_origin'],
    [{ host: '127.0.0.1:27400', origin: 'null' }, 'cross_origin'],
    [{ host: '127.0.0.1:27400', 'sec-fetch-site': 'cross-site' }, 'cross_origin'],
    [{ host: '127.0.0.1:27400', 'sec-fetch-site': 'same-site' }, 'cross_origin'],
  ])('refuses %j with %s', (headers, code) => {
    expect(loopbackRefusal(headers)?.code).toBe(code);
  });
});

describe('the control token', () => {
  it('is new for every stack, 0600, and replaces a file left behind with other permissions', () => {
    const dir = tempDir('token-');
    writeFileSync(controlTokenFile(dir), 'old', { mode: 0o644 });
    const first = createSecret(dir, 'control-token');
    expect(statSync(controlTokenFile(dir)).mode & 0o777).toBe(0o600);
    expect(readControlToken(dir)).toBe(first);
    expect(first).toMatch(/^[\w-]{43}$/);
    expect(createSecret(dir, 'control-token')).not.toBe(first);
    expect(readControlToken(tempDir('empty-'))).toBeUndefined();
  });

  it('is compared whole: a missing, wrong or shorter one gets 401', async () => {
    const app = express();
    app.use(requireToken('s3cret-token'));
    app.get('/', (_req, res) => void res.json({ ok: true }));
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
    try {
      for (const authorization of [undefined, 'Bearer s3cret', 'Bearer s3cret-token2', 'Bearer S3cret-token', 's3cret-token', 'Basic s3cret-token']) {
        const res = await fetch(url, { headers: authorization ? { authorization } : {} });
        expect(res.status, String(authorization)).toBe(401);
        expect(res.headers.get('www-authenticate')).toBe('Bearer realm="faultline control"');
      }
      for (const authorization of ['Bearer s3cret-token', 'bearer s3cret-token']) expect((await fetch(url, { headers: { authorization } })).status).toBe(200);
    } finally {
      server.close();
    }
  });
});

describe("the control API's answers outside its routes", () => {
  it("are 405 with Allow read from the app's own routes, or 404", async () => {
    const app = express();
    app.get('/faults', (_req, res) => void res.json([]));
    app.post('/faults', (_req, res) => void res.json({}));
    app.delete('/faults/:id', (_req, res) => void res.json({}));
    app.use(notFound(app));
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    try {
      const put = await fetch(`${url}/faults`, { method: 'PUT' });
      expect([put.status, put.headers.get('allow')]).toEqual([405, 'GET, HEAD, POST']);
      const patch = await fetch(`${url}/faults/flt-1`, { method: 'PATCH' });
      expect([patch.status, patch.headers.get('allow')]).toEqual([405, 'DELETE']);
      const none = await fetch(`${url}/nothing`);
      expect([none.status, ((await none.json()) as { error: { code: string } }).error.code]).toEqual([404, 'route_not_found']);
    } finally {
      server.close();
    }
  });
});
