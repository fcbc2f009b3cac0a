/** A task instance's page (its tries and its log, paged and searched) and a DAG file's source. */
import type { TaskLogJson } from '../data.js';
import { duration, html, raw, stateBadge, when, type Html } from '../html.js';
import { d, enc } from './common.js';

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
