// The web dashboard's page and its script, served by src/ops/web/server.ts. Self-contained: no external
// asset, font or CDN (it works offline); the script is served as /app.js so the CSP needs no inline script.
// Safety: every piece of data goes into the DOM through textContent or createTextNode, never as HTML.

export const PAGE_HTML = String.raw`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>commit-relay</title>
<style>
  :root { color-scheme: light dark; --bg: #fff; --fg: #1d1f21; --muted: #6a6f75; --line: #d8dbe0; --sel: #e6f0ff; --bad: #c62828; --warn: #b26a00; --ok: #2e7d32; --info: #1565c0; }
  @media (prefers-color-scheme: dark) { :root { --bg: #17191c; --fg: #e3e5e8; --muted: #9aa0a6; --line: #33373d; --sel: #203049; --bad: #ef5350; --warn: #ffb74d; --ok: #66bb6a; --info: #64b5f6; } }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.4 system-ui, sans-serif; background: var(--bg); color: var(--fg); }
  header { display: flex; gap: 1em; align-items: baseline; flex-wrap: wrap; padding: .6em 1em; border-bottom: 1px solid var(--line); }
  header h1 { font-size: 1.1em; margin: 0; }
  main { display: grid; grid-template-columns: minmax(0, 2fr) minmax(0, 1fr); gap: 1em; padding: 1em; }
  @media (max-width: 1200px) { main { grid-template-columns: minmax(0, 1fr); } }
  section { margin-bottom: 1.2em; }
  h2 { font-size: 1em; margin: 0 0 .4em; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: .25em .5em; border-bottom: 1px solid var(--line); vertical-align: top; }
  th { font-weight: 600; color: var(--muted); white-space: nowrap; }
  td.id, td.num { font-family: ui-monospace, monospace; white-space: nowrap; }
  td.wrap { overflow-wrap: break-word; min-width: 8em; }
  td.nowrap { white-space: nowrap; }
  .scroll { overflow-x: auto; }
  table.no-usage .usage { display: none; }
  .task-id { font-family: ui-monospace, monospace; font-size: 12px; }
  tbody tr.row { cursor: pointer; }
  tbody tr.row:hover, tbody tr.row:focus { background: var(--sel); outline: none; }
  tbody tr.selected { background: var(--sel); }
  .muted { color: var(--muted); }
  .badge { display: inline-block; padding: 0 .45em; border-radius: .6em; border: 1px solid currentColor; font-size: .9em; white-space: nowrap; }
  .h-healthy, .s-ok, .sev-info { color: var(--ok); }
  .h-starting, .h-backoff, .h-unseen { color: var(--info); }
  .h-late, .h-blocked, .h-exited, .sev-warning, .s-warn { color: var(--warn); }
  .h-stalled, .h-zombie, .sev-critical, .s-bad { color: var(--bad); }
  .chips span { margin-right: 1em; white-space: nowrap; }
  dl { display: grid; grid-template-columns: max-content 1fr; gap: .15em .8em; margin: 0 0 .8em; }
  dt { color: var(--muted); }
  dd { margin: 0; overflow-wrap: anywhere; }
  pre#log { margin: 0; max-height: 28em; overflow: auto; padding: .5em; border: 1px solid var(--line); font: 12px/1.35 ui-monospace, monospace; white-space: pre-wrap; overflow-wrap: anywhere; }
  ul { margin: 0; padding-left: 1.2em; }
  #activity li, #detail-events li { font-family: ui-monospace, monospace; font-size: 12px; }
  [hidden] { display: none !important; }
</style>
</head>
<body>
<header>
  <h1>commit-relay</h1>
  <span id="daemon" class="badge">connecting</span>
  <span id="daemon-message" class="muted"></span>
  <span id="conn" class="muted">connecting…</span>
</header>
<main>
  <div>
    <section id="summary-section"><div id="summary" class="chips"></div></section>
    <section id="alerts-section" hidden><h2>Alerts</h2><ul id="alerts"></ul></section>
    <section id="problems-section" hidden><h2>Problems</h2><ul id="problems"></ul></section>
    <section>
      <h2>Workers</h2>
      <div class="scroll"><table id="workers" class="no-usage">
        <thead><tr><th>worker</th><th>type</th><th>status</th><th>health</th><th>why</th><th>task</th><th>restarts</th><th>uptime</th><th>check-in</th><th>progress</th><th>message</th><th class="usage">cpu</th><th class="usage">memory</th></tr></thead>
        <tbody></tbody>
      </table></div>
      <p id="workers-empty" class="muted" hidden>No active workers.</p>
    </section>
    <section id="recent-section" hidden>
      <h2>Recently finished</h2>
      <div class="scroll"><table id="recent"><thead><tr><th>worker</th><th>type</th><th>status</th><th>task</th><th>ended</th><th>why</th></tr></thead><tbody></tbody></table></div>
    </section>
    <section id="pauses-section" hidden><h2>Dispatch pauses</h2><table id="pauses"><thead><tr><th>scope</th><th>reason</th><th>until</th><th>by</th></tr></thead><tbody></tbody></table></section>
    <section id="hosts-section" hidden>
      <h2>Hosts</h2>
      <p id="fleet-queue" class="chips"></p>
      <p id="fleet-problem" class="s-bad" hidden></p>
      <div class="scroll"><table id="hosts"><thead><tr><th>host</th><th>state</th><th>pid</th><th>slots</th><th>leases</th><th>paused</th><th>workers</th><th>last seen</th></tr></thead><tbody></tbody></table></div>
    </section>
  </div>
  <div>
    <section id="detail-section">
      <h2 id="detail-title">Worker detail</h2>
      <p id="detail-hint" class="muted">Click a worker to see its detail and follow its log.</p>
      <div id="detail" hidden>
        <dl id="detail-fields"></dl>
        <h2>Events</h2>
        <ul id="detail-events"></ul>
        <h2>Log <span id="log-state" class="muted"></span></h2>
        <pre id="log"></pre>
      </div>
    </section>
    <section><h2>Activity</h2><ul id="activity"></ul></section>
  </div>
</main>
<script src="/app.js"></script>
</body>
</html>
`;

