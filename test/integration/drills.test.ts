// The showcase drills end to end on the real stack, the controller's guardrails, and faults that outlive a killed controller.
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { PNG } from 'pngjs';
import { chromiumPath } from '../../tooling/toolchain.ts';
import { createToxiproxy } from '../../chaos/src/platforms/local/toxiproxy.ts';
import { showcaseDrills } from '../../chaos/src/commands/demo.ts';
import type { Journal } from '../../chaos/src/drill/runner.ts';
import { procStat } from '../../chaos/src/core/host.ts';
import { cli, controlFetch, repoRoot, sleep, waitFor } from '../support/shop.ts';
import { tempDir } from '../support/temp.ts';

const stack = inject('stack');
const env = { FAULTLINE_PORT_BASE: String(stack.portBase), FAULTLINE_STATE_DIR: inject('stateDir') };
const reports = tempDir('reports-');
const control = controlFetch(stack, env.FAULTLINE_STATE_DIR);
const toxiproxy = createToxiproxy(stack.urls.toxiproxy);
const faults = async () => (await (await control('/faults')).json()) as Array<{ id: string; drill: string; recoveredAt?: string; removedBy?: string; expiresAt: string; edge: string }>;
const journalOf = (name: string) => JSON.parse(readFileSync(join(reports, name, 'journal.json'), 'utf8')) as Journal;

describe('the showcase drills', () => {
  it.each(showcaseDrills)(
    '%s passes, and its journal shows no order lost or duplicated',
    (name) => {
      const r = cli(['drill', 'run', join(repoRoot, 'chaos/drills', `${name}.yaml`), '--report-dir', reports], env);
      const journal = journalOf(name);
      const failed = journal.verifications.filter((v) => !v.ok).map((v) => `${v.name}: expected ${v.expected}; observed ${v.observed}`);
      expect(failed).toEqual([]);
      expect(r.code).toBe(0);
      expect(journal).toMatchObject({ status: 'completed', verdict: 'pass', ledger: { lost: 0, duplicated: 0 } });
      expect(journal.ledger!.accepted).toBeGreaterThan(100);
      expect(journal.faults.every((f) => f.effective && f.recoveredAt)).toBe(true);
      expect(r.stdout).toMatch(/\[method +\d+\.\d s\]/); // live progress
      for (const file of ['junit.xml', 'summary.md', 'report.html']) expect(readFileSync(join(reports, name, file), 'utf8').length).toBeGreaterThan(100);
      expect(readFileSync(join(reports, name, 'junit.xml'), 'utf8')).toContain('failures="0"');
    },
    240_000,
  );
});

describe('the gray-failure drill', () => {
  it('kitchen-worker-pause passes: the frozen worker is evicted, the lag drains, it rejoins thawed, and the ledger fences its stale work', () => {
    const r = cli(['drill', 'run', join(repoRoot, 'chaos/drills/kitchen-worker-pause.yaml'), '--report-dir', reports], env);
    const journal = journalOf('kitchen-worker-pause');
    const failed = journal.verifications.filter((v) => !v.ok).map((v) => `${v.name}: expected ${v.expected}; observed ${v.observed}`);
    expect(failed).toEqual([]);
    expect(r.code).toBe(0);
    expect(journal).toMatchObject({ status: 'completed', verdict: 'pass', ledger: { lost: 0, duplicated: 0, unexpected: 0 } });
    expect(journal.ledger!.accepted).toBeGreaterThan(300);
    const [pause] = journal.faults;
    expect(pause).toMatchObject({ kind: 'pause', target: expect.stringMatching(/^kitchen-\d$/), effective: true, evidence: { stopped: [{ state: 'T' }], removed: { running: true } } });
    expect(r.stdout).toMatch(/pause kitchen-\d: until [\d:.]+: kitchen-\d pid \d+ stopped/);
  }, 240_000);
});

