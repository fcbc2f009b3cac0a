/**
 * The pages, rendered on the server from the objects of data.ts. Forms
 * that change state carry the session's CSRF value and are shown only to
 * a logged-in browser.
 */
import { lineChart, statusStrip, timeline, type Bar } from '../cli/report/svg.js';
import type { DagGridJson, DagListJson, ParamSpecJson, RunDetailJson, TaskLogJson } from './data.js';
import { graphSvg } from './graph.js';
import { GRID_PAGE, TREND_RUNS } from './data.js';
import { duration, html, raw, stateBadge, stateClass, when, type Html } from './html.js';
import { CSRF_FIELD } from './security.js';

/** The viewer: whether it may act, and the CSRF value its forms carry. */
export interface Viewer {
  csrf: string | null;
}

const enc = encodeURIComponent;
const d = (s: string | null) => (s ? when(new Date(s)) : '');

function csrfField(v: Viewer): Html {
  return html`<input type="hidden" name="${CSRF_FIELD}" value="${v.csrf ?? ''}" />`;
}

function json(v: unknown): Html {
  return html`<pre class="json">${JSON.stringify(v, null, 2)}</pre>`;
}

function loginHint(path: string): Html {
  return html`<p class="muted">
    <a href="/login?next=${enc(path)}">Log in</a> with the webserver's token to trigger, clear or mark runs.
  </p>`;
}

export function dagListPage(data: DagListJson, v: Viewer): Html {
  const rows = data.dags.map(
    (g) =>
      html`<tr>
        <td>
          <a href="/dags/${enc(g.dag_id)}"><strong>${g.dag_id}</strong></a>
          <div class="muted">${g.description}</div>
        </td>
        <td>
          <code>${g.schedule ?? 'None'}</code>
          <div class="muted">${g.schedule_text}</div>
        </td>
        <td>
          ${g.paused ? html`<span class="paused">paused</span>` : 'active'}
          ${v.csrf ? html` <form method="post" action="/dags/${enc(g.dag_id)}/${g.paused ? 'unpause' : 'pause'}" class="inline">${csrfField(v)}<button type="submit">${g.paused ? 'unpause' : 'pause'}</button></form>` : ''}
        </td>
        <td>
          ${g.recent_runs.map((r) => html`<a class="sq ${stateClass(r.state)}" href="/runs/${enc(r.run_id)}" title="${r.run_id}: ${r.state}"></a>`)}
        </td>
        <td>
          ${
            g.next_run
              ? html`${d(g.next_run.logical_date)}
                  <div class="muted">runs at ${d(g.next_run.runs_at)}</div>`
              : html`<span class="muted">-</span>`
          }
        </td>
        <td>${g.tasks}</td>
        <td><a href="/source/${enc(g.file)}">${g.file}</a></td>
      </tr>`,
  );
  const broken = data.errors.length
    ? html`<h2 class="error">Broken DAG files (${data.errors.length})</h2>
        ${data.errors.map(
          (e) =>
            html`<h3><a href="/source/${enc(e.file)}">${e.file}</a></h3>
              <div class="problems">${e.problems.join('\n')}</div>`,
        )}`
    : '';
  return html`<h1>DAGs</h1>
    ${v.csrf ? '' : loginHint('/')}
    <table id="dags">
      <thead>
        <tr>
          <th>DAG</th>
          <th>Schedule</th>
          <th>Paused</th>
          <th>Recent runs</th>
          <th>Next run</th>
          <th>Tasks</th>
          <th>File</th>
        </tr>
      </thead>
      <tbody>
        ${
          rows.length
            ? rows
            : html`<tr>
                <td colspan="7" class="muted">No valid DAG files in the DAG folder.</td>
              </tr>`
        }
      </tbody>
    </table>
    ${broken}`;
}

