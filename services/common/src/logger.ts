import { pino, type Logger } from 'pino';

export type { Logger };

/** JSON lines on stdout; OpenTelemetry's pino instrumentation adds trace_id and span_id. */
export function createLogger(service: string, level = 'info', replica = '0'): Logger {
  return pino({ level, base: { 'service.name': service, replica }, timestamp: pino.stdTimeFunctions.isoTime });
}