describe('the controller', () => {
  it('prints the plan on --dry-run and touches nothing', async () => {
    const before = await faults();
    const r = cli(['drill', 'run', join(repoRoot, 'chaos/drills/catalog-outage.yaml'), '--dry-run'], env);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('network-partition gateway -> catalog (both) for 10s');
    expect(r.stdout).toContain('nothing was touched (dry run)');
    expect(await faults()).toEqual(before);
  });

  it('refuses, with exit 2 and before any fault, to take every replica without mode: all', async () => {
    const file = join(reports, 'greedy.yaml');
    writeFileSync(file, `name: greedy
steadyState: { probes: [{ name: menu, http: { path: /api/menu, apiKey: false } }] }
method:
  - fault: { kind: pod-kill, selector: { service: catalog }, mode: fixed, value: 2 }
`);
    const before = stack.components.filter((c) => c.service === 'catalog').map((c) => c.pid);
    const r = cli(['drill', 'run', file, '--report-dir', reports], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('pod-kill: mode fixed would take every replica of catalog (2); say mode: all if that is meant');
    const status = (await (await control('/status')).json()) as typeof stack;
    expect(status.components.filter((c) => c.service === 'catalog').map((c) => c.pid)).toEqual(before);
  });

  it('answers bad requests to the fault agent with 4xx', async () => {
    const post = (path: string, body: unknown) => control(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const bad = await post('/faults', { drill: 'x', kind: 'latency', edge: 'gateway-kitchen', direction: 'up', durationMs: 0 });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string; message: string } }).error.message).toMatch(/edge[\s\S]*direction[\s\S]*durationMs/);
    expect((await control('/faults/flt-nope', { method: 'DELETE' })).status).toBe(404);
    expect((await post('/kill', { replicas: ['kitchen-9'] })).status).toBe(404);
    expect((await post('/kill', { replicas: [] })).status).toBe(400);
    const pause = (body: object) => post('/faults', { drill: 'x', kind: 'pause', replicas: ['kitchen-0'], durationMs: 1000, ...body });
    expect((await pause({ replicas: ['kitchen-9'] })).status).toBe(404);
    const empty = await pause({ replicas: [] });
    expect(empty.status).toBe(400);
    expect(((await empty.json()) as { error: { message: string } }).error.message).toMatch(/replicas/);
    expect((await pause({ replicas: ['kitchen-0; rm'] })).status).toBe(400);
    expect((await pause({ durationMs: 0 })).status).toBe(400);
    // Bodies that are not JSON or too large, and routes or methods it does not have: JSON errors, never HTML.
    const raw = (path: string, init: RequestInit) => control(path, init).then(async (r) => ({ status: r.status, allow: r.headers.get('allow'), type: r.headers.get('content-type'), body: (await r.json()) as { error: { code: string } } }));
    expect(await raw('/faults', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"drill": ' })).toMatchObject({ status: 400, body: { error: { code: 'malformed_json' } } });
    expect(await raw('/faults', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ drill: 'x'.repeat(20_000) }) })).toMatchObject({ status: 413, body: { error: { code: 'body_too_large' } } });
    expect(await raw('/faults', { method: 'PUT' })).toMatchObject({ status: 405, allow: 'GET, HEAD, POST', body: { error: { code: 'method_not_allowed' } } });
    expect(await raw('/nothing', { method: 'GET' })).toMatchObject({ status: 404, type: expect.stringMatching(/json/), body: { error: { code: 'route_not_found' } } });
    // The links between Redis nodes exist only in the HA topology; this stack is lean.
    const store = await post('/faults', { drill: 'x', kind: 'network-partition', edge: 'redis-redis', direction: 'both', durationMs: 1000, nodes: ['redis-0'] });
    expect(store.status).toBe(404);
    expect(((await store.json()) as { error: { message: string } }).error.message).toContain('exists only in the HA topology (faultline up --topology ha); this stack is lean');
    const badNode = await post('/faults', { drill: 'x', kind: 'network-partition', edge: 'redis-redis', direction: 'both', durationMs: 1000, nodes: ['mysql-0'] });
    expect(badNode.status).toBe(400);
    expect(((await badNode.json()) as { error: { message: string } }).error.message).toContain('expected a Redis or Kafka node such as redis-0');
    const otherStore = await post('/faults', { drill: 'x', kind: 'network-partition', edge: 'redis-redis', direction: 'both', durationMs: 1000, nodes: ['kafka-0'] });
    expect(otherStore.status).toBe(400);
    expect(((await otherStore.json()) as { error: { message: string } }).error.message).toContain("nodes must be the edge's own store's");
    expect((await faults()).filter((f) => f.drill === 'x')).toEqual([]);
  });

  it('thaws a paused replica by its deadline, with no drill left to ask', async () => {
    // Now, not at set-up: the showcase drills have killed and replaced kitchen workers since.
    const kitchen = ((await (await control('/status')).json()) as typeof stack).components.find((c) => c.name === 'kitchen-0' && c.health === 'ready')!;
    const res = await control('/faults', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ drill: 'deadline-thaw', kind: 'pause', replicas: ['kitchen-0'], durationMs: 1500 }) });
    expect(res.status).toBe(201);
    const fault = (await res.json()) as { id: string; evidence: { stopped: Array<{ pid: number; state: string }> } };
    expect(fault.evidence.stopped).toEqual([{ name: 'kitchen-0', pid: kitchen.pid, state: 'T' }]);
    expect(readFileSync(`/proc/${kitchen.pid}/stat`, 'utf8')).toMatch(/\) T /);
    const thawed = await waitFor('the pause to end by its deadline', async () => (await faults()).find((f) => f.id === fault.id && f.recoveredAt), 10_000, 100);
    expect(thawed.removedBy).toBe('deadline');
    expect(readFileSync(`/proc/${kitchen.pid}/stat`, 'utf8')).not.toMatch(/\) T /);
    // Frozen 1.5 s, well inside the liveness allowance: the same process goes on, not a replacement.
    await waitFor('kitchen-0 to be ready again', async () => {
      const s = (await (await control('/status')).json()) as typeof stack;
      return s.components.find((c) => c.name === 'kitchen-0' && c.pid === kitchen.pid && c.health === 'ready');
    }, 30_000, 250);
  });

  it('rolls back on Ctrl-C: the journal says interrupted, and the fault is gone long before its deadline', async () => {
    const file = join(reports, 'interrupted.yaml');
    writeFileSync(file, `name: interrupted
steadyState: { probes: [{ name: menu, http: { path: /api/menu, apiKey: false } }] }
method:
  - fault: { kind: network-partition, selector: { service: kitchen }, target: { service: redis }, direction: to, duration: 60s }
`);
    const controller = spawn(process.execPath, [join(repoRoot, 'chaos/bin/faultline.js'), 'drill', 'run', file, '--report-dir', reports], { env: { ...process.env, ...env }, stdio: 'ignore' });
    const exited = new Promise<number | null>((resolve) => controller.once('exit', resolve));
    const fault = await waitFor('the partition to be injected', async () => (await faults()).find((f) => f.drill === 'interrupted' && !f.recoveredAt), 30_000, 100);
    controller.kill('SIGINT');
    expect(await exited).toBe(1);
    const journal = journalOf('interrupted');
    expect(journal).toMatchObject({ status: 'interrupted', verdict: 'fail', reason: 'SIGINT received' });
    const removed = (await faults()).find((f) => f.id === fault.id)!;
    expect(removed.removedBy).toBe('rollback');
    expect(Date.parse(removed.expiresAt) - Date.parse(removed.recoveredAt!)).toBeGreaterThan(50_000);
  });

  it('stops, rolls back and reports aborted when an abort condition fails twice', () => {
    const file = join(reports, 'aborted.yaml');
    writeFileSync(file, `name: aborted
steadyState: { probes: [{ name: menu, http: { path: /api/menu, apiKey: false } }] }
abortConditions: [{ name: never-true, promql: vector(0), tolerance: { min: 1 } }]
method:
  - wait: 60s
`);
    const started = Date.now();
    const r = cli(['drill', 'run', file, '--report-dir', reports], env);
    expect(r.code).toBe(1);
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(journalOf('aborted')).toMatchObject({ status: 'aborted', verdict: 'fail', reason: 'abort condition never-true out of tolerance (0)' });
    expect(r.stdout).toContain('FAIL: drill aborted aborted on local (abort condition never-true out of tolerance (0))');
  });

  it("stops at the drill's timeout, rolls back and reports interrupted", () => {
    const file = join(reports, 'too-long.yaml');
    writeFileSync(file, `name: too-long
timeout: 3s
steadyState: { probes: [{ name: menu, http: { path: /api/menu, apiKey: false } }] }
method:
  - fault: { kind: latency, selector: { service: gateway }, target: { service: orders }, latency: 50ms, duration: 60s }
`);
    const r = cli(['drill', 'run', file, '--report-dir', reports], env);
    expect(r.code).toBe(1);
    const journal = journalOf('too-long');
    expect(journal).toMatchObject({ status: 'interrupted', verdict: 'fail', reason: "the drill's timeout of 3 s passed" });
    expect(journal.faults[0]).toMatchObject({ kind: 'latency', target: 'gateway-orders', effective: true });
    expect(journal.faults[0]!.recoveredAt).toBeDefined();
  });

  it('leaves a fault that ends by its deadline, and no load running, when the controller is SIGKILLed mid-drill', async () => {
    const file = join(reports, 'controller-kill.yaml');
    writeFileSync(file, `name: controller-kill
steadyState: { probes: [{ name: menu, http: { path: /api/menu, apiKey: false } }] }
method:
  - load: { script: orders.js, rate: 5, duration: 60s }
  - fault: { kind: network-partition, selector: { service: orders }, target: { service: redis }, direction: both, duration: 6s }
`);
    const controller = spawn(process.execPath, [join(repoRoot, 'chaos/bin/faultline.js'), 'drill', 'run', file, '--report-dir', reports], { env: { ...process.env, ...env }, stdio: 'ignore' });
    const fault = await waitFor('the partition to be injected', async () => (await faults()).find((f) => f.drill === 'controller-kill' && !f.recoveredAt), 30_000, 100);
    const k6 = childrenOf(controller.pid!).find((pid) => readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'k6');
    expect(k6, 'the drill runs its load in a k6 process of its own').toBeDefined();
    controller.kill('SIGKILL');
    const killedAt = Date.now();
    // Its load dies with it, not at the end of its 60 s.
    await waitFor('the k6 load to stop', async () => !running(k6!) || undefined, 2000, 50);
    console.info(`k6 load gone ${Date.now() - killedAt} ms after its controller was SIGKILLed`);
    await sleep(500);
    const proxy = (await toxiproxy.list()).find((p) => p.name === 'orders-redis')!;
    expect(proxy.toxics?.map((t) => t.name).sort()).toEqual([`${fault.id}-downstream`, `${fault.id}-upstream`]);
    const healed = await waitFor('the fault to end by its deadline', async () => (await faults()).find((f) => f.id === fault.id && f.recoveredAt), 15_000, 100);
    expect(healed.removedBy).toBe('deadline');
    expect(Date.parse(healed.recoveredAt!) - Date.parse(fault.expiresAt)).toBeLessThan(1000);
    expect((await toxiproxy.list()).find((p) => p.name === 'orders-redis')!.toxics).toEqual([]);
    const cleanup = cli(['cleanup'], env);
    expect(cleanup.code).toBe(0);
    expect(cleanup.stdout).toContain('no fault to remove');
  });
});