/** Run durations of the grid's runs as bars (seconds), oldest left. */
function durationChart(runs: DagGridJson['runs']): Html {
  const w = Math.max(runs.length * 22 + 40, 200);
  const h = 90;
  const max = Math.max(1, ...runs.map((r) => r.duration_ms ?? 0));
  const bars = runs.map((r, i) => {
    const bh = Math.max(((r.duration_ms ?? 0) / max) * (h - 20), r.duration_ms ? 2 : 0);
    return `<rect x="${40 + i * 22}" y="${(h - 10 - bh).toFixed(1)}" width="16" height="${bh.toFixed(1)}" class="${stateClass(r.state)}"><title>${html`${r.run_id}: ${duration(r.duration_ms) || 'not finished'}`}</title></rect>`;
  });
  return raw(
    `<svg class="chart durations" viewBox="0 0 ${w} ${h}" width="${w}" height="${h}" xmlns="http://www.w3.org/2000/svg"><title>run durations</title>` +
      `<text x="2" y="12" class="tick">${html`${duration(max)}`}</text><text x="2" y="${h - 12}" class="tick">0</text>${bars.join('')}</svg>`,
  );
}

/** The form field name of a param in the trigger form (actions.ts reads them back). */
export const PARAM_FIELD = 'param.';

/** One input per DAG param, shaped by its type, with its default filled in; required ones marked. */
function paramInputs(specs: ParamSpecJson[]): Html {
  if (!specs.length) return html``;
  const input = (p: ParamSpecJson) => {
    const name = PARAM_FIELD + p.name;
    const req = p.required ? raw(' required') : '';
    const def = p.default;
    if (p.enum) {
      return html`<select name="${name}" ${req}>
        ${p.required ? html`<option value="">(choose)</option>` : ''}
        ${p.enum.map((o) => html`<option value="${typeof o === 'string' ? o : JSON.stringify(o)}" ${JSON.stringify(o) === JSON.stringify(def) ? raw(' selected') : ''}>${String(o)}</option>`)}
      </select>`;
    }
    switch (p.type) {
      case 'boolean':
        return html`<select name="${name}" ${req}>
          ${p.required ? html`<option value="">(choose)</option>` : ''}
          <option value="true" ${def === true ? raw(' selected') : ''}>true</option>
          <option value="false" ${def === false ? raw(' selected') : ''}>false</option>
        </select>`;
      case 'integer':
      case 'number':
        return html`<input
          type="number"
          name="${name}"
          value="${def ?? ''}"
          step="${p.type === 'integer' ? '1' : 'any'}"
          ${req}
        />`;
      case 'array':
      case 'object':
        return html`<textarea
          name="${name}"
          class="small"
          placeholder="${p.type === 'array' ? '[...] (JSON)' : '{...} (JSON)'}"
          ${req}
        >
${def === null ? '' : JSON.stringify(def)}</textarea>`;
      case 'string':
        return html`<input
          type="${p.format === 'date' ? 'date' : 'text'}"
          name="${name}"
          value="${def ?? ''}"
          size="30"
          ${req}
        />`;
      default:
        // several types, or null: typed as JSON (a bare word is taken as a string)
        return html`<input
          type="text"
          name="${name}"
          value="${def === null ? '' : typeof def === 'string' ? def : JSON.stringify(def)}"
          size="30"
          ${req}
        />`;
    }
  };
  return html`<table class="params" id="params">
    ${specs.map(
      (p) =>
        html`<tr>
          <th><label>${p.name}${p.required ? html`<span class="req" title="required"> *</span>` : ''}</label></th>
          <td>${input(p)}</td>
          <td class="muted">
            ${p.types ? p.types.join(' | ') : (p.type ?? 'any')}${p.description ? html` · ${p.description}` : ''}
          </td>
        </tr>`,
    )}
  </table>`;
}

