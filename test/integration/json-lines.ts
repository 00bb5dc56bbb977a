// Reads a child process's stdout as one JSON value per line: next() gives the
// next one, or { exited: {code, signal, stderr} } once the child is gone.
import type { ChildProcess } from 'node:child_process';

export function jsonLines(proc: ChildProcess): () => Promise<any> {
  const lines: any[] = [];
  const waiting: ((v: any) => void)[] = [];
  let buf = '';
  let err = '';
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  proc.stdout!.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      const line = JSON.parse(buf.slice(0, i));
      buf = buf.slice(i + 1);
      const w = waiting.shift();
      if (w) w(line); else lines.push(line);
    }
  });
  proc.on('close', (code, signal) => {
    for (const w of waiting.splice(0)) w({ exited: { code, signal, stderr: err } });
  });
  return () => (lines.length ? Promise.resolve(lines.shift()) : new Promise((r) => waiting.push(r)));
}
