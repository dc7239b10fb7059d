// Entry point of the detached supervisor process that `faultline up` starts.
import { exitCodeOf } from '../../core/errors.ts';
import { Supervisor } from './supervisor.ts';
import type { RuntimeOptions } from './layout.ts';

const opts = JSON.parse(process.env.FAULTLINE_RUNTIME_OPTIONS ?? '') as RuntimeOptions;
const log = (line: string) => console.log(`${new Date().toISOString()} ${line}`);
const supervisor = new Supervisor(opts, JSON.parse(process.env.FAULTLINE_API_KEYS ?? '{}') as Record<string, string>, log);

const stop = (signal: string) => {
  log(`${signal}: stopping`);
  void supervisor.stop().then(() => process.exit(0));
};
process.once('SIGTERM', () => stop('SIGTERM'));
process.once('SIGINT', () => stop('SIGINT'));

try {
  await supervisor.start();
} catch (err) {
  log(`start failed: ${(err as Error).message}`);
  await supervisor.stop();
  process.exit(exitCodeOf(err)); // 2: a service refused its settings
}
