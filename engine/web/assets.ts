/**
 * The web UI's stylesheet and script, served from the package itself
 * (/assets/...): the pages need no network beyond the server.
 */
import { STATE_COLOURS } from './html.js';

const stateRules = Object.entries(STATE_COLOURS)
  .map(([s, c]) => `.st-${s}{background:${c};${['success', 'failed', 'queued'].includes(s) ? 'color:#fff;' : ''}}`)
  .join('\n');

/** The same colours as SVG fills (the run-duration bars). */
const fillRules = Object.entries(STATE_COLOURS)
  .map(([s, c]) => `svg .st-${s}{fill:${c}}`)
  .join('\n');

export const CSS = `
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2126;background:#fafbfc}
header{display:flex;gap:1.5em;align-items:center;padding:.6em 1.2em;background:#017cee;color:#fff}
header a{color:#fff;text-decoration:none}header nav a{margin-right:1em}.brand{font-weight:700;font-size:1.2em}
.account{margin-left:auto}main{padding:1em 1.5em;max-width:1400px}
h1{font-size:1.5em;margin:.2em 0 .6em}h2{font-size:1.15em;margin:1.4em 0 .5em}
table{border-collapse:collapse;background:#fff}th,td{border-bottom:1px solid #e3e6ea;padding:.35em .6em;text-align:left;vertical-align:top}
th{background:#f1f3f5;font-weight:600}a{color:#0b62c4}
.badge{display:inline-block;padding:.05em .5em;border-radius:.7em;font-size:.85em;border:1px solid #ccd}
.sq{display:inline-block;width:14px;height:14px;margin-right:2px;border-radius:2px;border:1px solid #0002;vertical-align:middle}
.grid td.cell{padding:2px;text-align:center}.grid td.cell a{display:block;width:18px;height:18px;border-radius:3px;border:1px solid #0002}
.grid th.run{writing-mode:vertical-rl;transform:rotate(180deg);font-weight:400;font-size:.8em;white-space:nowrap}
${stateRules}
${fillRules}
.paused{color:#8a5a00}.muted{color:#6a737d}.error{color:#b00020}
.problems{background:#fff4f4;border:1px solid #f2c0c0;padding:.6em 1em;white-space:pre-wrap}
pre,code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
pre.json{background:#f6f8fa;padding:.6em;overflow:auto;max-height:30em}
.log{background:#111;color:#ddd;padding:.5em;overflow:auto}.log .ln{color:#777;display:inline-block;min-width:5em;user-select:none}
.log .lv{display:inline-block;min-width:3.5em}.log .debug{color:#8a8a8a}.log .info{color:#9fd3ff}.log .warn{color:#ffd24d}
.log .error,.log .fatal{color:#ff6b6b}.log mark{background:#ffea00;color:#000}.log .data{color:#9a9a9a}
.src{background:#fff;border:1px solid #e3e6ea;padding:.5em;overflow:auto}.src .ln{color:#999;display:inline-block;min-width:3.5em;user-select:none}
.src .k{color:#0550ae}.src .c{color:#6a737d;font-style:italic}.src .s{color:#0a7f3f}.src .bad{background:#ffe3e3}
form.inline{display:inline}button.link{background:none;border:0;color:inherit;cursor:pointer;text-decoration:underline;font:inherit}
.actions{display:flex;gap:1em;flex-wrap:wrap;align-items:flex-start;margin:.6em 0}
.actions form{background:#fff;border:1px solid #e3e6ea;padding:.6em .8em;border-radius:4px}
button{cursor:pointer}input,textarea,select,button{font:inherit}textarea{width:28em;height:5em}
.pager a,.pager span{margin-right:.8em}.flash{background:#e8f5e9;border:1px solid #a5d6a7;padding:.5em 1em;margin-bottom:1em}
svg.chart{background:#fff;border:1px solid #e3e6ea;max-width:100%}svg .lane,svg .tick{font-size:11px;fill:#444}
.kv th{width:12em}
.split{display:flex;gap:1.5em;align-items:flex-start;flex-wrap:wrap}.split>div{overflow:auto;max-width:100%}
svg.graph{background:#fff;border:1px solid #e3e6ea;max-width:100%;height:auto}svg.graph .node rect{stroke:#0004;stroke-width:1}
svg.graph text{font-size:11.5px;fill:#1d2126}svg.graph text.op{fill:#555;font-size:10.5px}
svg.graph .dark text{fill:#fff}svg.graph .edge{fill:none;stroke:#889;stroke-width:1.3}
svg.graph .arrow{fill:#889}svg.graph a:hover rect{stroke:#017cee;stroke-width:2}
.grid th.sel{background:#dbeafe}
.params td{vertical-align:middle}.params .req{color:#b00020}
`;

