/**
 * Logging via pino (JSON lines on stderr by default). Logs are written on state changes, never per
 * request (DESIGN.md rule 6).
 */
import { pino, type Logger as PinoLogger } from 'pino';

export type Logger = PinoLogger;

/** Level from FULCRUM_LOG_LEVEL (default `info`; `silent` turns logging off). */
export function createLogger(level = process.env.FULCRUM_LOG_LEVEL ?? 'info'): Logger {
  return pino({ level, base: { name: 'fulcrum' } }, pino.destination({ dest: 2, sync: true }));
}

let shared: Logger | null = null;

/** One process-wide logger for parts built without one (pools' health events). */
export function defaultLogger(): Logger {
  shared ??= createLogger();
  return shared;
}
