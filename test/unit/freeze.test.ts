// The pause fault's mechanics on a real process: SIGSTOP and SIGCONT by pid, with the kernel's state as evidence.
import { spawn } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { allStopped, freeze, noneStopped, processState, thaw } from '../../chaos/src/platforms/local/freeze.ts';

const child = spawn('sleep', ['30'], { stdio: 'ignore' });
afterAll(() => {
  child.kill('SIGKILL');
});

describe('freezing a replica', () => {
  it('stops it, and the kernel says so; thawing lets it run on', async () => {
    const target = { name: 'sleeper-0', pid: child.pid! };
    expect(processState(target.pid)).toMatch(/^[RS]$/);
    const stopped = await freeze([target]);
    expect(stopped).toEqual([{ ...target, state: 'T' }]);
    expect(allStopped(stopped)).toBe(true);
    const resumed = await thaw([target]);
    expect(resumed).toEqual([{ ...target, state: expect.stringMatching(/^[RS]$/) }]); // running, or asleep again
    expect(noneStopped(resumed)).toBe(true);
  });

  it('leaves alone a pid that is gone, and reports it gone', async () => {
    const gone = { name: 'gone-0', pid: 4_194_305 }; // above Linux's largest pid_max: no process can have it
    expect(await freeze([gone])).toEqual([{ ...gone, state: 'gone' }]);
    expect(allStopped([{ ...gone, state: 'gone' }])).toBe(false);
    expect(await thaw([gone])).toEqual([{ ...gone, state: 'gone' }]);
  });
});
