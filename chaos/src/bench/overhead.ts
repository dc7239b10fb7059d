// Phase 4: what the gateway's middleware costs. The full gateway (auth, Redis rate limit, admission control,
// deadline, breaker, metrics, and tracing with the batch span processor) and a bare pass-through build
// (services/gateway/src/bare.ts) take the same order traffic to the same orders replicas, one after the other.
// On a 2-core machine every process shares the CPU, so the fair comparison is the gateway's own throughput per
// CPU-second (what one gateway core could serve), beside the 2xx/s each achieved.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { freePort } from '../core/host.ts';
import { portsFor } from '../platforms/local/layout.ts';
import { projectRoot } from '../core/paths.ts';
import { runStep, sleep, type BenchTarget } from './step.ts';

export interface OverheadSide {
  label: string;
  offeredRps: number;
  servedRps: number;
  gatewayCpuS: number;
  /** 2xx per gateway CPU-second: the throughput of one gateway core on this path. */
  perCoreRps: number;
  admittedP99Ms?: number;
  k6Limits: string[];
}
export interface OverheadResult {
  route: string;
  full: OverheadSide;
  bare: OverheadSide;
  /** 1 − full/bare, on per-core throughput: the share of throughput the middleware costs. */
  overheadFraction?: number;
}

async function startBare(portBase: number) {
  const port = await freePort();
  const child = spawn(process.execPath, [join(projectRoot, 'services/gateway/src/bare.ts')], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', ORDERS_URL: `http://127.0.0.1:${portsFor(portBase).proxies['gateway-orders']}` },
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 60; i++) {
    if (child.exitCode !== null) throw new Error(`the bare gateway exited (${child.exitCode}): ${stderr}`);
    if ((await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(500) }).catch(() => undefined))?.ok) return { url, pid: child.pid!, child };
    await sleep(250);
  }
  child.kill('SIGKILL');
  throw new Error(`the bare gateway did not answer within 15 s: ${stderr}`);
}

export async function measureOverhead(t: BenchTarget, rate: number, stepS: number, print: (l: string) => void): Promise<OverheadResult> {
  const side = (s: Awaited<ReturnType<typeof runStep>>): OverheadSide => ({
    label: s.label,
    offeredRps: s.offeredRps,
    servedRps: Math.round((s.ok / s.durationS) * 10) / 10,
    gatewayCpuS: s.gatewayCpuS,
    perCoreRps: s.gatewayCpuS > 0 ? Math.round(s.ok / s.gatewayCpuS) : 0,
    ...(s.admittedP99Ms !== undefined ? { admittedP99Ms: s.admittedP99Ms } : {}),
    k6Limits: s.k6Limits,
  });
  const full = side(await runStep(t, 'overhead-full', rate, stepS));
  print(`  full gateway: ${full.servedRps}/s served, ${full.gatewayCpuS} gateway CPU-s → ${full.perCoreRps} orders per gateway core-second`);
  const bare = await startBare(t.portBase);
  try {
    const b = side(await runStep(t, 'overhead-bare', rate, stepS, { gatewayUrl: bare.url, gatewayPid: bare.pid }));
    print(`  bare gateway: ${b.servedRps}/s served, ${b.gatewayCpuS} gateway CPU-s → ${b.perCoreRps} orders per gateway core-second`);
    const overheadFraction = b.perCoreRps > 0 ? Math.round((1 - full.perCoreRps / b.perCoreRps) * 1000) / 1000 : undefined;
    return { route: 'POST /api/orders', full, bare: b, ...(overheadFraction !== undefined ? { overheadFraction } : {}) };
  } finally {
    bare.child.kill('SIGTERM');
    for (let i = 0; i < 20 && bare.child.exitCode === null && bare.child.signalCode === null; i++) await sleep(100);
    if (bare.child.exitCode === null && bare.child.signalCode === null) bare.child.kill('SIGKILL');
  }
}
