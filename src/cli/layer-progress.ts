// The progress display of `image pull` and `image load`: one bar per layer
// (bytes so far of its size) and a total, drawn with cli-progress on
// stderr, only when stderr is a terminal (never on a pipe or a log file)
// and not --quiet.
// Must not: write to stdout (it belongs to the result), or slow a pull:
// redraws are throttled by cli-progress.
import cliProgress from 'cli-progress';
import type { PullProgress } from '../image/registry/pull-image.js';
import { formatBytes } from './format-size.js';

export interface LayerProgress {
  /** undefined when no display is shown. */
  readonly onProgress: ((e: PullProgress) => void) | undefined;
  stop(): void;
}

export function layerProgress(opts: { quiet?: boolean; stream?: NodeJS.WriteStream } = {}): LayerProgress {
  const stream = opts.stream ?? process.stderr;
  if (opts.quiet || !stream.isTTY) return { onProgress: undefined, stop() {} };
  const multi = new cliProgress.MultiBar({
    stream,
    format: ' {name} |{bar}| {done} / {size}',
    barCompleteChar: '#',
    barIncompleteChar: '.',
    // a hidden cursor would stay hidden after Ctrl-C
    hideCursor: false,
    clearOnComplete: false,
    stopOnComplete: false,
    autopadding: true,
    fps: 10,
  });
  const bars = new Map<string, { bar: cliProgress.SingleBar; bytes: number; size: number }>();
  let total: cliProgress.SingleBar | null = null;
  const redrawTotal = () => {
    let done = 0;
    let size = 0;
    for (const b of bars.values()) {
      done += b.bytes;
      size += b.size;
    }
    if (!total) return;
    total.setTotal(Math.max(size, 1));
    total.update(done, { done: formatBytes(done), size: formatBytes(size) });
  };
  return {
    onProgress(e) {
      if (!e.digest || e.type === 'manifest') return;
      const size = Math.max(e.size ?? 0, 0);
      let b = bars.get(e.digest);
      // the total on top, the layers below it as they start
      total ??= multi.create(1, 0, { name: 'total       ', done: formatBytes(0), size: formatBytes(0) });
      if (!b) {
        b = { bar: multi.create(Math.max(size, 1), 0, { name: e.digest.slice(7, 19), done: formatBytes(0), size: formatBytes(size) }), bytes: 0, size };
        bars.set(e.digest, b);
      }
      b.bytes = e.type === 'blob-cached' ? size : e.bytes ?? b.bytes;
      b.bar.update(b.bytes, { done: e.type === 'blob-cached' ? 'cached' : formatBytes(b.bytes), size: formatBytes(size) });
      redrawTotal();
    },
    stop() {
      multi.stop();
    },
  };
}
