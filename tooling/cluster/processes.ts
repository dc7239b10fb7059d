// The test clusters' processes: each started with its log in a folder, recorded on disk (pid and command), so that
// whoever stops them, even another process, stops exactly these by pid, in reverse order, and knows a recycled pid
// from its own.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sleep } from '../../chaos/src/core/time.ts';

export interface Recorded {
  name: string;
  pid: number;
  /** argv[0] of the process as started: checked before any signal. */
  command: string;
}

/** Alive and not a zombie: detached daemons are reaped by whoever adopted them, not by us. */
export function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

const commandOf = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0];
  } catch {
    return undefined;
  }
};

export function tail(file: string, lines = 20) {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

export interface LaunchOptions {
  /** Prefix for the command, e.g. nsenter into a node's namespaces (it execs, so the pid stays the program's). */
  wrap?: string[];
  /** Outlive the starting process (a node that a command brings up and another brings down). */
  detached?: boolean;
  env?: NodeJS.ProcessEnv;
}

export class ProcessGroup {
  readonly records: Recorded[];
  readonly logsDir: string;
  private readonly file: string;

  constructor(dir: string, logsDir: string) {
    this.logsDir = logsDir;
    this.file = join(dir, 'processes.json');
    this.records = existsSync(this.file) ? (JSON.parse(readFileSync(this.file, 'utf8')) as Recorded[]) : [];
  }

  logOf(name: string) {
    return join(this.logsDir, `${name}.log`);
  }

  launch(name: string, bin: string, args: string[], opts: LaunchOptions = {}): number {
    const fd = openSync(this.logOf(name), 'a');
    const [command, ...rest] = [...(opts.wrap ?? []), bin, ...args];
    const child = spawn(command!, rest, { stdio: ['ignore', fd, fd], detached: opts.detached ?? false, env: opts.env ?? process.env });
    closeSync(fd);
    if (opts.detached) child.unref();
    if (child.pid === undefined) throw new Error(`${name}: ${bin} did not start`);
    this.records.push({ name, pid: child.pid, command: bin });
    writeFileSync(this.file, JSON.stringify(this.records, null, 2));
    return child.pid;
  }

  /** The first recorded process that is no longer running, with the tail of its log. */
  dead(): string | undefined {
    const gone = this.records.find((r) => !running(r.pid));
    return gone && `${gone.name} (pid ${gone.pid}) exited:\n${tail(this.logOf(gone.name))}`;
  }

  /** Polls `probe` until it returns something truthy, failing at once if a process died. */
  async waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined | false>): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const dead = this.dead();
      if (dead) throw new Error(`while waiting for ${what}: ${dead}`);
      const value = await probe().catch(() => undefined);
      if (value) return value;
      if (Date.now() > deadline) throw new Error(`${what} not within ${timeoutMs / 1000} s; logs in ${this.logsDir}`);
      await sleep(250);
    }
  }

  /** SIGTERM, then SIGKILL after `graceMs`, in reverse start order (or in the groups given); only processes still running their recorded command. */
  async stop(graceMs = 10_000, order: string[][] = [this.records.map((r) => r.name).reverse()]): Promise<string[]> {
    const left: string[] = [];
    for (const names of order) {
      await Promise.all(
        this.records
          .filter((r) => names.includes(r.name))
          .map(async (r) => {
            if (!running(r.pid) || commandOf(r.pid) !== r.command) return;
            process.kill(r.pid, 'SIGTERM');
            for (let waited = 0; waited < graceMs && running(r.pid); waited += 100) await sleep(100);
            if (running(r.pid)) process.kill(r.pid, 'SIGKILL');
            for (let waited = 0; waited < 5000 && running(r.pid); waited += 100) await sleep(100);
            if (running(r.pid)) left.push(`${r.name} (pid ${r.pid})`);
          }),
      );
    }
    return left;
  }
}
