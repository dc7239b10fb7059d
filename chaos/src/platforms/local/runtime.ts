import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../../core/errors.ts';
import { isAlive, portFree } from '../../core/host.ts';
import { sleep } from '../../core/time.ts';
import { allPorts, ephemeralOverlap, paths, portsFor, type RuntimeOptions } from './layout.ts';
import { bearer, createSecret, readControlToken, secretFile, stackSecrets } from './stack-secrets.ts';
import { toolPaths } from './tools.ts';

interface StateFile {
  supervisorPid: number;
  options: RuntimeOptions;
  apiKeys: Record<string, string>;
  startedAt: string;
}

type Status = Awaited<ReturnType<import('./supervisor.ts').Supervisor['status']>>;


function readState(stateDir: string): StateFile | undefined {
  const file = paths(stateDir).state;
  if (!existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, 'utf8')) as StateFile;
}

/** The stack's status from its supervisor, or undefined when none answers (the token is read from the state directory). */
export async function fetchStatus(opts: Pick<RuntimeOptions, 'portBase' | 'stateDir'>): Promise<Status | undefined> {
  const token = readControlToken(opts.stateDir);
  if (!token) return undefined;
  const res = await fetch(`http://127.0.0.1:${portsFor(opts.portBase).control}/status`, { headers: bearer(token), signal: AbortSignal.timeout(3000) }).catch(() => undefined);
  return res?.ok ? ((await res.json()) as Status) : undefined;
}

/** The kernel's range for the local ports of outgoing connections, where Linux says. */
function ephemeralPortRange(): [number, number] | undefined {
  try {
    const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    return Number.isInteger(low) && Number.isInteger(high) ? [low!, high!] : undefined;
  } catch {
    return undefined;
  }
}

/** Starts the supervisor detached and waits until every component is ready, printing progress. */
export async function up(opts: RuntimeOptions, print: (line: string) => void = console.log): Promise<Status> {
  const running = readState(opts.stateDir);
  if (running && isAlive(running.supervisorPid)) {
    const status = await fetchStatus(running.options);
    if (status) {
      print(`already running (supervisor pid ${running.supervisorPid}); \`faultline down\` stops it`);
      return status;
    }
  }
  for (const [tool, file] of Object.entries(toolPaths)) {
    if (file.startsWith('/') && !existsSync(file)) throw new Error(`${tool} is not installed at ${file}: run \`npm run setup\``);
  }
  const busy: string[] = [];
  for (const [what, port] of allPorts(opts)) if (!(await portFree(port))) busy.push(`${port} (${what})`);
  if (busy.length > 0) {
    throw new UsageError(`ports already in use: ${busy.join(', ')}. Stop what holds them, or choose another base with --port-base or FAULTLINE_PORT_BASE (now ${opts.portBase}).`);
  }
  const range = ephemeralPortRange();
  const overlap = range ? ephemeralOverlap(allPorts(opts).map(([, port]) => port), range) : [];
  if (range && overlap.length > 0) {
    print(`warning: ${overlap.length} of the stack's ports (${overlap[0]}…) lie in the kernel's ephemeral range (${range.join('–')}), which outgoing connections draw from; one may be taken when the stack comes to listen on it. A port base below ${range[0] - 100} avoids that.`);
  }
  const files = paths(opts.stateDir);
  mkdirSync(files.logs, { recursive: true });
  // Two clients, so that one can be rate-limited while the other is served.
  const apiKeys = Object.fromEntries(['local', 'load'].map((client) => [client, `fl_${randomBytes(16).toString('hex')}`]));
  for (const secret of stackSecrets) createSecret(opts.stateDir, secret);
  const log = openSync(join(files.logs, 'supervisor.log'), 'w');
  const daemon = spawn(process.execPath, [join(import.meta.dirname, 'daemon.ts')], {
    detached: true,
    stdio: ['ignore', log, log],
    env: { ...process.env, FAULTLINE_RUNTIME_OPTIONS: JSON.stringify(opts), FAULTLINE_API_KEYS: JSON.stringify(apiKeys) },
  });
  daemon.unref();
  let daemonExit: number | null = null;
  daemon.once('exit', (code) => (daemonExit = code));
  const state: StateFile = { supervisorPid: daemon.pid!, options: opts, apiKeys, startedAt: new Date().toISOString() };
  // It holds the API keys: readable by this user alone.
  rmSync(files.state, { force: true });
  writeFileSync(files.state, JSON.stringify(state, null, 2), { mode: 0o600 });
  print(`supervisor pid ${daemon.pid}; logs in ${files.logs}`);

  const seen = new Map<string, string>();
  const deadline = Date.now() + 240_000;
  while (Date.now() < deadline) {
    await sleep(500);
    if (!isAlive(daemon.pid!)) {
      const tail = readFileSync(join(files.logs, 'supervisor.log'), 'utf8').trim().split('\n').slice(-15).join('\n');
      await down(opts, () => undefined);
      if (daemonExit === 2) throw new UsageError(`a service refused its settings:\n${tail}`);
      throw new Error(`the supervisor exited while starting:\n${tail}`);
    }
    const status = await fetchStatus(opts);
    if (!status) continue;
    for (const c of status.components) {
      if (seen.get(c.name) !== c.health) {
        seen.set(c.name, c.health);
        print(`  ${c.name.padEnd(12)} ${c.health}${c.pid ? ` (pid ${c.pid})` : ''}`);
      }
    }
    if (status.phase === 'ready') return status;
  }
  await down(opts, () => undefined);
  throw new Error(`the stack was not ready within 240 s; see ${files.logs}`);
}

/** Stops the supervisor, then any process it recorded that is still alive, by pid. */
export async function down(opts: Pick<RuntimeOptions, 'stateDir'>, print: (line: string) => void = console.log): Promise<number> {
  const files = paths(opts.stateDir);
  const state = readState(opts.stateDir);
  if (state && isAlive(state.supervisorPid)) {
    print(`stopping supervisor pid ${state.supervisorPid}`);
    process.kill(state.supervisorPid, 'SIGTERM');
    for (let i = 0; i < 120 && isAlive(state.supervisorPid); i++) await sleep(250);
    if (isAlive(state.supervisorPid)) process.kill(state.supervisorPid, 'SIGKILL');
  }
  let killed = 0;
  if (existsSync(files.processes)) {
    const { processes } = JSON.parse(readFileSync(files.processes, 'utf8')) as { processes: Array<{ name: string; pid: number; command: string }> };
    for (const p of processes) {
      if (isAlive(p.pid) && ownedBy(p.pid, p.command)) {
        print(`  killing leftover ${p.name} (pid ${p.pid})`);
        process.kill(p.pid, 'SIGKILL');
        killed++;
      }
    }
    rmSync(files.processes, { force: true });
  }
  rmSync(files.state, { force: true });
  for (const secret of stackSecrets) rmSync(secretFile(opts.stateDir, secret), { force: true });
  print(state ? 'stopped' : 'nothing was running');
  return killed;
}

/** Guards against a recycled pid: only a process still running the recorded command is ours. */
function ownedBy(pid: number, command: string) {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0] === command;
  } catch {
    return false;
  }
}

export async function status(opts: Pick<RuntimeOptions, 'stateDir' | 'portBase'>) {
  const state = readState(opts.stateDir);
  if (!state || !isAlive(state.supervisorPid)) return undefined;
  return fetchStatus(state.options);
}
