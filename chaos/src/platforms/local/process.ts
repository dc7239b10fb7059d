import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { EventEmitter } from 'node:events';

export interface ProcessSpec {
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  logFile: string;
  /** Resolves when the process serves; polled after each start. */
  ready: () => Promise<boolean>;
  /** Liveness, as the chart's livenessProbe asks a kubelet: every 10 s; three misses in a row and the process is killed and restarted. */
  live?: () => Promise<boolean>;
  stopTimeoutMs?: number;
  /** A fixed wait before a restart, instead of the backoff from 500 ms. */
  restartDelayMs?: number;
}

export type Health = 'starting' | 'ready' | 'unready' | 'restarting' | 'stopped' | 'failed';

/** The exit code with which a service refuses a malformed setting: restarting it would not help. */
const configErrorExit = 2;

const backoff = (restarts: number) => Math.min(500 * 2 ** Math.max(0, restarts - 1), 8000);

/** The chart's livenessProbe (periodSeconds 10, failureThreshold 3): a process frozen for seconds is not killed for it. */
export const liveness = { periodMs: 10_000, failureThreshold: 3 };

/** A process kept running like a pod's container: restarted with backoff when it exits or fails liveness three times. */
export class ManagedProcess extends EventEmitter {
  readonly spec: ProcessSpec;
  child?: ChildProcess;
  health: Health = 'stopped';
  restarts = 0;
  private stopping = false;
  private livenessMisses = 0;
  private livenessCheckedAt = 0;
  private probing = false;
  private timer?: NodeJS.Timeout;

  constructor(spec: ProcessSpec) {
    super();
    this.spec = spec;
  }

  get pid() {
    return this.child?.exitCode === null && this.child.signalCode === null ? this.child.pid : undefined;
  }

  start() {
    this.stopping = false;
    const log = openSync(this.spec.logFile, 'a');
    const child = spawn(this.spec.command, this.spec.args, { env: { ...process.env, ...this.spec.env }, stdio: ['ignore', log, log] });
    closeSync(log);
    this.child = child;
    this.health = 'starting';
    this.livenessMisses = 0;
    this.livenessCheckedAt = 0;
    this.emit('spawn', child.pid);
    child.once('error', (err) => this.emit('log', `${this.spec.name}: ${err.message}`));
    child.once('exit', (code, signal) => {
      this.emit('exit', { pid: child.pid, code, signal });
      if (this.stopping) {
        this.health = 'stopped';
        return;
      }
      if (code === configErrorExit && this.health === 'starting') {
        this.health = 'failed';
        this.emit('log', `${this.spec.name} (pid ${child.pid}) refused its configuration (exit 2); not restarting it. See ${this.spec.logFile}`);
        return;
      }
      this.health = 'restarting';
      this.restarts++;
      const delay = this.spec.restartDelayMs ?? backoff(this.restarts);
      this.emit('log', `${this.spec.name} (pid ${child.pid}) exited ${signal ?? code}; restarting in ${delay} ms`);
      this.timer = setTimeout(() => this.start(), delay);
    });
  }

  /** One probe round: readiness always, liveness each period once the process has been ready. A round still running is not doubled. */
  async probe() {
    const child = this.child;
    if (this.stopping || !child || this.pid === undefined || this.probing) return;
    this.probing = true;
    try {
      await this.probeOnce(child);
    } finally {
      this.probing = false;
    }
  }

  private async probeOnce(child: ChildProcess) {
    const ready = await this.spec.ready().catch(() => false);
    // An answer that lands after the process died must not mark it ready again while it waits to restart.
    if (this.child !== child || child.exitCode !== null || child.signalCode !== null) return;
    if (ready) this.health = 'ready';
    else if (this.health === 'ready') this.health = 'unready';
    if (!this.spec.live || this.health === 'starting' || Date.now() - this.livenessCheckedAt < liveness.periodMs) return;
    this.livenessCheckedAt = Date.now();
    const live = await this.spec.live().catch(() => false);
    this.livenessMisses = live ? 0 : this.livenessMisses + 1;
    if (this.livenessMisses >= liveness.failureThreshold && this.child === child) {
      this.emit('log', `${this.spec.name} (pid ${child.pid}) failed liveness ${liveness.failureThreshold} times, ${liveness.periodMs / 1000} s apart; killing it`);
      child.kill('SIGKILL');
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.timer);
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) {
      this.health = 'stopped';
      return;
    }
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), this.spec.stopTimeoutMs ?? 10_000);
    await exited;
    clearTimeout(killer);
  }
}
