// The few things faultline asks of the machine it runs on: free loopback ports, whether a pid still lives, and its
// state in /proc.
import { readFileSync } from 'node:fs';
import net from 'node:net';

/**
 * The fields of /proc/<pid>/stat after the command name (which is in parentheses and may itself hold spaces or
 * parentheses): [0] is the state, [1] the parent pid, [11] and [12] user and system CPU in clock ticks. Undefined once
 * the process is gone.
 */
export function procStat(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

export function isAlive(pid: number) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Whether nothing listens on 127.0.0.1:port now. */
export function portFree(port: number) {
  return new Promise<boolean>((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A loopback port the OS says is free now, for a helper that needs one (k6's API, a tunnel, a test's server). */
export const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
