// One root for the errors faultline raises on purpose, and the one place where any error becomes an exit code:
// 0 pass, 1 a run that failed (or a fault of faultline's own), 2 bad input that nothing ran on.
import { ConfigError } from '@faultline/common';

export class FaultlineError extends Error {
  override name = 'FaultlineError';
  /** Worth trying again as it is: a registry or a cluster that did not answer, not a mistake in the input. */
  readonly retriable: boolean;

  constructor(message: string, opts: { cause?: unknown; retriable?: boolean } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.retriable = opts.retriable ?? false;
  }
}

/** Bad input: a flag, a file, a setting, or a request the platform refuses before touching anything. Exit code 2. */
export class UsageError extends FaultlineError {
  override name = 'UsageError';
}

/** A drill stopped on purpose (Ctrl-C, its timeout, an abort condition): not an error to report, a way to unwind. */
export class Stopped extends FaultlineError {
  override name = 'Stopped';
}

const isCommanderError = (err: unknown): err is { exitCode: number } => (err as Error | undefined)?.name === 'CommanderError';

export function exitCodeOf(err: unknown): number {
  if (isCommanderError(err)) return err.exitCode === 0 ? 0 : 2;
  return err instanceof UsageError || err instanceof ConfigError ? 2 : 1;
}

/**
 * Runs a command's body: exits with the code it returns (none: the process ends when its work does, as a server's
 * does on SIGTERM), or prints a failure once, as `<command>: message`, and exits with the failure's code.
 */
export async function main(command: string, body: () => Promise<number | void>): Promise<void> {
  try {
    const code = await body();
    if (code !== undefined) process.exit(code);
  } catch (err) {
    const code = exitCodeOf(err);
    // Commander has printed its own message already.
    if (!isCommanderError(err)) console.error(`${command}: ${(err as Error).message ?? String(err)}`);
    process.exit(code);
  }
}