export function dagPage(g: DagGridJson, v: Viewer, flash?: string, selected?: string): Html {
  const sel = g.runs.find((r) => r.run_id === selected) ?? g.runs[g.runs.length - 1];
  const pager = html`<div class="pager">
    ${g.page > 0 ? html`<a href="?page=${g.page - 1}">newer runs</a>` : ''}
    <span>runs ${g.page * GRID_PAGE + 1}–${g.page * GRID_PAGE + g.runs.length}</span
    >${g.has_older ? html`<a href="?page=${g.page + 1}">older runs</a>` : ''}
  </div>`;
  const head = html`<tr>
      <th>task</th>
      ${g.runs.map((r) => html`<th class="run${r === sel ? ' sel' : ''}" title="${r.run_id}"><a href="?page=${g.page}&run=${enc(r.run_id)}">${d(r.logical_date)}</a></th>`)}
    </tr>
    <tr>
      <th class="muted">run</th>
      ${g.runs.map((r) => html`<td class="cell"><a class="${stateClass(r.state)}" href="/runs/${enc(r.run_id)}" title="${r.run_id}: ${r.state}"></a></td>`)}
    </tr>`;
  const body = g.tasks.map(
    (t) =>
      html`<tr>
        <th>${t.task_id} <span class="muted">${t.operator}</span></th>
        ${g.runs.map((r) => {
          const s = r.tasks[t.task_id];
          return html`<td class="cell">
            <a
              class="${stateClass(s)}"
              href="/runs/${enc(r.run_id)}/tasks/${enc(t.task_id)}"
              title="${t.task_id} in ${r.run_id}: ${s ?? 'no status'}"
            ></a>
          </td>`;
        })}
      </tr>`,
  );
  const actions = v.csrf
    ? html`<div class="actions">
        <form method="post" action="/dags/${enc(g.dag_id)}/trigger" id="trigger">
          ${csrfField(v)}<strong>Trigger DAG</strong><br />
          <label
            >logical date
            <input type="text" name="date" placeholder="2018-11-21 (default: last complete interval)" size="34" /></label
          ><br />
          ${paramInputs(g.param_specs)}
          ${
            g.param_specs.length
              ? ''
              : html`<label>conf (JSON)<br /><textarea name="conf" placeholder='{"key": "value"}'></textarea></label><br />`
          }
          <button type="submit">Trigger</button>
        </form>
        ${
          g.schedule !== null
            ? html`<form method="post" action="/dags/${enc(g.dag_id)}/backfill" id="backfill">
                ${csrfField(v)}<strong>Backfill</strong><br />
                <label>from <input type="text" name="from" placeholder="2018-11-01" size="12" required /></label>
                <label>to <input type="text" name="to" placeholder="2018-11-07" size="12" required /></label><br />
                <label
                  >existing runs
                  <select name="reprocess">
                    <option value="none">skip them</option>
                    <option value="failed">rerun the failed ones (their failed tasks)</option>
                    <option value="completed">rerun them all</option>
                  </select></label
                ><br />
                <button type="submit">Backfill</button>
              </form>`
            : ''
        }
        <form method="post" action="/dags/${enc(g.dag_id)}/${g.paused ? 'unpause' : 'pause'}">
          ${csrfField(v)}<button type="submit">${g.paused ? 'Unpause' : 'Pause'} DAG</button>
        </form>
      </div>`
    : loginHint(`/dags/${g.dag_id}`);
  return html`<h1>DAG ${g.dag_id} ${g.paused ? html`<span class="paused">(paused)</span>` : ''}</h1>
    ${flash ? html`<div class="flash">${flash}</div>` : ''}
    <p>${g.description}</p>
    <table class="kv">
      <tr>
        <th>schedule</th>
        <td><code>${g.schedule ?? 'None'}</code> (${g.schedule_text}, ${g.timezone})</td>
      </tr>
      <tr>
        <th>next run</th>
        <td>${g.next_run ? html`${d(g.next_run.logical_date)}, runs at ${d(g.next_run.runs_at)}` : '-'}</td>
      </tr>
      <tr>
        <th>file</th>
        <td><a href="/source/${enc(g.file)}">${g.file}</a></td>
      </tr>
    </table>
    ${actions}
    <h2>Grid</h2>
    ${
      g.runs.length
        ? html`${durationChart(g.runs)}${pager}
            <div class="split">
              <div>
                <table class="grid">
                  ${head}${body}
                </table>
              </div>
              <div id="graph">
                <h3>Graph of <a href="/runs/${enc(sel!.run_id)}">${sel!.run_id}</a></h3>
                ${raw(graphSvg(g.tasks, sel!.tasks, (t) => `/runs/${enc(sel!.run_id)}/tasks/${enc(t)}`))}
              </div>
            </div>`
        : html`<p class="muted">No runs yet.</p>
            <div id="graph">${raw(graphSvg(g.tasks, {}))}</div>`
    }`;
}

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
    <table id="affected">
      <tr>
        <th>task</th>
        <th>current state</th>
      </tr>
      ${p.affected.map(
        (a) =>
          html`<tr>
            <td>${a.task_id}</td>
            <td>${stateBadge(a.state)}</td>
          </tr>`,
      )}
    </table>
    <form method="post" action="/runs/${enc(p.runId)}/clear" class="actions">
      ${csrfField(v)} ${p.tasks.map((t) => html`<input type="hidden" name="task" value="${t}" />`)}
      ${p.downstream ? html`<input type="hidden" name="downstream" value="true" />` : ''}${p.upstream ? html`<input type="hidden" name="upstream" value="true" />` : ''}${p.failedOnly ? html`<input type="hidden" name="failed_only" value="true" />` : ''}
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
    <table id="affected">
      <tr>
        <th>task</th>
        <th>current state</th>
      </tr>
      ${p.affected.map(
        (a) =>
          html`<tr>
            <td>${a.task_id}</td>
            <td>${stateBadge(a.state)}</td>
          </tr>`,
      )}
    </table>
    <form method="post" action="/runs/${enc(p.runId)}/mark-tasks" class="actions">
      ${csrfField(v)} ${p.tasks.map((t) => html`<input type="hidden" name="task" value="${t}" />`)}
      <input type="hidden" name="state" value="${p.state}" />
      ${p.downstream ? html`<input type="hidden" name="downstream" value="true" />` : ''}${p.upstream ? html`<input type="hidden" name="upstream" value="true" />` : ''}
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