export const APP_JS = String.raw`'use strict';
(function () {
  var MAX_LOG_LINES = 2000;
  var MAX_ACTIVITY = 200;
  var state = null;
  var receivedAt = Date.now();
  var selected = null;
  var logSource = null;
  var activity = [];
  // Fields that say how long ago, shown aged (value: the suffix).
  var AGES = { uptime_seconds: ' ', last_checkin_age_seconds: ' ago' };

  function $(id) { return document.getElementById(id); }

  // Builds an element; children are nodes or values shown as text (never parsed as HTML).
  function el(tag, className, children) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    (children || []).forEach(function (child) {
      if (child === null || child === undefined) return;
      node.appendChild(typeof child === 'object' ? child : document.createTextNode(String(child)));
    });
    return node;
  }

  function setText(node, value) { node.textContent = value === null || value === undefined ? '' : String(value); }

  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

  // A class name made only of safe characters from a value (health states, severities).
  function token(prefix, value) { return prefix + String(value === null || value === undefined ? 'unseen' : value).replace(/[^a-z0-9_-]/gi, '_'); }

  function duration(seconds) {
    if (seconds === null || seconds === undefined || !isFinite(seconds)) return '';
    var s = Math.max(0, Math.round(seconds));
    if (s < 90) return s + 's';
    if (s < 5400) return Math.round(s / 60) + 'm';
    if (s < 172800) return Math.round(s / 3600) + 'h';
    return Math.round(s / 86400) + 'd';
  }

  function bytes(n) {
    if (n === null || n === undefined || !isFinite(n)) return '';
    if (n < 1024 * 1024) return Math.round(n / 1024) + ' KiB';
    if (n < 1024 * 1024 * 1024) return (n / 1048576).toFixed(1) + ' MiB';
    return (n / 1073741824).toFixed(2) + ' GiB';
  }

  // An age the server computed, grown by the time since it was received; updated every second.
  function ageSpan(seconds, suffix, tag) {
    var node = el(tag || 'span', tag ? 'num' : null);
    if (seconds !== null && seconds !== undefined) {
      node.setAttribute('data-age', String(seconds));
      if (suffix) node.setAttribute('data-suffix', suffix);
    }
    paintAge(node);
    return node;
  }

  function ageCell(seconds, suffix) { return ageSpan(seconds, suffix, 'td'); }

  function paintAge(td) {
    var base = td.getAttribute('data-age');
    if (base === null) return setText(td, '');
    setText(td, duration(Number(base) + (Date.now() - receivedAt) / 1000) + (td.getAttribute('data-suffix') || ''));
  }

  function cell(value, className) { return el('td', className || 'wrap', [value]); }

  function badge(value, prefix) { return el('span', 'badge ' + token(prefix, value), [value === null || value === undefined ? 'unseen' : value]); }

  function taskCell(w) { return el('td', 'wrap', [w.description ? el('div', 'desc', [w.description]) : null, el('div', 'muted task-id', [w.task_id])]); }

  function rowFor(w) {
    var tr = el('tr', 'row', [
      cell(w.worker_id, 'id'),
      cell(w.worker_type, 'nowrap'),
      cell(w.stopped ? 'stopped' : w.status, 'nowrap'),
      el('td', null, [badge(w.health_state, 'h-')]),
      cell(w.stopped ? w.stopped_reason : w.health_reason),
      taskCell(w),
      cell(w.restarts, 'num'),
      ageCell(w.uptime_seconds),
      ageCell(w.last_checkin_age_seconds, ' ago'),
      cell(w.progress_pct === null || w.progress_pct === undefined ? '' : w.progress_pct + '%', 'num'),
      cell(w.message),
      cell(w.cpu_percent === null || w.cpu_percent === undefined ? '' : Number(w.cpu_percent).toFixed(1) + '%', 'num usage'),
      cell(bytes(w.rss_bytes), 'num usage')
    ]);
    tr.setAttribute('data-worker-id', w.worker_id);
    tr.tabIndex = 0;
    if (w.worker_id === selected) tr.classList.add('selected');
    tr.addEventListener('click', function () { select(w.worker_id); });
    tr.addEventListener('keydown', function (e) { if (e.key === 'Enter') select(w.worker_id); });
    return tr;
  }

  function fill(tbody, rows) {
    clear(tbody);
    rows.forEach(function (r) { tbody.appendChild(r); });
  }

  function show(id, visible) { $(id).hidden = !visible; }

  function renderHeader(m) {
    var d = m.daemon || {};
    var daemon = $('daemon');
    setText(daemon, d.state || 'unknown');
    daemon.className = 'badge ' + (d.ok ? 's-ok' : 's-bad');
    // A healthy daemon's message ages between state messages (which come only on a change): worded here, aged each second.
    var box = $('daemon-message');
    clear(box);
    if (!d.ok) return setText(box, d.message || '');
    box.appendChild(el('span', null, ['pid ' + d.pid + ', up ']));
    box.appendChild(ageSpan(d.uptime_seconds, ''));
    box.appendChild(el('span', null, [', last pass ']));
    box.appendChild(ageSpan(d.last_pass_age_seconds, ' ago'));
  }

  function renderSummary(s) {
    var m = s.model;
    var parts = [];
    parts.push(['workers', m.totals.workers]);
    Object.keys(m.totals.by_health).forEach(function (h) { if (m.totals.by_health[h] > 0) parts.push([h, m.totals.by_health[h]]); });
    Object.keys(m.totals.by_status).forEach(function (k) { if (m.totals.by_status[k] > 0) parts.push([k, m.totals.by_status[k]]); });
    parts.push(['queued', m.queue_depth === null ? '?' : m.queue_depth]);
    if (s.queue_jobs) Object.keys(s.queue_jobs).forEach(function (k) { parts.push(['jobs ' + k, s.queue_jobs[k]]); });
    if (m.health_stale) parts.push(['note', 'the daemon is not running: health as it last saw it']);
    var box = $('summary');
    clear(box);
    parts.forEach(function (p) { box.appendChild(el('span', null, [el('span', 'muted', [p[0] + ': ']), p[1]])); });
  }

  function renderAlerts(m) {
    var list = $('alerts');
    clear(list);
    m.alerts.forEach(function (a) {
      list.appendChild(el('li', null, [badge(a.severity, 'sev-'), ' ', a.message, ' ', el('span', 'muted', [a.worker_ids && a.worker_ids.length ? '(' + a.worker_ids.join(', ') + ')' : ''])]));
    });
    show('alerts-section', m.alerts.length > 0);
    var problems = $('problems');
    clear(problems);
    m.problems.forEach(function (p) { problems.appendChild(el('li', 's-bad', [p])); });
    show('problems-section', m.problems.length > 0);
  }

  function renderRecent(m) {
    var recent = Array.isArray(m.recent) ? m.recent : [];
    fill(document.querySelector('#recent tbody'), recent.map(function (w) {
      var tr = el('tr', 'row', [
        cell(w.worker_id, 'id'),
        cell(w.worker_type),
        cell(w.status),
        taskCell(w),
        cell(w.ended_at || w.finished_at || w.completed_at || w.failed_at || '', 'num'),
        cell(w.error || w.reason || w.health_reason || '')
      ]);
      tr.setAttribute('data-worker-id', w.worker_id);
      tr.tabIndex = 0;
      tr.addEventListener('click', function () { select(w.worker_id); });
      return tr;
    }));
    show('recent-section', recent.length > 0);
  }

  function renderPauses(m) {
    var pauses = m.dispatch_pauses || [];
    fill(document.querySelector('#pauses tbody'), pauses.map(function (p) { return el('tr', null, [cell(p.scope, 'id'), cell(p.reason), cell(p.until || 'until resumed', 'num'), cell(p.by)]); }));
    show('pauses-section', pauses.length > 0);
  }

  function renderHosts(s) {
    var visible = !!(s.fleet || s.fleet_problem);
    show('hosts-section', visible);
    if (!visible) return;
    show('fleet-problem', !!s.fleet_problem);
    setText($('fleet-problem'), s.fleet_problem || '');
    var q = $('fleet-queue');
    clear(q);
    var hosts = [];
    if (s.fleet) {
      var f = s.fleet.queue;
      q.appendChild(el('span', null, [el('span', 'muted', ['queue: ']), f.name + (f.paused ? ' (paused)' : '')]));
      ['waiting', 'active', 'delayed', 'failed', 'completed'].forEach(function (k) { q.appendChild(el('span', null, [el('span', 'muted', [k + ': ']), f[k]])); });
      hosts = s.fleet.hosts;
    }
    fill(document.querySelector('#hosts tbody'), hosts.map(function (h) {
      return el('tr', null, [cell(h.host_id, 'id'), el('td', null, [el('span', 'badge ' + (h.state === 'alive' ? 's-ok' : h.state === 'lost' ? 's-bad' : 'muted'), [h.state])]), cell(h.pid, 'num'), cell(h.slots_used + '/' + h.max_concurrent_workers, 'num'), cell(h.leases, 'num'), cell(h.dispatch_paused ? 'yes' : ''), cell(h.workers, 'num'), ageCell(h.seconds_since_seen, ' ago')]);
    }));
  }

  function findWorker(id) {
    if (!state) return null;
    var all = state.model.workers.concat(Array.isArray(state.model.recent) ? state.model.recent : []);
    for (var i = 0; i < all.length; i++) if (all[i].worker_id === id) return all[i];
    return null;
  }

  function renderDetail() {
    show('detail', selected !== null);
    show('detail-hint', selected === null);
    if (selected === null) return;
    setText($('detail-title'), 'Worker ' + selected);
    var fields = $('detail-fields');
    clear(fields);
    var w = findWorker(selected);
    if (!w) {
      fields.appendChild(el('dt', null, ['state']));
      fields.appendChild(el('dd', null, ['not among the active workers any more']));
    } else {
      Object.keys(w).forEach(function (k) {
        var v = w[k];
        // A countdown would stand still between state messages: next_restart_at says when.
        if (v === null || v === undefined || v === '' || typeof v === 'object' || k === 'next_restart_in_seconds') return;
        fields.appendChild(el('dt', null, [k]));
        fields.appendChild(AGES[k] ? el('dd', null, [ageSpan(v, AGES[k])]) : el('dd', null, [String(v)]));
      });
    }
    renderDetailEvents();
  }

  function eventLine(e) {
    var data = e.data || {};
    var words = data.message || data.reason || data.error || data.decision || '';
    return el('li', null, [el('span', 'muted', [String(e.timestamp).replace('T', ' ').slice(0, 19) + ' ']), e.event, e.worker_id ? ' ' + e.worker_id : '', words ? ': ' + words : '']);
  }

  function renderDetailEvents() {
    var list = $('detail-events');
    clear(list);
    activity.filter(function (e) { return e.worker_id === selected; }).slice(-20).reverse().forEach(function (e) { list.appendChild(eventLine(e)); });
  }

  function renderActivity() {
    var list = $('activity');
    clear(list);
    activity.slice(-50).reverse().forEach(function (e) { list.appendChild(eventLine(e)); });
  }

  function render() {
    if (!state) return;
    var m = state.model;
    renderHeader(m);
    renderSummary(state);
    renderAlerts(m);
    fill(document.querySelector('#workers tbody'), m.workers.map(rowFor));
    // CPU and memory columns only once the daemon samples them.
    $('workers').classList.toggle('no-usage', !m.workers.some(function (w) { return (w.cpu_percent !== null && w.cpu_percent !== undefined) || (w.rss_bytes !== null && w.rss_bytes !== undefined); }));
    show('workers-empty', m.workers.length === 0);
    renderRecent(m);
    renderPauses(m);
    renderHosts(state);
    renderDetail();
  }

  function appendLog(lines) {
    var pre = $('log');
    var atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
    lines.forEach(function (line) { pre.appendChild(document.createTextNode(line + '\n')); });
    while (pre.childNodes.length > MAX_LOG_LINES) pre.removeChild(pre.firstChild);
    if (atBottom) pre.scrollTop = pre.scrollHeight;
  }

  function followLog(id) {
    if (logSource) logSource.close();
    clear($('log'));
    setText($('log-state'), 'connecting…');
    logSource = new EventSource('/api/logs/' + encodeURIComponent(id));
    // Each (re)connection starts with the last lines again.
    logSource.addEventListener('open', function () { clear($('log')); setText($('log-state'), 'following'); });
    logSource.addEventListener('lines', function (e) { appendLog(JSON.parse(e.data)); });
    logSource.addEventListener('error', function () {
      setText($('log-state'), logSource && logSource.readyState === EventSource.CLOSED ? 'no log for this worker' : 'reconnecting…');
    });
  }

  function select(id) {
    if (selected === id) return;
    selected = id;
    document.querySelectorAll('tr.selected').forEach(function (tr) { tr.classList.remove('selected'); });
    document.querySelectorAll('tr[data-worker-id]').forEach(function (tr) { if (tr.getAttribute('data-worker-id') === id) tr.classList.add('selected'); });
    renderDetail();
    followLog(id);
  }

  function connect() {
    var source = new EventSource('/api/events');
    source.addEventListener('open', function () {
      setText($('conn'), 'live');
      activity = [];
    });
    source.addEventListener('error', function () { setText($('conn'), 'reconnecting…'); });
    source.addEventListener('state', function (e) {
      state = JSON.parse(e.data);
      receivedAt = Date.now();
      render();
    });
    source.addEventListener('activity', function (e) {
      activity.push(JSON.parse(e.data));
      if (activity.length > MAX_ACTIVITY) activity.splice(0, activity.length - MAX_ACTIVITY);
      renderActivity();
      if (selected !== null) renderDetailEvents();
    });
  }

  setInterval(function () { document.querySelectorAll('[data-age]').forEach(paintAge); }, 1000);
  connect();
})();
`;
