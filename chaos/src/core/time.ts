// Waiting: every wait in faultline is bounded in time and can be cut short by a drill's stop signal.
import { Stopped } from './errors.ts';

/** Resolves after `ms`, or rejects with Stopped as soon as `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new Stopped('stopped'));
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(new Stopped('stopped'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Like sleep, but an abort ends the wait early instead of throwing: for loops that check the signal themselves. */
export const pause = (ms: number, signal?: AbortSignal) => sleep(ms, signal).catch((err: unknown) => {
  if (!(err instanceof Stopped)) throw err;
});

export interface PollOptions {
  timeoutMs?: number;
  everyMs?: number;
  signal?: AbortSignal;
}

/**
 * Polls `check` until it returns something other than undefined or false, and returns that. A check that throws is
 * read as "not yet" (a request that failed), and its message kept for the timeout error with the last value seen.
 */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined | false>, { timeoutMs = 20_000, everyMs = 250, signal }: PollOptions = {}): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      last = await check();
      if (last !== undefined && last !== false) return last as T;
    } catch (err) {
      last = `threw: ${(err as Error).message}`;
    }
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${JSON.stringify(last)})`);
    await sleep(Math.min(everyMs, Math.max(0, deadline - Date.now())), signal);
  }
}