function mark(text: string, q: string | null): Html {
  if (!q) return html`${text}`;
  const lower = text.toLowerCase();
  const needle = q.toLowerCase();
  const parts: Html[] = [];
  let at = 0;
  for (let i = lower.indexOf(needle); i >= 0; i = lower.indexOf(needle, i + needle.length)) {
    parts.push(html`${text.slice(at, i)}<mark>${text.slice(i, i + needle.length)}</mark>`);
    at = i + needle.length;
  }
  parts.push(html`${text.slice(at)}`);
  return html`${parts}`;
}

export function taskPage(t: TaskLogJson, tail = false): Html {
  const base = `/runs/${enc(t.run.run_id)}/tasks/${enc(t.task.task_id)}`;
  const qs = (o: Record<string, string | number | null>) =>
    '?' +
    Object.entries({ try: t.try_number, q: t.q, count: t.count, ...o })
      .filter(([, x]) => x !== null && x !== '')
      .map(([k, x]) => `${k}=${enc(String(x))}`)
      .join('&');
  const pool = t.matches ?? t.total_lines;
  const prev = t.from > 1 ? html`<a href="${qs({ from: Math.max(1, t.from - t.count) })}">previous</a>` : '';
  const next = t.from - 1 + t.count < pool ? html`<a href="${qs({ from: t.from + t.count })}">next</a>` : '';
  const last = pool > t.count ? html`<a href="${qs({ from: Math.max(1, pool - t.count + 1) })}">last</a>` : '';
  const shown = t.lines.length ? `${t.from}–${t.from + t.lines.length - 1} of ${pool}` : `0 of ${pool}`;
  const tries = html`<table id="tries">
    <tr>
      <th>try</th>
      <th>state</th>
      <th>started</th>
      <th>duration</th>
      <th>host / pid</th>
      <th>error</th>
    </tr>
    ${t.tries.map(
      (tr) =>
        html`<tr>
          <td><a href="${base}?try=${tr.try_number}">${tr.try_number}</a>${tr.try_number === t.try_number ? ' ◀' : ''}</td>
          <td>${stateBadge(tr.state)}</td>
          <td>${d(tr.started_at)}</td>
          <td>${duration(tr.duration_ms)}</td>
          <td>${tr.host} / ${tr.pid}</td>
          <td>${tr.error ? html`<pre>${tr.error}</pre>` : ''}</td>
        </tr>`,
    )}
  </table>`;
  const lines = t.lines.map(
    (l) =>
      html`<div class="line ${l.level}">
        <span class="ln">${l.line}</span><span class="lv">${l.level.toUpperCase()}</span> ${when(new Date(l.ts)).slice(11)}
        ${mark(l.msg, t.q)}${l.data ? html` <span class="data">${mark(JSON.stringify(l.data), t.q)}</span>` : ''}
      </div>`,
  );
  const rejections = t.rejections.length
    ? html`<h2>Rejected lines</h2>
        <table>
          <tr>
            <th>table</th>
            <th>object</th>
            <th>line</th>
            <th>reason</th>
          </tr>
          ${t.rejections.map(
            (r) =>
              html`<tr>
                <td>${r.table}</td>
                <td>${r.object}</td>
                <td>${r.line}</td>
                <td>${r.reason}</td>
              </tr>`,
          )}
        </table>`
    : '';
  return html`<h1>Task ${t.task.task_id}</h1>
    <p>
      Run <a href="/runs/${enc(t.run.run_id)}">${t.run.run_id}</a> of <a href="/dags/${enc(t.run.dag_id)}">${t.run.dag_id}</a> ·
      state ${stateBadge(t.task.state)} · operator ${t.task.operator}
    </p>
    <h2>Tries</h2>
    ${t.tries.length ? tries : html`<p class="muted">Not tried yet.</p>`}
    <h2>Log${t.try_number ? ` of try ${t.try_number}` : ''}</h2>
    <form method="get" action="${base}" class="actions" id="search">
      ${t.try_number ? html`<input type="hidden" name="try" value="${t.try_number}" />` : ''}
      <input type="search" name="q" value="${t.q ?? ''}" placeholder="search the log" />
      <button type="submit">Search</button>
      ${t.q !== null ? html`<span id="match-count">${t.matches} match${t.matches === 1 ? '' : 'es'} in ${t.total_lines} lines</span> <a href="${base}${t.try_number ? `?try=${t.try_number}` : ''}">clear search</a>` : html`<span class="muted"><span id="line-total">${t.total_lines}</span> lines</span>`}
    </form>
    <div class="pager">${prev}<span>lines ${shown}</span>${next}${last}</div>
    <div class="log" id="log" ${tail ? raw('data-tail') : ''}>
      ${lines.length ? lines : html`<span class="muted">${t.q ? 'No line matches.' : 'No log lines.'}</span>`}
    </div>
    ${rejections}`;
}

