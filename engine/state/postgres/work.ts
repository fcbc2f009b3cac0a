/**
 * Task queues and workers in PostgreSQL (task_instances.queue and claimed_*,
 * table workers), and wake-ups through LISTEN/NOTIFY: queueing a task
 * instance notifies its queue's channel, ending a worker's try notifies the
 * try channel (see tasks.ts endTry), both in the writing transaction, so a
 * listener is told only what is committed.
 */
import type pg from 'pg';
import type { Claimed, WakeEvent, WakeTopics, WorkerRecord, WorkStore } from '../index.js';
import type { Db } from './db.js';
import { toClaimed, type ClaimColumns } from '../claim-row.js';
import { json, RUN_COLUMNS, toRun, toTaskInstance, type DagRunRow } from './rows.js';

/**
 * The channel of a queue, as SQL over the queue's name: one per schema and
 * queue (several states may share a database), a fixed-length identifier
 * whatever the queue is called.
 */
export const QUEUE_CHANNEL_SQL = (queue: string) => `'sluice_' || md5(current_schema() || ':queue:' || ${queue})`;
/** The channel told when a worker's try ends; the payload is `[run_id, task_id]` as JSON. */
export const TRY_CHANNEL_SQL = `'sluice_' || md5(current_schema() || ':tries')`;

export class PostgresWorkStore implements WorkStore {
  private readonly listener: Listener;

  constructor(private readonly db: Db) {
    this.listener = new Listener(db);
  }

  async enqueue(runId: string, taskId: string, queue: string, now: Date): Promise<void> {
    await this.db.q(
      `WITH queued AS (
         UPDATE task_instances SET state = 'queued', queue = $1, queued_at = $2, claimed_host = NULL, claimed_pid = NULL,
           claimed_at = NULL
         WHERE run_id = $3 AND task_id = $4 AND NOT (state IS NOT DISTINCT FROM 'queued' AND queue IS NOT NULL)
         RETURNING queue
       )
       SELECT pg_notify(${QUEUE_CHANNEL_SQL('queue')}, queue) FROM queued`,
      [queue, now, runId, taskId],
    );
  }

  wakeups(topics: WakeTopics, on: (e: WakeEvent) => void): Promise<() => void> {
    return this.listener.add({ topics, on });
  }

  /**
   * One statement: the oldest queued rows are locked FOR UPDATE SKIP LOCKED,
   * so a claimer passes over the rows another claimer is taking right now
   * instead of waiting for them (Airflow's scheduler and Celery-less executors do the same).
   * Each queue is read on its own (`t.queue = q.queue`, not `= ANY(…)`), so
   * its rows come in order from the index on (queue, queued_at) and a claim
   * reads a few rows, not the whole backlog (5 ms a claim at 10,000 queued).
   */
  async claim(queues: string[], n: number, host: string, pid: number, now: Date): Promise<Claimed[]> {
    if (queues.length === 0 || n < 1) return [];
    const rows = await this.db.q<DagRunRow & ClaimColumns<Date>>(
      `WITH picked AS (
         SELECT c.run_id, c.task_id FROM unnest($1::text[]) AS q(queue) CROSS JOIN LATERAL (
           SELECT t.run_id, t.task_id, t.queued_at, t.seq FROM task_instances t JOIN dag_runs r ON r.run_id = t.run_id
           WHERE t.state = 'queued' AND t.claimed_at IS NULL AND r.state = 'running' AND t.queue = q.queue
           ORDER BY t.queued_at, t.seq LIMIT $2
           FOR UPDATE OF t SKIP LOCKED
         ) c
         ORDER BY c.queued_at, c.seq LIMIT $2
       )
       UPDATE task_instances t SET claimed_host = $3, claimed_pid = $4, claimed_at = $5
       FROM picked, dag_runs r
       WHERE t.run_id = picked.run_id AND t.task_id = picked.task_id AND r.run_id = t.run_id
       RETURNING t.task_id, t.queue, t.queued_at, t.operator, t.state AS ti_state, t.try_number, t.max_tries, t.next_try_at,
         t.started_at AS ti_started_at, t.ended_at AS ti_ended_at, ${RUN_COLUMNS('r')}`,
      [queues, n, host, pid, now],
      'sluice_claim',
    );
    return rows
      .map((r) => toClaimed(r, { run: toRun, instance: toTaskInstance, time: (t) => t }))
      .sort((a, b) => a.queuedAt.getTime() - b.queuedAt.getTime());
  }

  async releaseStale(before: Date): Promise<number> {
    const rows = await this.db.q(
      `UPDATE task_instances SET claimed_host = NULL, claimed_pid = NULL, claimed_at = NULL
       WHERE state = 'queued' AND claimed_at < $1
         AND NOT EXISTS (SELECT 1 FROM workers w WHERE w.host = claimed_host AND w.pid = claimed_pid AND w.heartbeat_at >= $1)
       RETURNING task_id`,
      [before],
    );
    return rows.length;
  }

