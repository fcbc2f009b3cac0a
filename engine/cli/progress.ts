/**
 * Live progress of a run: a redrawn block of task lines on a TTY, one plain
 * line per state change otherwise (logs, CI, pipes).
 */
import type { Dag, TaskState } from '../interfaces.js';
import { describeNextTry, describeWhen, type RunEvent } from '../run/runner.js';
import { colourState, humanMs } from './format.js';

const SYMBOL: Record<string, string> = {
  none: '·',
  scheduled: '·',
  queued: '·',
  running: '▶',
  success: '✔',
  failed: '✖',
  up_for_retry: '↻',
  up_for_reschedule: '◷',
  upstream_failed: '✖',
  skipped: '⤼',
};

interface Line {
  state: TaskState | null;
  tryNumber: number;
  startedAt: number | null;
  endedAt: number | null;
  /** up_for_retry: when the next try starts, and the task's tries. */
  nextTryAt: Date | null;
  maxTries: number | null;
}

export class Progress {
  private readonly lines = new Map<string, Line>();
  private drawn = 0;
  private timer: NodeJS.Timeout | null = null;
  private ticker: NodeJS.Timeout | null = null;

  constructor(
    private readonly dag: Dag,
    private readonly out: NodeJS.WriteStream,
    private readonly live: boolean,
  ) {
    for (const id of dag.order)
      this.lines.set(id, { state: null, tryNumber: 0, startedAt: null, endedAt: null, nextTryAt: null, maxTries: null });
    if (live) this.ticker = setInterval(() => this.draw(), 500).unref();
  }

  onEvent(e: RunEvent): void {
    if (e.type === 'run') return; // the header and the summary say it
    const line = this.lines.get(e.taskId);
    if (!line) return;
    line.state = e.state;
    line.tryNumber = e.tryNumber;
    line.nextTryAt = e.nextTryAt ?? null;
    line.maxTries = e.maxTries ?? null;
    if (e.state === 'running') {
      line.startedAt = e.at.getTime();
      line.endedAt = null;
    }
    if (e.state && ['success', 'failed', 'up_for_retry', 'up_for_reschedule', 'skipped', 'upstream_failed'].includes(e.state)) {
      line.endedAt = e.at.getTime();
    }
    if (this.live) this.schedule();
    else if (e.state !== 'scheduled' && e.state !== 'queued' && e.state !== null) {
      const tryPart = e.state === 'skipped' || e.state === 'upstream_failed' ? '' : ` (try ${e.tryNumber})`;
      // A retry may be minutes away: say when, so a quiet console is not mistaken for a hang.
      const next = nextTry(e.state, e.tryNumber, e.nextTryAt, e.maxTries, e.at);
      this.out.write(
        `${e.at.toISOString()} ${e.taskId} ${e.state}${tryPart}${e.error ? `: ${firstLine(e.error)}` : ''}${next ? `; next: ${next}` : ''}\n`,
      );
    }
  }

  private schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.draw();
    }, 50);
  }

  private draw(): void {
    if (!this.live) return;
    const width = Math.max(...[...this.lines.keys()].map((k) => k.length), 4);
    const now = Date.now();
    const rows = [...this.lines.entries()].map(([id, l]) => {
      const s = l.state ?? 'none';
      const dur = l.startedAt ? humanMs((l.endedAt ?? now) - l.startedAt) : '';
      const tries = l.tryNumber > 1 ? ` try ${l.tryNumber}` : '';
      const next = nextTry(l.state, l.tryNumber, l.nextTryAt, l.maxTries, new Date(now));
      return `  ${SYMBOL[s] ?? ' '} ${id.padEnd(width)}  ${colourState(l.state, true)}${tries}${dur ? `  ${dur}` : ''}${next ? `  next: ${next}` : ''}`;
    });
    let s = '';
    if (this.drawn > 0) s += `\x1b[${this.drawn}A`;
    for (const r of rows) s += `\x1b[2K${r}\n`;
    this.out.write(s);
    this.drawn = rows.length;
  }

  /** Draws the last state and stops redrawing. */
  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.ticker) clearInterval(this.ticker);
    this.timer = null;
    this.draw();
  }
}

function firstLine(s: string): string {
  const l = s.split('\n')[0] ?? '';
  return l.length > 300 ? l.slice(0, 300) + '…' : l;
}

/**
 * For an up_for_retry task, when its next try starts ("try 2 of 4 at 12:34:56Z (in 5m)"); for a sensor
 * up_for_reschedule, when it pokes again ("poke at 12:34:56Z (in 5m)"); else ''.
 */
function nextTry(
  state: TaskState | null,
  tryNumber: number,
  at: Date | null | undefined,
  maxTries: number | null | undefined,
  now: Date,
): string {
  if (state === 'up_for_reschedule' && at) return `poke ${describeWhen(at, now)}`;
  return state === 'up_for_retry' && at && maxTries ? describeNextTry(tryNumber + 1, maxTries, at, now) : '';
}
