/** A run's page (graph, Gantt of tries, conf, outputs, checks and their trends), the confirmations before clearing or marking, the runs list. */
import { lineChart, statusStrip, timeline, type Bar } from '../../render/svg.js';
import type { RunDetailJson } from '../data.js';
import { TREND_RUNS } from '../data.js';
import { graphSvg } from '../graph.js';
import { duration, html, raw, stateBadge, type Html } from '../html.js';
import { csrfField, d, enc, json, loginHint, type Viewer } from './common.js';

function gantt(r: RunDetailJson): Html {
  const bars: Bar[] = [];
  const now = Date.now();
  for (const t of r.tasks) {
    for (const tr of t.tries) {
      const start = Date.parse(tr.started_at);
      bars.push({
        lane: t.task_id,
        start,
        end: tr.ended_at ? Date.parse(tr.ended_at) : now,
        state: tr.state,
        tip: `${t.task_id} try ${tr.try_number}: ${tr.state}${tr.duration_ms !== null ? `, ${duration(tr.duration_ms)}` : ''}`,
      });
    }
  }
  if (!bars.length) return html`<p class="muted">No tries yet.</p>`;
  return raw(
    timeline(
      bars,
      r.tasks.filter((t) => t.tries.length).map((t) => t.task_id),
    ),
  );
}

