// How sandbox-oci reports, as runc does: each message is one line of the
// chosen --log-format (text: logrus's `time="..." level=error msg="..."`;
// json: {"level":"error","msg":"...","time":"RFC3339"}, which containerd's
// shim reads from --log). Errors go to --log when given and always to
// stderr: there in the project's words ("sandbox-oci: error: ..." and a
// hint), or as the json line when --log-format json has no --log file.
// Must not: decide exit codes (program.ts does: 1 for every failure, as runc).
import { appendFileSync } from 'node:fs';

export type LogFormat = 'text' | 'json';
export type LogLevel = 'debug' | 'info' | 'warning' | 'error';

export const LOG_FORMATS: readonly LogFormat[] = ['text', 'json'];

/** RFC 3339 in UTC, to the second (logrus's default is the local zone; both are RFC 3339). */
export function rfc3339(date: Date): string {
  return date.toISOString().replace(/\.[0-9]+Z$/, 'Z');
}

/** logrus's quoting of a text-format value: Go's %q. */
function quote(s: string): string {
  return JSON.stringify(s);
}

/** One log line, without its newline. */
export function formatLogLine(format: LogFormat, level: LogLevel, msg: string, date = new Date()): string {
  if (format === 'json') return JSON.stringify({ level, msg, time: rfc3339(date) });
  return `time=${quote(rfc3339(date))} level=${level} msg=${quote(msg)}`;
}

export interface LogSettings {
  readonly format: LogFormat;
  /** --log FILE; undefined: stderr. */
  readonly file?: string;
  readonly debug: boolean;
}

export interface OciLogger {
  error(message: string, hint?: string): void;
  debug(message: string): void;
}

/** The message of an error as one line: runc's shim parses each line on its own. */
export function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, '; ');
}

export function makeLogger(settings: LogSettings, stderr: (s: string) => void = (s) => process.stderr.write(s)): OciLogger {
  const toFile = (level: LogLevel, msg: string) => {
    if (!settings.file) return;
    try {
      appendFileSync(settings.file, `${formatLogLine(settings.format, level, oneLine(msg))}\n`, { mode: 0o600 });
    } catch (e) {
      stderr(`sandbox-oci: warning: cannot write the log ${settings.file}: ${(e as NodeJS.ErrnoException).code ?? e}\n`);
    }
  };
  return {
    error(message, hint) {
      const full = hint ? `${message} (hint: ${hint})` : message;
      toFile('error', full);
      if (!settings.file && settings.format === 'json') stderr(`${formatLogLine('json', 'error', oneLine(full))}\n`);
      else stderr(`sandbox-oci: error: ${message}\n${hint ? `  hint: ${hint}\n` : ''}`);
    },
    debug(message) {
      if (!settings.debug) return;
      if (settings.file) toFile('debug', message);
      else stderr(`${formatLogLine(settings.format, 'debug', oneLine(message))}\n`);
    },
  };
}
