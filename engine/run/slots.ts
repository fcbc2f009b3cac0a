/**
 * Task slots: a counting semaphore that concurrent runs of one process share,
 * so the scheduler's `parallelism` bounds the tries running at once across
 * every run it executes (Airflow's `[core] parallelism`).
 */

/** A counting semaphore shared by concurrent runs. */
export class Slots {
  private used = 0;
  private readonly waiters = new Set<() => void>();
  constructor(readonly size: number) {}

  tryAcquire(): boolean {
    if (this.used >= this.size) return false;
    this.used++;
    return true;
  }

  release(): void {
    this.used = Math.max(0, this.used - 1);
    for (const w of [...this.waiters]) w();
  }

  /** Calls fn at the next release; returns a function that cancels. */
  onRelease(fn: () => void): () => void {
    this.waiters.add(fn);
    return () => this.waiters.delete(fn);
  }

  get inUse(): number {
    return this.used;
  }
}
