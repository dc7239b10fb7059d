// A service's server ends keep-alive connections past their maximum age: the answer says Connection: close, the
// client opens a new one. (Why: spreading clients over new replicas, and NetworkPolicies taking effect on Kubernetes.)
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger, serve } from '@faultline/common';

const app = express();
app.get('/', (_req, res) => void res.json({ ok: true }));
const server = await serve(app, { port: 0, host: '127.0.0.1', logger: createLogger('lifecycle-test', 'silent'), connectionMaxAgeMs: 300 });
const port = (server.address() as AddressInfo).port;
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
afterAll(() => {
  agent.destroy();
  server.close();
});

function get(): Promise<{ connection: string | undefined; socket: unknown }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', agent }, (res) => {
      res.resume();
      res.on('end', () => resolve({ connection: res.headers.connection, socket: req.socket }));
    });
    req.on('error', reject);
  });
}

describe('connection max age', () => {
  it('keeps a young connection, closes one past its age, and the next request gets a fresh one', async () => {
    const first = await get();
    const second = await get();
    expect(first.connection).toBe('keep-alive');
    expect(second.socket).toBe(first.socket); // reused while young
    await new Promise((r) => setTimeout(r, 400));
    const old = await get();
    expect(old.connection).toBe('close');
    expect(old.socket).toBe(first.socket);
    const fresh = await get();
    expect(fresh.socket).not.toBe(first.socket);
    expect(fresh.connection).toBe('keep-alive');
  });
});
