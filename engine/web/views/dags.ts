/** The DAG list and a DAG's page (grid, graph, run durations, the trigger form from its params). */
import type { DagGridJson, DagListJson, ParamSpecJson } from '../data.js';
import { GRID_PAGE } from '../data.js';
import { graphSvg } from '../graph.js';
import { duration, html, raw, stateClass, type Html } from '../html.js';
import { csrfField, d, enc, loginHint, type Viewer } from './common.js';

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
