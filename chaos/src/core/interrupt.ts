// Ctrl-C and SIGTERM for a command that starts a stack: Node exits on a signal without running `finally` blocks, so a
// stack the command started (its supervisor is detached) would stay up. The handler stops it, then exits as the
// signal would have (128 + its number).

const exitCodes = { SIGINT: 130, SIGTERM: 143 } as const;

/** Until the returned function is called, a SIGINT or SIGTERM runs `stop` (once), then exits with 130 or 143. */
export function stopOnInterrupt(stop: () => Promise<unknown>, say: (line: string) => void = (l) => console.error(l)): () => void {
  let stopping = false;
  const onSignal = (signal: keyof typeof exitCodes) => {
    if (stopping) return; // a second Ctrl-C while stopping changes nothing: the stop is already on its way
    stopping = true;
    say(`\n${signal} received: stopping the stack this command started`);
    void stop()
      .catch((err: Error) => say(`stopping failed: ${err.message}`))
      .finally(() => process.exit(exitCodes[signal]));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
}
