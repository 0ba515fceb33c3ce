// ringcast's page: one EventSource, a list of what it delivers, a topic
// filter and a publish form. Everything received is shown with textContent,
// never as markup. The DOM is the test interface (see transport/web.go).
'use strict';
(() => {
  const $ = (id) => document.getElementById(id);
  const MAX_ROWS = 500;
  const BUILTIN = ['lagged', 'reset', 'expired'];

  const url = new URL(location.href);
  let topics = url.searchParams.getAll('topic').filter(Boolean);
  let names = url.searchParams.getAll('event').filter(Boolean);
  let es = null;
  let lastId = '';
  let count = 0;
  let notices = 0;
  let retryTimer = 0;
  let retryDelay = 5000;
  // Counting the named events EventSource did not hand to this page: see
  // countHidden.
  let shownSeq = 0;     // the sequence of the last event shown; 0: unknown
  let skippedSince = 0; // events the lagged notices since then said were skipped
  let hidden = 0;

  function setState(s, why) {
    const el = $('state');
    el.dataset.state = s;
    el.textContent = why ? s + ': ' + why : s;
  }

  // An id is "<epoch>-<seq>/<topic>" (docs/protocol.md): the topic is
  // everything after the first '/', the rest is opaque. An id without one
  // comes from an older server, which named no topics.
  function topicOf(id) {
    const i = id.indexOf('/');
    if (i >= 0) return id.slice(i + 1);
    if (topics.length === 1) return topics[0];
    return '';
  }

  // seqOf reads the sequence from an id's position ("<epoch>-<seq>"). The
  // position is opaque to clients (docs/protocol.md); this page comes from
  // the same server, so it may read it. 0 when the id has no sequence.
  function seqOf(id) {
    const slash = id.indexOf('/');
    const pos = slash >= 0 ? id.slice(0, slash) : id;
    const n = Number(pos.slice(pos.lastIndexOf('-') + 1));
    return Number.isSafeInteger(n) ? n : 0;
  }

  // EventSource delivers a named event only to a page that listens for its
  // name, and tells the page nothing of the others. Following all topics,
  // the stream's sequences are consecutive, so a gap between two events
  // shown that no lagged notice accounts for is named events not shown.
  // Following chosen topics, the gap also holds other topics' events: no
  // count is possible.
  function countHidden(id) {
    const s = seqOf(id);
    if (topics.length === 0 && s > 0 && shownSeq > 0) {
      hidden += Math.max(0, s - shownSeq - 1 - skippedSince);
    }
    shownSeq = s;
    skippedSince = 0;
    showHidden();
  }

  function showHidden() {
    const listening = ['message (unnamed events)', ...BUILTIN, ...names].join(', ');
    const note = $('hidden-note');
    if (topics.length > 0) {
      $('hidden-count').textContent = '?';
      note.hidden = false;
      note.className = 'note info';
      note.textContent = 'Named events show only when listed under "Event names to show too": ' +
        'EventSource hands a page only the names it listens for (here: ' + listening + '). ' +
        'Following chosen topics, this page cannot count the ones it missed.';
      return;
    }
    $('hidden-count').textContent = String(hidden);
    note.hidden = hidden === 0;
    note.className = 'note';
    note.textContent = hidden + ' named event' + (hidden === 1 ? ' was' : 's were') + ' not shown: ' +
      'EventSource hands a page only the event names it listens for (here: ' + listening + '). ' +
      'List the names you want under "Event names to show too" and Apply.';
  }

  function age(t) {
    const s = Math.max(0, Math.round((Date.now() - t) / 1000));
    if (s < 60) return s + ' s';
    if (s < 3600) return Math.floor(s / 60) + ' min';
    return Math.floor(s / 3600) + ' h';
  }

  function cell(cls, text, title) {
    const el = document.createElement('span');
    el.className = cls;
    el.textContent = text;
    if (title) el.title = title;
    return el;
  }

  function addRow(li) {
    const list = $('events');
    list.prepend(li);
    while (list.childElementCount > MAX_ROWS) list.lastElementChild.remove();
  }

  function onEvent(e) {
    countHidden(e.lastEventId);
    if (e.lastEventId) {
      lastId = e.lastEventId;
      $('last-id').textContent = lastId;
    }
    count++;
    $('count').textContent = String(count);
    const li = document.createElement('li');
    li.className = 'event';
    li.dataset.id = e.lastEventId;
    li.dataset.type = e.type;
    const topic = topicOf(e.lastEventId);
    li.dataset.topic = topic;
    const t = Date.now();
    li.dataset.t = String(t);
    li.append(
      cell('id', e.lastEventId),
      topic ? cell('topic', topic) : cell('topic unknown', topics.length ? 'one of ' + topics.join(' ') : 'any',
        'this server does not name the topic in its event ids'),
      cell('type', e.type),
      cell('age', age(t)),
      cell('data', e.data));
    addRow(li);
  }

  function notice(kind, text, fields) {
    notices++;
    $('notice-count').textContent = String(notices);
    const li = document.createElement('li');
    li.className = 'notice ' + kind;
    li.dataset.kind = kind;
    for (const [k, v] of Object.entries(fields || {})) li.dataset[k] = v === null ? '' : String(v);
    li.textContent = text;
    addRow(li);
  }

  function onNotice(e) {
    let d = {};
    try { d = JSON.parse(e.data); } catch (err) { d = {raw: e.data}; }
    if (e.type === 'lagged') {
      skippedSince += Number(d.skipped) || 0;
      notice('lagged', 'lagged: this page fell behind and skipped ' + d.skipped + ' events', {skipped: d.skipped});
    } else if (e.type === 'expired') {
      // The stream ended because its token expired; EventSource reconnects
      // after retry with the ringcast_token cookie, so a fresh token in the
      // cookie by then resumes the stream without loss.
      notice('expired', 'expired: the token has expired and the stream ended. Give a fresh token below ' +
        '(an application refreshes the ringcast_token cookie before exp); the page reconnects and resumes.', {reason: d.reason});
      $('token-form').hidden = false;
      $('token-help').hidden = false;
    } else {
      const missed = d.missed === null || d.missed === undefined ? 'an unknown number of' : d.missed;
      notice('reset', 'reset (' + d.reason + '): could not resume after ' + JSON.stringify(d.lastEventId) +
        '; missed ' + missed + ' events; live from here', {reason: d.reason, lastEventId: d.lastEventId, missed: d.missed});
      shownSeq = 0; // what the reset skipped is not known
      if (d.reason === 'epoch') info(); // a restarted server: its epoch and rules may have changed
    }
  }

  function listen(name) {
    if (es && name && name !== 'message' && !BUILTIN.includes(name)) es.addEventListener(name, onEvent);
  }

  function connect(resumeFrom) {
    clearTimeout(retryTimer);
    if (resumeFrom && shownSeq === 0) shownSeq = seqOf(resumeFrom);
    if (es) es.close();
    const q = new URLSearchParams();
    for (const t of topics) q.append('topic', t);
    if (resumeFrom) q.set('lastEventId', resumeFrom);
    const qs = q.toString();
    es = new EventSource('/events' + (qs ? '?' + qs : ''));
    setState('connecting');
    es.onopen = () => { retryDelay = 5000; setState('open'); };
    es.onerror = () => {
      if (es.readyState === EventSource.CLOSED) {
        // The server answered something other than a stream (401, 429,
        // 503...): EventSource gives up, so the page retries, resuming.
        setState('closed', 'refused; retrying in ' + Math.round(retryDelay / 1000) + ' s');
        retryTimer = setTimeout(() => connect(lastId), retryDelay);
        retryDelay = Math.min(retryDelay * 2, 60000);
      } else {
        setState('reconnecting');
      }
    };
    es.onmessage = onEvent;
    for (const n of BUILTIN) es.addEventListener(n, onNotice);
    for (const n of names) listen(n);
  }

  function splitList(s) {
    return s.split(/[\s,]+/).filter(Boolean);
  }

  function applyFilter(ev) {
    ev.preventDefault();
    topics = [...new Set(splitList($('filter').value))];
    names = [...new Set(splitList($('names').value))];
    url.searchParams.delete('topic');
    url.searchParams.delete('event');
    for (const t of topics) url.searchParams.append('topic', t);
    for (const n of names) url.searchParams.append('event', n);
    history.replaceState(null, '', url);
    shownSeq = 0;
    skippedSince = 0;
    hidden = 0;
    showHidden();
    notice('info', 'following ' + (topics.length ? topics.join(', ') : 'all topics') + ' (live from here)');
    connect('');
  }

  async function publish(ev) {
    ev.preventDefault();
    const out = $('pub-result');
    const body = {topic: $('pub-topic').value, data: $('pub-data').value};
    const name = $('pub-event').value;
    if (name) body.event = name;
    const headers = {'Content-Type': 'application/json'};
    const tok = $('pub-token').value;
    if (tok) {
      headers.Authorization = 'Bearer ' + tok;
      sessionStorage.setItem('ringcast-publish-token', tok);
    }
    out.className = '';
    out.textContent = 'publishing…';
    try {
      const r = await fetch('/publish', {method: 'POST', headers, body: JSON.stringify(body)});
      const j = await r.json().catch(() => ({error: r.statusText}));
      if (!r.ok) {
        out.className = 'error';
        out.textContent = r.status + ': ' + j.error;
        return;
      }
      if (name && !names.includes(name)) { names.push(name); listen(name); }
      out.textContent = 'published ' + j.ids.join(', ');
    } catch (err) {
      out.className = 'error';
      out.textContent = String(err);
    }
  }

  function useToken(ev) {
    ev.preventDefault();
    const secure = location.protocol === 'https:' ? '; Secure' : '';
    document.cookie = 'ringcast_token=' + encodeURIComponent($('sub-token').value) + '; Path=/; SameSite=Strict' + secure;
    connect(lastId);
  }

  async function info() {
    try {
      const r = await fetch('/ui/info', {cache: 'no-store'});
      const j = await r.json();
      $('epoch').textContent = j.epoch;
      $('token-form').hidden = !j.subscribeToken && !j.signedTokens;
      $('token-help').hidden = !j.signedTokens;
      const fields = $('publish-fields');
      const off = $('publish-off');
      if (j.publish === 'forbidden') {
        fields.disabled = true;
        off.hidden = false;
        off.textContent = 'Publishing is off for this client: ' + j.publishWhy;
      } else {
        fields.disabled = false;
        $('pub-token-label').hidden = j.publish !== 'token';
        $('pub-token').value = sessionStorage.getItem('ringcast-publish-token') || '';
      }
    } catch (err) {
      $('publish-off').hidden = false;
      $('publish-off').textContent = 'Cannot reach /ui/info: ' + err;
    }
  }

  $('filter').value = topics.join(' ');
  $('names').value = names.join(' ');
  $('filter-form').addEventListener('submit', applyFilter);
  $('publish-form').addEventListener('submit', publish);
  $('token-form').addEventListener('submit', useToken);
  setInterval(() => {
    for (const li of document.querySelectorAll('#events li.event')) {
      li.querySelector('.age').textContent = age(Number(li.dataset.t));
    }
  }, 1000);
  info();
  showHidden();
  connect(url.searchParams.get('lastEventId') || '');
})();