/** The pids whose parent is pid. */
function childrenOf(pid: number) {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map(Number)
    .filter((p) => procStat(p)?.[1] === String(pid));
}
/** Alive and not a zombie. */
const running = (pid: number) => (procStat(pid)?.[0] ?? 'Z') !== 'Z';

describe('the HTML report', () => {
  it('opens in headless Chromium and shows its charts, with the fault windows shaded', () => {
    const file = join(reports, 'report-check.yaml');
    writeFileSync(file, `name: report-check
steadyState: { probes: [{ name: menu, http: { path: /api/menu, apiKey: false } }] }
probes: [{ name: breaker, metric: { service: gateway, name: circuit_breaker_state, labels: { dependency: catalog } }, tolerance: { max: 0 } }]
method:
  - load: { script: orders.js, rate: 15, duration: 16s }
  - wait: 3s
  - fault: { kind: network-partition, selector: { service: gateway }, target: { service: catalog }, duration: 6s }
  - wait: 5s
`);
    expect(cli(['drill', 'run', file, '--report-dir', reports], env).code).toBe(0);
    const html = readFileSync(join(reports, 'report-check', 'report.html'), 'utf8');
    expect(html).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org)/); // self-contained
    expect(html.match(/<svg class="chart"/g)?.length).toBeGreaterThanOrEqual(6);
    const png = join(reports, 'report-check.png');
    const r = spawnSync(chromiumPath, ['--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', '--window-size=1000,2600', `--screenshot=${png}`, `file://${join(reports, 'report-check', 'report.html')}`], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    const image = PNG.sync.read(readFileSync(png));
    let series = 0;
    let shaded = 0;
    for (let i = 0; i < image.data.length; i += 4) {
      const [red, green, blue] = [image.data[i]!, image.data[i + 1]!, image.data[i + 2]!];
      if (Math.abs(red - 37) < 40 && Math.abs(green - 99) < 40 && Math.abs(blue - 235) < 40) series++; // the first series' blue
      if (red > 235 && green > 180 && green < 240 && blue < 210 && red - blue > 40) shaded++; // the amber fault bands
    }
    // Lines of several charts, and a band across each chart: far more than the legend's swatches alone.
    expect(series).toBeGreaterThan(2000);
    expect(shaded).toBeGreaterThan(20_000);
  });
});
