// A bounded queue in front of a fixed number of workers: at most
// `concurrency` jobs run at once, at most `capacity` wait; one more is
// refused at once (the server answers 429). Closing it refuses new jobs,
// drops the waiting ones (their callers answer 503) and resolves once the
// running ones have finished.
// Must not: start a job after close(), or lose one (each is run or dropped, exactly once).

export class QueueFull extends Error {
  override readonly name = 'QueueFull';
}

export class QueueClosed extends Error {
  override readonly name = 'QueueClosed';
}

interface Waiting {
  readonly start: () => void;
  readonly drop: (e: Error) => void;
}

export class RunQueue {
  #running = 0;
  readonly #waiting: Waiting[] = [];
  #closed = false;
  readonly #idle: (() => void)[] = [];

  constructor(readonly concurrency: number, readonly capacity: number) {
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`concurrency must be a positive integer, not ${concurrency}`);
    if (!Number.isInteger(capacity) || capacity < 0) throw new RangeError(`queue capacity must be a non-negative integer, not ${capacity}`);
  }

  get running(): number {
    return this.#running;
  }

  get queued(): number {
    return this.#waiting.length;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Runs `job` when a worker is free; rejects at once with QueueFull or QueueClosed, later with QueueClosed if closed while waiting. */
  submit<T>(job: () => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new QueueClosed('the server is shutting down'));
    if (this.#running >= this.concurrency && this.#waiting.length >= this.capacity) {
      return Promise.reject(new QueueFull(`${this.#running} runs and ${this.#waiting.length} waiting: the queue is full`));
    }
    return new Promise<T>((resolve, reject) => {
      const start = () => {
        this.#running++;
        let done: Promise<T>;
        try {
          done = job();
        } catch (e) {
          done = Promise.reject(e);
        }
        done.then(resolve, reject).finally(() => {
          this.#running--;
          this.#next();
        });
      };
      if (this.#running < this.concurrency) start();
      else this.#waiting.push({ start, drop: reject });
    });
  }

  #next(): void {
    const w = this.#waiting.shift();
    if (w) w.start();
    else if (this.#running === 0) this.#idle.splice(0).forEach((f) => f());
  }

  /** Refuses new jobs, drops the waiting ones; resolves when no job runs. */
  close(): Promise<void> {
    this.#closed = true;
    for (const w of this.#waiting.splice(0)) w.drop(new QueueClosed('the server is shutting down'));
    if (this.#running === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }
}
