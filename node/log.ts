import { pino, type DestinationStream, type Logger as PinoLogger } from 'pino';
import { ValidationError } from '../federation/errors.js';

// The node's structured log: one JSON object per line (pino) on stderr, so
// stdout stays free for the ready line and command output. Lines written
// while a traced operation runs carry its trace and span ids, so a log line
// and the span it belongs to can be found from each other in a collector.

export type Logger = PinoLogger;

/** Levels `logLevel` accepts, most to least severe; `silent` logs nothing. */
export const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof logLevels)[number];

export interface LoggerInit {
  /** Default `info`. */
  readonly level?: LogLevel;
  /**
   * Where lines go; default stderr, written synchronously: the node logs
   * little (rejections, equivocations, start and stop), and a line written
   * just before a crash must not be lost in a buffer.
   */
  readonly destination?: DestinationStream;
}

/** The ids of the span a line is written in (lowercase hex, as W3C trace context writes them). */
export interface LogSpanContext {
  readonly traceId: string;
  readonly spanId: string;
}

/** A logger that writes `{"level":"info","time":"2025-06-01T02:00:00.000Z","msg":...}` lines. */
export function createLogger(init: LoggerInit = {}): Logger {
  const level = init.level ?? 'info';
  if (!logLevels.includes(level)) throw new ValidationError('logLevel', `must be one of ${logLevels.join(', ')}; got ${JSON.stringify(level)}`);
  return pino(
    {
      level,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      // Level names, not pino's numbers: collectors and people read "warn".
      formatters: { level: (label) => ({ level: label }) },
    },
    init.destination ?? pino.destination({ dest: 2, sync: true }),
  );
}

/** Logs nothing: the default for code started without a logger (tests, the simulator). */
export const silentLogger: Logger = pino({ level: 'silent' });

/**
 * A child of `log` that adds `trace_id` and `span_id` (the OpenTelemetry log
 * data model's names) to every line written while `active()` names a span.
 * `active` is called once per line written and must be quick.
 */
export function withTraceContext(log: Logger, active: () => LogSpanContext | undefined, bindings: Record<string, unknown> = {}): Logger {
  return log.child(bindings, {
    formatters: {
      log(object) {
        const span = active();
        return span === undefined ? object : { ...object, trace_id: span.traceId, span_id: span.spanId };
      },
    },
  });
}

/** An error as log fields: its name and message (the name is the stable kind). */
export function errorFields(error: unknown): { error: string; errorName: string } {
  return error instanceof Error ? { error: error.message, errorName: error.name } : { error: String(error), errorName: 'unknown' };
}