/** YAML with line numbers, keys, strings and comments told apart; the lines a problem names marked. */
export function sourcePage(name: string, text: string, problems: string[], badLines: Set<number>): Html {
  const lines = text.split('\n').map((line, i) => {
    const m = /^(\s*-?\s*)([\w.-]+)(:)(.*)$/.exec(line);
    const rest = (s: string) => {
      const c = s.indexOf(' #');
      const body = c >= 0 ? s.slice(0, c) : s;
      const comment = c >= 0 ? s.slice(c) : '';
      return html`${/^\s*["']/.test(body) ? html`<span class="s">${body}</span>` : body}${comment ? html`<span class="c">${comment}</span>` : ''}`;
    };
    const content = /^\s*#/.test(line)
      ? html`<span class="c">${line}</span>`
      : m
        ? html`${m[1]}<span class="k">${m[2]}</span>${m[3]}${rest(m[4]!)}`
        : rest(line);
    return html`<div class="${badLines.has(i + 1) ? 'bad' : ''}"><span class="ln">${i + 1}</span>${content}</div>`;
  });
  return html`<h1>DAG file ${name}</h1>
    ${
      problems.length
        ? html`<h2 class="error">Validation: ${problems.length} problem(s)</h2>
            <div class="problems">${problems.join('\n')}</div>`
        : html`<p>Validation: <span class="badge st-success">valid</span></p>`
    }
    <pre class="src">${lines}</pre>`;
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

export function loginPage(next: string, error?: string): Html {
  return html`<h1>Log in</h1>
    ${error ? html`<p class="error">${error}</p>` : ''}
    <p>Paste the token the webserver printed when it started (or the value of SLUICE_WEB_TOKEN).</p>
    <form method="post" action="/login" class="actions">
      <input type="hidden" name="next" value="${next}" />
      <label>token <input type="password" name="token" autocomplete="current-password" size="40" /></label>
      <button type="submit">Log in</button>
    </form>`;
}

export function errorPage(status: number, message: string): Html {
  return html`<h1>${status === 404 ? 'Not found' : status >= 500 ? 'Server error' : 'Request refused'}</h1>
    <p class="error" id="error">${message}</p>
    <p><a href="/">back to the DAGs</a></p>`;
}
