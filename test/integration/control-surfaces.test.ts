// The stack's control surfaces on loopback, tried as a local attacker and a web page would: the supervisor's API takes
// only the stack's token, every loopback server refuses foreign Host and Origin, and a page in a real browser cannot
// shut the stack down, kill a replica, switch a Toxiproxy proxy off or stop Prometheus. Redis takes only the stack's password.
import { readFileSync, statSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import puppeteer, { type Browser } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Redis } from 'ioredis';
import { controlTokenFile, readControlToken, readSecret, secretFile } from '../../chaos/src/platforms/local/stack-secrets.ts';
import { createToxiproxy } from '../../chaos/src/platforms/local/toxiproxy.ts';
import { chromiumPath } from '../../tooling/toolchain.ts';
import { controlFetch, pidAlive, promQuery, sleep, waitFor } from '../support/shop.ts';
import { tempDir } from '../support/temp.ts';

const stack = inject('stack');
const stateDir = inject('stateDir');
const control = controlFetch(stack, stateDir);
const controlPort = Number(new URL(stack.supervisor.url).port);
const dashboardPort = Number(new URL(stack.urls.dashboard).port);

/** A raw request, since fetch does not let a caller choose the Host header. */
function rawGet(port: number, path: string, headers: Record<string, string>): Promise<{ status: number; body: { error?: { code: string } } }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers, timeout: 5000 }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, body: text.startsWith('{') ? JSON.parse(text) : {} }));
    });
    req.on('error', reject);
    req.end();
  });
}
const liveStatus = async () => (await (await control('/status')).json()) as typeof stack;
/** Each component's restarts: a kill would add one. */
const restartsOf = (status: typeof stack) => Object.fromEntries(status.components.map((c) => [c.name, c.restarts]));
const authorization = () => `Bearer ${readControlToken(stateDir)}`;

describe('the control token', () => {
  it('is in a file only its user can read, as are the API keys', () => {
    expect(statSync(controlTokenFile(stateDir)).mode & 0o777).toBe(0o600);
    expect(statSync(join(stateDir, 'state.json')).mode & 0o777).toBe(0o600);
  });

  it('is required: without it, or with another, every route answers 401 and nothing happens', async () => {
    const before = await liveStatus();
    for (const [method, path] of [['GET', '/status'], ['GET', '/faults'], ['GET', '/metrics'], ['POST', '/kill'], ['POST', '/faults'], ['POST', '/shutdown']] as const) {
      const bare = await fetch(`${stack.supervisor.url}${path}`, { method, headers: { 'content-type': 'application/json' }, body: method === 'POST' ? JSON.stringify({ replicas: ['kitchen-0'] }) : undefined });
      expect(bare.status, `${method} ${path}`).toBe(401);
      expect(bare.headers.get('www-authenticate')).toMatch(/^Bearer /);
      expect(((await bare.json()) as { error: { code: string } }).error.code).toBe('unauthorized');
      const wrong = await fetch(`${stack.supervisor.url}${path}`, { method, headers: { authorization: 'Bearer not-the-token' } });
      expect(wrong.status, `${method} ${path} with a wrong token`).toBe(401);
    }
    const status = await liveStatus();
    expect(status.phase).toBe('ready');
    expect(restartsOf(status)).toEqual(restartsOf(before));
  });

  it('lets Prometheus scrape the supervisor, from the same file', async () => {
    const up = await waitFor('the supervisor scraped', async () => (await promQuery(stack, 'up{job="faultline"}')).find((s) => s.value === 1));
    expect(up.value).toBe(1);
  });
});

describe("Redis's password", () => {
  const password = () => readSecret(stateDir, 'redis-password')!;
  const port = Number(new URL(stack.urls.redis).port);
  // No ready check: its INFO would be refused too, and the client would close and reconnect instead of asking.
  const client = () => new Redis(port, '127.0.0.1', { lazyConnect: true, enableReadyCheck: false, maxRetriesPerRequest: 0 }).on('error', () => undefined);

  it('is made per stack, in a file only its user can read, beside configuration only its user can list', () => {
    expect(password()).toMatch(/^[\w-]{43}$/);
    expect(statSync(secretFile(stateDir, 'redis-password')).mode & 0o777).toBe(0o600);
    expect(statSync(join(stateDir, 'config')).mode & 0o777).toBe(0o700);
  });

  it('is required: without it, or with another, Redis answers no command', async () => {
    const bare = client();
    try {
      await expect(bare.get('order:any')).rejects.toThrow(/NOAUTH/);
      await expect(bare.call('AUTH', 'not-the-password')).rejects.toThrow(/WRONGPASS/);
      await expect(bare.get('order:any')).rejects.toThrow(/NOAUTH/);
    } finally {
      bare.disconnect();
    }
  });

  it('is on no command line, which every local user can read', async () => {
    const live = await liveStatus();
    const pids = live.components.flatMap((c) => (c.pid ? [c.pid] : []));
    expect(pids.length).toBeGreaterThan(5);
    for (const pid of [live.supervisor.pid, ...pids]) {
      expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8'), `pid ${pid}`).not.toContain(password());
    }
  });

  it("is in the status's Redis URL, which the shop's own clients use", async () => {
    expect(new URL(stack.urls.redis).password).toBe(password());
    const redis = new Redis(stack.urls.redis, { lazyConnect: true, maxRetriesPerRequest: 0 });
    try {
      expect(await redis.ping()).toBe('PONG');
    } finally {
      redis.disconnect();
    }
  });
});

