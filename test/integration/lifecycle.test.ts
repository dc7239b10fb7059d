// The stack as a user drives it: `faultline up --resilience off`, `status --json`, a killed replica, a port conflict,
// the control run's unprotected failure, a refused setting, `faultline down`.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createToxiproxy } from '../../chaos/src/platforms/local/toxiproxy.ts';
import { cli, controlFetch, pidAlive, repoRoot, scrape, shopClient, sleep, steadyLoad, waitFor, type StackStatus } from '../support/shop.ts';
import { tempDir } from '../support/temp.ts';

const stateDir = tempDir('life-');
const env = { FAULTLINE_PORT_BASE: '28400', FAULTLINE_STATE_DIR: stateDir };
const status = (): StackStatus => JSON.parse(cli(['status', '--json'], env).stdout) as StackStatus;
const everyPid = new Set<number>();

afterAll(() => {
  cli(['down'], env); // in case a test failed before its own down
});

describe('faultline up / status / down', () => {
  it('brings the whole stack up and reports it', () => {
    const r = cli(['up', '--resilience', 'off'], env);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('ready: gateway http://127.0.0.1:28420');
    const s = status();
    expect(s.phase).toBe('ready');
    expect(s.resilience).toBe('off');
    expect(Object.keys(s.urls)).toEqual(expect.arrayContaining(['gateway', 'prometheus', 'traces', 'toxiproxy']));
    expect(s.apiKey).toMatch(/^fl_/);
    expect(Object.keys(s.apiKeys)).toEqual(['local', 'load']);
    const names = s.components.map((c) => c.name);
    expect(names).toEqual(expect.arrayContaining(['redis', 'kafka', 'prometheus', 'jaeger', 'toxiproxy', 'catalog-0', 'catalog-1', 'orders-0', 'orders-1', 'kitchen-0', 'kitchen-1', 'gateway-0']));
    expect(s.components.every((c) => c.health === 'ready' && typeof c.pid === 'number')).toBe(true);
    expect(s.proxies.map((p) => p.name)).toEqual(['catalog-redis', 'gateway-catalog', 'gateway-orders', 'gateway-redis', 'kitchen-kafka', 'kitchen-redis', 'orders-catalog', 'orders-kafka', 'orders-redis']);
    for (const c of s.components) everyPid.add(c.pid!);
    everyPid.add(s.supervisor.pid);
  });

  it('refuses a second stack on the same ports with exit 2, naming the port', () => {
    const r = cli(['up'], { FAULTLINE_PORT_BASE: '28400', FAULTLINE_STATE_DIR: tempDir('clash-') });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/ports already in use: 28400 \(supervisor\)/);
    expect(r.stderr).toContain('--port-base');
  });

  it('restarts a killed replica, and the shop keeps serving', async () => {
    const before = status();
    const victim = before.components.find((c) => c.name === 'catalog-0')!;
    const shop = shopClient(before);
    const outcomes: number[] = [];
    let stop = false;
    const traffic = (async () => {
      while (!stop) {
        outcomes.push((await shop.menu().catch(() => ({ status: 0 }))).status);
        await sleep(50);
      }
    })();
    await sleep(300);
    process.kill(victim.pid!, 'SIGKILL');
    const restarted = await waitFor('catalog-0 to come back', async () => {
      const c = status().components.find((x) => x.name === 'catalog-0')!;
      return c.pid !== victim.pid && c.health === 'ready' && c;
    });
    // Twenty answers more at least, however quick the restart was: the ones after it are what show serving again.
    const atRestart = outcomes.length;
    await waitFor('20 answers after the restart', async () => outcomes.length >= atRestart + 20 || undefined, 15_000, 50);
    stop = true;
    await traffic;
    everyPid.add(restarted.pid!);
    expect(restarted.restarts).toBe(victim.restarts + 1);
    expect(pidAlive(victim.pid!)).toBe(false);
    const ok = outcomes.filter((s) => s === 200).length;
    expect(outcomes.length).toBeGreaterThan(20);
    // Requests in flight on the killed process's connections may fail; the rest are served by the other replica.
    expect(ok / outcomes.length).toBeGreaterThan(0.9);
    expect(outcomes.slice(-5)).toEqual([200, 200, 200, 200, 200]);
  });

  it('with resilience off, a catalog cut shows no breaker: the errors pass straight to clients', async () => {
    const s = status();
    const shop = shopClient(s);
    const gateway = s.components.find((c) => c.name === 'gateway-0')!.url;
    const toxiproxy = createToxiproxy(s.urls.toxiproxy);
    expect((await shop.menu()).status).toBe(200);
    const load = steadyLoad(() => shop.menu(), { workers: 2, pauseMs: 20 });
    await sleep(300);
    const cutAt = Date.now();
    await toxiproxy.setEnabled('gateway-catalog', false);
    await sleep(2500);
    await toxiproxy.setEnabled('gateway-catalog', true);
    const healAt = Date.now();
    await sleep(300);
    const outcomes = await load.stop();
    const duringCut = outcomes.filter((o) => o.at > cutAt + 100 && o.at < healAt - 100);
    expect(duringCut.length).toBeGreaterThan(20);
    // No breaker and no fallback: every request during the cut tried the catalog and failed.
    expect(duringCut.every((o) => o.status === 503 && o.code === 'dependency_unavailable' && /unreachable/.test(o.message ?? ''))).toBe(true);
    expect(duringCut.some((o) => o.headers?.get('x-degraded'))).toBe(false);
    const text = await (await fetch(`${gateway}/metrics`)).text();
    expect(text).not.toContain('circuit_breaker_state{');
    expect(await scrape(gateway, 'dependency_calls_total', { dependency: 'catalog', result: 'failure' })).toBeGreaterThanOrEqual(duringCut.length);
    // and no rate limit either
    expect((await shop.get(`ord_${'0'.repeat(32)}`)).headers.get('ratelimit-limit')).toBeNull();
  });

  it('fails the catalog-outage drill with a clear verification message when resilience is off', () => {
    const reports = tempDir('off-reports-');
    const r = cli(['drill', 'run', join(repoRoot, 'chaos/drills/catalog-outage.yaml'), '--report-dir', reports], env);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('FAIL: drill catalog-outage');
    // No breaker exists to open, and no degraded menu is ever served.
    expect(r.stdout).toContain("✘ the gateway's catalog breaker opens soon after the cut: expected readings of catalog-breaker during fault; observed no readings of catalog-breaker during fault");
    expect(r.stdout).toMatch(/✘ the menu is served degraded while the catalog is away: expected .*; observed (no readings|changed by 0)/);
    const journal = JSON.parse(readFileSync(join(reports, 'catalog-outage', 'journal.json'), 'utf8')) as { verdict: string; status: string };
    expect(journal).toMatchObject({ verdict: 'fail', status: 'completed' });
    expect(readFileSync(join(reports, 'catalog-outage', 'junit.xml'), 'utf8')).toMatch(/<failure message="expected/);
  }, 240_000);

  it('fails kitchen-worker-pause when resilience is off: a 30 s session outlasts the 10 s freeze, so nothing evicts the worker', () => {
    const reports = tempDir('off-pause-');
    const r = cli(['drill', 'run', join(repoRoot, 'chaos/drills/kitchen-worker-pause.yaml'), '--report-dir', reports], env);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('FAIL: drill kitchen-worker-pause');
    expect(r.stdout).toMatch(/✘ the group evicts the frozen worker within 1\.5 session timeouts \(as read, 5\.5 s\): expected .*; observed never; last 2, range 2\.\.2/);
    // Late, not lost: the frozen worker's orders wait for it, and it completes them once thawed.
    const journal = JSON.parse(readFileSync(join(reports, 'kitchen-worker-pause', 'journal.json'), 'utf8')) as { verdict: string; ledger: { lost: number } };
    expect(journal).toMatchObject({ verdict: 'fail', ledger: { lost: 0 } });
  }, 240_000);

  it('refuses a malformed service setting given with --set: exit 2, naming it, and nothing left running', () => {
    const clashFree = { FAULTLINE_PORT_BASE: '28600', FAULTLINE_STATE_DIR: tempDir('set-') };
    const r = cli(['up', '--set', 'gateway.RATE_LIMIT_RPS=fast'], clashFree);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('gateway-0 refused its settings');
    expect(r.stderr).toMatch(/RATE_LIMIT_RPS="fast"/);
    expect(JSON.parse(cli(['status', '--json'], clashFree).stdout)).toEqual({ phase: 'down' });
  });

  it('stops every process it started, by pid, thawing a paused one first', async () => {
    const recorded = JSON.parse(readFileSync(join(stateDir, 'processes.json'), 'utf8')) as { processes: Array<{ pid: number }> };
    for (const p of recorded.processes) everyPid.add(p.pid);
    const paused = await controlFetch(status(), stateDir)('/faults', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ drill: 'held', kind: 'pause', replicas: ['kitchen-1'], durationMs: 60_000 }) });
    expect(paused.status).toBe(201);
    const r = cli(['down'], env);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('stopped');
    expect(r.stdout).not.toContain('killing leftover');
    const alive = [...everyPid].filter(pidAlive);
    expect(alive).toEqual([]);
    expect(JSON.parse(cli(['status', '--json'], env).stdout)).toEqual({ phase: 'down' });
    // Thawed before it was stopped, so that it heard its SIGTERM.
    const faults = JSON.parse(readFileSync(join(stateDir, 'faults.json'), 'utf8')) as Array<{ drill: string; removedBy?: string; evidence: { resumed?: Array<{ state: string }> } }>;
    expect(faults.find((f) => f.drill === 'held')).toMatchObject({ removedBy: 'rollback', evidence: { resumed: [{ state: expect.stringMatching(/^[RS]$/) }] } });
  });
});