  async heartbeat(w: Omit<WorkerRecord, 'startedAt' | 'heartbeatAt'>, now: Date): Promise<void> {
    await this.db.q(
      `INSERT INTO workers (host, pid, queues, concurrency, running, started_at, heartbeat_at)
       VALUES ($1, $2, $3, $4, $5, $6, $6)
       ON CONFLICT (host, pid) DO UPDATE SET queues = excluded.queues, concurrency = excluded.concurrency,
         running = excluded.running, heartbeat_at = excluded.heartbeat_at`,
      [w.host, w.pid, json(w.queues), w.concurrency, w.running, now],
    );
  }

  async leave(host: string, pid: number): Promise<void> {
    await this.db.q('DELETE FROM workers WHERE host = $1 AND pid = $2', [host, pid]);
  }

  async workers(): Promise<WorkerRecord[]> {
    const rows = await this.db.q<{
      host: string;
      pid: number;
      queues: string[];
      concurrency: number;
      running: number;
      started_at: Date;
      heartbeat_at: Date;
    }>('SELECT * FROM workers ORDER BY heartbeat_at DESC, host, pid');
    return rows.map((r) => ({
      host: r.host,
      pid: r.pid,
      queues: r.queues,
      concurrency: r.concurrency,
      running: r.running,
      startedAt: r.started_at,
      heartbeatAt: r.heartbeat_at,
    }));
  }
}

interface Subscriber {
  topics: WakeTopics;
  on: (e: WakeEvent) => void;
}

/** What a channel means: a queue's name, or null for the try channel. */
type ChannelKey = { queue: string } | { queue: null };

/** How long a lost listening connection waits before it connects again (the listeners poll meanwhile). */
const RECONNECT_MS = 2_000;

/**
 * One LISTEN connection per state store, outside the pool (a pooled
 * connection would be handed to other queries), opened while anyone listens
 * and shared by every listener of the process. Losing it loses wake-ups
 * only: listeners poll, and it connects again.
 */
class Listener {
  private client: pg.Client | null = null;
  private readonly subs = new Set<Subscriber>();
  /** Channel -> what it carries; and the channels LISTENed on the current connection. */
  private readonly channels = new Map<string, ChannelKey>();
  private readonly names = new Map<string, string>();
  private listening = new Set<string>();
  /** Connecting and LISTENing happen one at a time, in order. */
  private chain: Promise<void> = Promise.resolve();
  private retry: NodeJS.Timeout | null = null;

  constructor(private readonly db: Db) {}

  async add(sub: Subscriber): Promise<() => void> {
    this.subs.add(sub);
    await this.sync();
    return () => {
      this.subs.delete(sub);
      if (this.subs.size === 0) this.chain = this.chain.then(() => this.close());
    };
  }

  private sync(): Promise<void> {
    this.chain = this.chain.then(() => this.syncNow()).catch(() => this.lost(this.client));
    return this.chain;
  }

  private async syncNow(): Promise<void> {
    if (this.subs.size === 0) return;
    const client = this.client ?? (await this.connect());
    const wanted = new Set<string>();
    for (const s of this.subs) {
      for (const q of s.topics.queues ?? []) wanted.add(`:queue:${q}`);
      if (s.topics.tryEnds) wanted.add(':tries');
    }
    for (const key of wanted) {
      let ch = this.names.get(key);
      if (!ch) {
        const [r] = (await client.query<{ c: string }>(`SELECT 'sluice_' || md5(current_schema() || $1) AS c`, [key])).rows;
        ch = r!.c;
        this.names.set(key, ch);
        this.channels.set(ch, { queue: key.startsWith(':queue:') ? key.slice(':queue:'.length) : null });
      }
      if (this.listening.has(ch)) continue;
      await client.query(`LISTEN "${ch}"`); // 'sluice_' and 32 hex digits: nothing to escape
      this.listening.add(ch);
    }
  }

  private async connect(): Promise<pg.Client> {
    const { default: pgm } = await import('pg');
    const client = new pgm.Client({ ...this.db.pool.options, application_name: 'sluice state listener' });
    client.on('notification', (m) => this.dispatch(m.channel, m.payload));
    client.on('error', () => this.lost(client));
    client.on('end', () => this.lost(client));
    await client.connect();
    this.client = client;
    this.listening = new Set();
    return client;
  }

  private dispatch(channel: string, payload: string | undefined): void {
    const key = this.channels.get(channel);
    if (!key) return;
    let e: WakeEvent;
    if (key.queue !== null) e = { kind: 'queued', queue: key.queue };
    else {
      try {
        const [runId, taskId] = JSON.parse(payload ?? '') as [string, string];
        e = { kind: 'tryEnded', runId, taskId };
      } catch {
        return;
      }
    }
    for (const s of this.subs) {
      if (e.kind === 'queued' ? s.topics.queues?.includes(e.queue) : s.topics.tryEnds) s.on(e);
    }
  }

  /** The connection broke (or never opened): wake-ups pause, listeners poll, and it connects again soon. */
  private lost(client: pg.Client | null): void {
    if (client && this.client !== client) return;
    this.client = null;
    this.listening = new Set();
    client?.end().catch(() => undefined);
    if (this.retry || this.subs.size === 0) return;
    this.retry = setTimeout(() => {
      this.retry = null;
      void this.sync();
    }, RECONNECT_MS);
    this.retry.unref();
  }

  private async close(): Promise<void> {
    if (this.subs.size > 0) return;
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
    const client = this.client;
    this.client = null;
    this.listening = new Set();
    await client?.end().catch(() => undefined);
  }
}
