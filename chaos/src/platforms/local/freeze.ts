// Freezing and thawing replicas by pid, for the pause fault: SIGSTOP and SIGCONT, with the kernel's word on each
// process's state (/proc/<pid>/stat) as evidence.
import { procStat } from '../../core/host.ts';
import { sleep } from '../../core/time.ts';

export interface FrozenTarget {
  name: string;
  pid: number;
}

/** A process as the kernel reports it: T is stopped; R, S or D is running or waiting; gone if it has exited. */
export interface ProcessState extends FrozenTarget {
  state: string;
}

export const processState = (pid: number): string => procStat(pid)?.[0] ?? 'gone';

const isStopped = (state: string) => state === 'T';

/** Reads every target's state until each matches `want` or `timeoutMs` passes (a signal is delivered asynchronously). */
async function statesWhen(targets: FrozenTarget[], want: (state: string) => boolean, timeoutMs: number): Promise<ProcessState[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const states = targets.map((t) => ({ ...t, state: processState(t.pid) }));
    if (states.every((s) => want(s.state) || s.state === 'gone') || Date.now() >= deadline) return states;
    await sleep(20);
  }
}

export async function freeze(targets: FrozenTarget[]): Promise<ProcessState[]> {
  for (const t of targets) if (processState(t.pid) !== 'gone') process.kill(t.pid, 'SIGSTOP');
  return statesWhen(targets, isStopped, 1000);
}

/** Thaws only what is still stopped: a target that died meanwhile (or whose pid is gone) is left alone. */
export async function thaw(targets: FrozenTarget[]): Promise<ProcessState[]> {
  for (const t of targets) if (isStopped(processState(t.pid))) process.kill(t.pid, 'SIGCONT');
  return statesWhen(targets, (state) => !isStopped(state), 1000);
}

export const allStopped = (states: ProcessState[]) => states.length > 0 && states.every((s) => isStopped(s.state));
export const noneStopped = (states: ProcessState[]) => states.every((s) => !isStopped(s.state));