export function runPage(r: RunDetailJson, v: Viewer, flash?: string): Html {
  const idle = !r.executing;
  const actions = !v.csrf
    ? loginHint(`/runs/${r.run_id}`)
    : !idle
      ? html`<p class="muted">The run is being executed: actions are available once it ends.</p>`
      : html`<div class="actions">
          <form method="post" action="/runs/${enc(r.run_id)}/rerun">
            ${csrfField(v)}<input type="hidden" name="failed_only" value="true" /><button type="submit">
              Rerun failed tasks
            </button>
          </form>
          <form method="post" action="/runs/${enc(r.run_id)}/rerun" data-confirm="Run every task of this run again?">
            ${csrfField(v)}<button type="submit">Rerun all tasks</button>
          </form>
          <form method="post" action="/runs/${enc(r.run_id)}/mark" data-confirm="Mark this run success?">
            ${csrfField(v)}<input type="hidden" name="state" value="success" /><button type="submit">Mark success</button>
          </form>
          <form method="post" action="/runs/${enc(r.run_id)}/mark" data-confirm="Mark this run failed?">
            ${csrfField(v)}<input type="hidden" name="state" value="failed" /><button type="submit">Mark failed</button>
          </form>
        </div>`;
  const clearForm = v.csrf && idle;
  const rows = r.tasks.map((t) => {
    const last = t.tries[t.tries.length - 1];
    return html`<tr>
      ${clearForm ? html`<td><input type="checkbox" name="task" value="${t.task_id}" form="clear" /></td>` : ''}
      <td><a href="/runs/${enc(r.run_id)}/tasks/${enc(t.task_id)}">${t.task_id}</a></td>
      <td>${t.operator}</td>
      <td>${stateBadge(t.state)}</td>
      <td>${t.tries.length}/${t.max_tries}</td>
      <td>${duration(last?.duration_ms)}</td>
      <td>${last?.error ? html`<span class="error">${last.error.split('\n')[0]}</span>` : ''}</td>
      <td>
        ${
          t.outputs
            ? html`<details>
                <summary>outputs</summary>
                ${json(t.outputs)}
              </details>`
            : ''
        }
      </td>
    </tr>`;
  });
  const checks = r.checks.length
    ? html`<table id="checks">
        <tr>
          <th>task</th>
          <th>check</th>
          <th>table</th>
          <th>severity</th>
          <th>status</th>
          <th>observed</th>
          <th>expected</th>
          <th>message</th>
        </tr>
        ${r.checks.map(
          (c) =>
            html`<tr>
              <td>${c.task_id}</td>
              <td>${c.name}</td>
              <td>${c.table ?? ''}</td>
              <td>${c.severity}</td>
              <td>
                <span class="badge ${c.status === 'pass' ? 'st-success' : c.status === 'warn' ? 'st-up_for_retry' : 'st-failed'}"
                  >${c.status}</span
                >
              </td>
              <td><code>${JSON.stringify(c.observed) ?? ''}</code></td>
              <td><code>${JSON.stringify(c.expected) ?? ''}</code></td>
              <td>${c.message ?? ''}</td>
            </tr>`,
        )}
      </table>`
    : html`<p class="muted">No data quality checks recorded for this run.</p>`;
  return html`<h1>Run ${r.run_id}</h1>
    ${flash ? html`<div class="flash">${flash}</div>` : ''}
    <table class="kv">
      <tr>
        <th>DAG</th>
        <td><a href="/dags/${enc(r.dag_id)}">${r.dag_id}</a></td>
      </tr>
      <tr>
        <th>state</th>
        <td id="run-state">${stateBadge(r.state)}</td>
      </tr>
      <tr>
        <th>run type</th>
        <td>${r.run_type}</td>
      </tr>
      <tr>
        <th>logical date</th>
        <td>${d(r.logical_date)}</td>
      </tr>
      <tr>
        <th>data interval</th>
        <td>[${d(r.data_interval[0])}, ${d(r.data_interval[1])})</td>
      </tr>
      <tr>
        <th>started / ended</th>
        <td>${d(r.started_at)} / ${d(r.ended_at)} ${r.duration_ms !== null ? html`(${duration(r.duration_ms)})` : ''}</td>
      </tr>
      ${
        r.note
          ? html`<tr>
              <th>note</th>
              <td>${r.note}</td>
            </tr>`
          : ''
      }
    </table>
    ${actions}
    ${
      r.graph
        ? html`<h2>Graph</h2>
            <div id="graph">
              ${raw(
                graphSvg(
                  r.graph,
                  Object.fromEntries(r.tasks.map((t) => [t.task_id, t.state])),
                  (t) => `/runs/${enc(r.run_id)}/tasks/${enc(t)}`,
                ),
              )}
            </div>`
        : ''
    }
    <h2>Tasks</h2>
    ${
      clearForm
        ? html`<form method="get" action="/runs/${enc(r.run_id)}/clear" id="clear" class="actions">
            <span>Ticked tasks (clear: none ticked clears all)</span>
            <label><input type="checkbox" name="upstream" value="true" /> with upstream</label
            ><label><input type="checkbox" name="downstream" value="true" /> with downstream</label
            ><label><input type="checkbox" name="failed_only" value="true" /> failed only (clear)</label
            ><button type="submit" id="clear-tasks">Clear…</button
            ><button type="submit" id="mark-success" formaction="/runs/${enc(r.run_id)}/mark-tasks" name="state" value="success">
              Mark success…</button
            ><button type="submit" id="mark-failed" formaction="/runs/${enc(r.run_id)}/mark-tasks" name="state" value="failed">
              Mark failed…
            </button>
          </form>`
        : ''
    }
    <table id="tasks">
      <tr>
        ${clearForm ? html`<th><input type="checkbox" data-all="task" title="all" /></th>` : ''}
        <th>task</th>
        <th>operator</th>
        <th>state</th>
        <th>tries</th>
        <th>duration</th>
        <th>error</th>
        <th>outputs</th>
      </tr>
      ${rows}
    </table>
    <h2>Gantt</h2>
    ${gantt(r)}
    <h2>Conf</h2>
    ${json(r.conf)}
    <h2>Data quality</h2>
    ${checks} ${trends(r)}`;
}

/** The task instances a clear or a mark will touch, with their current states (listed before anything is done). */
function affectedTable(affected: { task_id: string; state: string | null }[]): Html {
  return html`<table id="affected">
    <tr>
      <th>task</th>
      <th>current state</th>
    </tr>
    ${affected.map(
      (a) =>
        html`<tr>
          <td>${a.task_id}</td>
          <td>${stateBadge(a.state)}</td>
        </tr>`,
    )}
  </table>`;
}

/** The chosen tasks and the scope flags that are on, as the hidden fields of a confirming form. */
function scopeFields(tasks: string[], flags: Record<string, boolean | undefined>): Html[] {
  return [
    ...tasks.map((t) => html`<input type="hidden" name="task" value="${t}" />`),
    ...Object.entries(flags)
      .filter(([, on]) => on)
      .map(([name]) => html`<input type="hidden" name="${name}" value="true" />`),
  ];
}