describe('loopback servers refuse other sites', () => {
  it.each([
    ['a foreign Host (DNS rebinding)', { host: `attacker.example:${controlPort}` }, 'forbidden_host'],
    ['a cross-site Origin', { origin: 'https://attacker.example' }, 'cross_origin'],
    ['another loopback server as Origin', { origin: `http://127.0.0.1:${controlPort + 1}` }, 'cross_origin'],
    ['Sec-Fetch-Site: cross-site', { 'sec-fetch-site': 'cross-site' }, 'cross_origin'],
    ['Sec-Fetch-Site: same-site', { 'sec-fetch-site': 'same-site' }, 'cross_origin'],
  ])('the control API: %s gets 403, token or not', async (_what, headers, code) => {
    const res = await rawGet(controlPort, '/status', { authorization: authorization(), ...headers });
    expect(res.status).toBe(403);
    expect(res.body.error?.code).toBe(code);
  });

  it('the control API: its own origin, by any loopback name, is served', async () => {
    for (const host of [`127.0.0.1:${controlPort}`, `localhost:${controlPort}`]) {
      const res = await rawGet(controlPort, '/status', { authorization: authorization(), host, origin: `http://${host}`, 'sec-fetch-site': 'same-origin' });
      expect(res.status, host).toBe(200);
    }
  });

  it.each([
    ['a foreign Host', { host: `attacker.example:${dashboardPort}` }, 'forbidden_host'],
    ['a cross-site Origin', { origin: 'https://attacker.example' }, 'cross_origin'],
    ['Sec-Fetch-Site: cross-site', { 'sec-fetch-site': 'cross-site' }, 'cross_origin'],
  ])('the dashboard page: %s gets 403', async (_what, headers, code) => {
    const res = await rawGet(dashboardPort, '/api/dashboards', headers);
    expect(res.status).toBe(403);
    expect(res.body.error?.code).toBe(code);
    expect((await rawGet(dashboardPort, '/api/dashboards', {})).status).toBe(200);
  });
});

describe('a web page in a real browser', () => {
  let browser: Browser;
  let attacker: Server;
  const toxiproxy = createToxiproxy(stack.urls.toxiproxy);
  const proxyName = 'gateway-catalog';

  beforeAll(async () => {
    // Another origin on loopback, as a page a developer has open would be; rebind.test resolves to loopback, as a
    // rebinding attacker's name would after its first answer.
    attacker = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>elsewhere</title>'));
    await new Promise<void>((resolve) => attacker.listen(0, '127.0.0.1', resolve));
    browser = await puppeteer.launch({
      executablePath: chromiumPath,
      headless: true,
      userDataDir: tempDir('chromium-'),
      args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--host-resolver-rules=MAP rebind.test 127.0.0.1'],
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    attacker?.close();
    await toxiproxy.setEnabled(proxyName, true).catch(() => undefined);
  });

  it('cannot shut the stack down, kill a replica, switch a proxy off or stop Prometheus with simple cross-site requests', async () => {
    const before = await liveStatus();
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${(attacker.address() as AddressInfo).port}/`);
    // Requests a browser sends without a preflight: no-cors fetches with text/plain bodies, and a form post.
    const sent = (await page.evaluate(`(async () => {
      const simple = (url, body) => fetch(url, { method: 'POST', mode: 'no-cors', headers: { 'content-type': 'text/plain' }, body }).then(() => 'answered', (e) => String(e));
      const results = await Promise.all([
        simple('${stack.supervisor.url}/kill', JSON.stringify({ replicas: ['kitchen-0'] })),
        simple('${stack.urls.toxiproxy}/proxies/${proxyName}', JSON.stringify({ enabled: false })),
        simple('${stack.supervisor.url}/shutdown', ''),
        simple('${stack.urls.prometheus}/-/quit', ''),
        simple('${stack.urls.prometheus}/api/v1/write', 'series'),
      ]);
      const form = document.createElement('form');
      form.method = 'POST';
      form.action = '${stack.supervisor.url}/shutdown';
      form.target = 'sink';
      const frame = document.createElement('iframe');
      frame.name = 'sink';
      document.body.append(frame, form);
      form.submit();
      await new Promise((r) => frame.addEventListener('load', r, { once: true }));
      return results;
    })()`)) as string[];
    // Each was answered (a refused connection would reject): they reached the servers, which refused them.
    expect(sent).toEqual(['answered', 'answered', 'answered', 'answered', 'answered']);
    await sleep(1000);
    const status = await liveStatus();
    expect(status.phase).toBe('ready');
    expect(pidAlive(status.supervisor.pid)).toBe(true);
    expect(restartsOf(status)).toEqual(restartsOf(before));
    expect((await toxiproxy.list()).find((p) => p.name === proxyName)?.enabled).toBe(true);
    // Prometheus runs without its lifecycle API and remote-write receiver, so neither POST did anything.
    expect((await fetch(`${stack.urls.prometheus}/-/ready`)).status).toBe(200);
    expect((await fetch(`${stack.urls.prometheus}/-/quit`, { method: 'POST' })).status).toBe(403);
    expect((await fetch(`${stack.urls.prometheus}/api/v1/write`, { method: 'POST', body: 'series' })).status).toBe(404);
  }, 60_000);

  it('cannot read the control API or the dashboard page through a rebound name', async () => {
    const page = await browser.newPage();
    for (const port of [controlPort, dashboardPort]) {
      const res = await page.goto(`http://rebind.test:${port}/status`);
      expect(res?.status(), `port ${port}`).toBe(403);
    }
    // Toxiproxy has no Host check, but refuses every browser (its API answers a Mozilla user agent 403).
    const res = await page.goto(`http://rebind.test:${new URL(stack.urls.toxiproxy).port}/proxies`);
    expect(res?.status()).toBe(403);
  }, 60_000);
});
