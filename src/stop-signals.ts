// The signals that stop a command cleanly, as Ctrl-C does: Ctrl-C itself, kill's default,
// and the hang-up of a terminal closed (or an ssh session dropped) under a long run, which
// would otherwise kill it at once, unsaved and with its run folder still locked.

const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

export function onStopSignals(listener: (signal: NodeJS.Signals) => void): void {
  for (const signal of STOP_SIGNALS) process.on(signal, listener);
}

export function offStopSignals(listener: (signal: NodeJS.Signals) => void): void {
  for (const signal of STOP_SIGNALS) process.off(signal, listener);
}