export function clearConfirmPage(
  p: {
    runId: string;
    tasks: string[];
    downstream: boolean;
    upstream?: boolean;
    failedOnly: boolean;
    affected: { task_id: string; state: string | null }[];
  },
  v: Viewer,
): Html {
  if (!p.affected.length) {
    return html`<h1>Clear tasks of ${p.runId}</h1>
      <p>Nothing to clear: no task matches.</p>
      <p><a href="/runs/${enc(p.runId)}">back to the run</a></p>`;
  }
  return html`<h1>Clear tasks of ${p.runId}</h1>
    <p>These ${p.affected.length} task instance(s) will be cleared and run again (their tries and logs are kept):</p>
    ${affectedTable(p.affected)}
    <form method="post" action="/runs/${enc(p.runId)}/clear" class="actions">
      ${csrfField(v)} ${scopeFields(p.tasks, { downstream: p.downstream, upstream: p.upstream, failed_only: p.failedOnly })}
      <button type="submit" id="confirm-clear">Confirm: clear ${p.affected.length} task(s)</button>
      <a href="/runs/${enc(p.runId)}">cancel</a>
    </form>`;
}

/** Marking task instances, confirmed: the task instances it touches, listed before anything is done. */
export function markConfirmPage(
  p: {
    runId: string;
    tasks: string[];
    state: string;
    downstream: boolean;
    upstream: boolean;
    affected: { task_id: string; state: string | null }[];
  },
  v: Viewer,
): Html {
  return html`<h1>Mark tasks of ${p.runId} ${p.state}</h1>
    <p>
      These ${p.affected.length} task instance(s) will be marked ${p.state} without running (the run is queued again if other
      tasks are still to run):
    </p>
    ${affectedTable(p.affected)}
    <form method="post" action="/runs/${enc(p.runId)}/mark-tasks" class="actions">
      ${csrfField(v)} ${scopeFields(p.tasks, { downstream: p.downstream, upstream: p.upstream })}
      <input type="hidden" name="state" value="${p.state}" />
      <button type="submit" id="confirm-mark">Confirm: mark ${p.affected.length} task(s) ${p.state}</button>
      <a href="/runs/${enc(p.runId)}">cancel</a>
    </form>`;
}

/** Each check's trend over the last runs: a line of its observed value when it is a number, else a status strip. */
function trends(r: RunDetailJson): Html {
  if (!r.trends.length) return raw('');
  const day = (iso: string) => iso.slice(0, 10);
  return html`<h3>Trends over the last ${TREND_RUNS} runs with checks, up to this one</h3>
    <div id="trends" class="trends">
      ${r.trends.map((t) => {
        const title = `${t.task_id}: ${t.name}${t.table ? ` (${t.table})` : ''}`;
        const numeric = t.points.every((p) => typeof p.observed === 'number' && Number.isFinite(p.observed));
        const chart = numeric
          ? lineChart(
              t.points.map((p) => ({
                label: day(p.logical_date),
                value: p.observed as number,
                status: p.status,
                tip: `${p.run_id}: ${String(p.observed)} (${p.status})`,
              })),
              { title, width: 360, height: 110 },
            )
          : statusStrip(
              t.points.map((p) => ({
                label: day(p.logical_date),
                status: p.status,
                tip: `${p.run_id}: ${p.status}, observed ${JSON.stringify(p.observed) ?? 'nothing'}`,
              })),
              title,
            );
        return html`<figure class="trend">
          <figcaption>${title}</figcaption>
          ${raw(chart)}
        </figure>`;
      })}
    </div>`;
}

export function runsPage(
  runs: { run_id: string; dag_id: string; state: string; logical_date: string; run_type: string; duration_ms: number | null }[],
): Html {
  return html`<h1>Recent runs</h1>
    <table>
      <tr>
        <th>run</th>
        <th>DAG</th>
        <th>state</th>
        <th>type</th>
        <th>logical date</th>
        <th>duration</th>
      </tr>
      ${runs.map(
        (r) =>
          html`<tr>
            <td><a href="/runs/${enc(r.run_id)}">${r.run_id}</a></td>
            <td><a href="/dags/${enc(r.dag_id)}">${r.dag_id}</a></td>
            <td>${stateBadge(r.state)}</td>
            <td>${r.run_type}</td>
            <td>${d(r.logical_date)}</td>
            <td>${duration(r.duration_ms)}</td>
          </tr>`,
      )}
    </table>`;
}