/**
 * Confirmation before a destructive form, "select all" for the clear form's
 * task boxes, and live pages: a page whose <main> names an event stream
 * (data-live, see live.ts) listens to it; on \`change\` it fetches itself
 * again and swaps its content (no full reload: scroll and focus stay), on
 * \`lines\` it appends the new log lines to the tail, on \`end\` it stops.
 * The lines are built with textContent: log text never becomes markup.
 */
export const JS = `
document.addEventListener('submit', function (e) {
  var f = e.target;
  var msg = f.getAttribute('data-confirm');
  if (msg && !window.confirm(msg)) e.preventDefault();
});
document.addEventListener('change', function (e) {
  var t = e.target;
  if (t && t.matches && t.matches('input[data-all]')) {
    document.querySelectorAll('input[name="' + t.getAttribute('data-all') + '"]').forEach(function (c) { c.checked = t.checked; });
  }
});
(function () {
  var source = null;
  var busy = false;
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function swap() {
    if (busy) return;
    busy = true;
    fetch(location.href, { headers: { 'X-Sluice-Live': '1' }, credentials: 'same-origin' })
      .then(function (r) { return r.text(); })
      .then(function (text) {
        var doc = new DOMParser().parseFromString(text, 'text/html');
        var fresh = doc.querySelector('main');
        var main = document.querySelector('main');
        if (!fresh || !main) return;
        main.innerHTML = fresh.innerHTML;
        document.title = doc.title;
        var was = main.getAttribute('data-live');
        var now = fresh.getAttribute('data-live');
        if (now) main.setAttribute('data-live', now); else main.removeAttribute('data-live');
        main.setAttribute('data-updated', String(Date.now()));
        if (now !== was) connect();
      })
      .catch(function () {})
      .then(function () { busy = false; });
  }
  function append(lines) {
    var log = document.getElementById('log');
    if (!log || !log.hasAttribute('data-tail')) return;
    var empty = log.querySelector('.muted');
    if (empty) empty.remove();
    lines.forEach(function (l) {
      var d = el('div', 'line ' + l.level);
      d.appendChild(el('span', 'ln', String(l.line)));
      d.appendChild(el('span', 'lv', l.level.toUpperCase()));
      d.appendChild(document.createTextNode(' ' + l.ts.slice(11, 19) + 'Z ' + l.msg));
      if (l.data) d.appendChild(el('span', 'data', ' ' + JSON.stringify(l.data)));
      log.appendChild(d);
    });
    var total = document.getElementById('line-total');
    if (total && lines.length) total.textContent = String(lines[lines.length - 1].line);
    var atBottom = window.innerHeight + window.scrollY >= document.body.scrollHeight - 80;
    if (atBottom) window.scrollTo(0, document.body.scrollHeight);
  }
  function connect() {
    if (source) source.close();
    source = null;
    var main = document.querySelector('main');
    var url = main && main.getAttribute('data-live');
    if (!url || !window.EventSource) return;
    source = new EventSource(url);
    source.addEventListener('change', swap);
    source.addEventListener('lines', function (e) { append(JSON.parse(e.data)); });
    source.addEventListener('end', function () { source.close(); source = null; swap(); });
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', connect); else connect();
})();
`;
