/* touchpoint feedback widget. Source of truth: served as is (no build step).
   <script async src="https://HOST/widget.js" data-site="demo" data-journey="..."
     data-stage="..." data-touchpoint="..." data-mode="inline|button" data-target="#id"
     data-scale="csat|thumbs|nps" data-lang="ru|en" data-ask-time="true" data-case="Л-2026/117"></script>
   No cookies, no requests but to HOST, no eval; styles live in a shadow root. */
(function () {
  var me = document.currentScript;
  if (!me || !window.fetch) return;
  var d = me.dataset, base = new URL(me.src).origin, ss = sessionStorage, ls = localStorage;
  var lang = (d.lang || document.documentElement.lang || 'ru').slice(0, 2) == 'en' ? 'en' : 'ru';
  var scale = { csat: 1, thumbs: 1, nps: 1 }[d.scale] ? d.scale : 'csat';
  var who = { site: d.site, journey: d.journey, stage: d.stage, touchpoint: d.touchpoint };
  var asked = 'tp:' + d.site + ':' + d.journey + ':' + d.stage, QUEUE = 'tp:queue';
  var T = {
    ru: ['Оцените', 'Как всё прошло?', 'Далее', 'Комментарий (необязательно)', 'Сколько времени это заняло?',
      'Отправить', 'Закрыть', 'Спасибо за оценку!', 'Не удалось отправить. Попробуйте ещё раз.',
      ['очень плохо', 'отлично', 'точно не порекомендую', 'точно порекомендую', 'Нет', 'Да'],
      ['не скажу', 'до 5 минут', '5–15 минут', '15–60 минут', '1–3 часа', 'больше 3 часов'], 'Выберите оценку.',
      'Мы разберёмся. Следить за ответом'],
    en: ['Rate us', 'How did it go?', 'Next', 'Comment (optional)', 'How long did it take?',
      'Send', 'Close', 'Thank you for your rating!', 'Could not send. Please try again.',
      ['very bad', 'excellent', 'not at all likely', 'extremely likely', 'No', 'Yes'],
      ['rather not say', 'under 5 minutes', '5–15 minutes', '15–60 minutes', '1–3 hours', 'over 3 hours'], 'Choose a rating.',
      'We will look into it. Follow the answer']
  }[lang];
  var MINUTES = [0, 3, 10, 35, 120, 240];

  function uuid() {
    if (crypto.randomUUID) return crypto.randomUUID();
    var b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = b[6] & 15 | 64; b[8] = b[8] & 63 | 128;
    var h = Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join('');
    return h.slice(0, 8) + '-' + h.slice(8, 12) + '-' + h.slice(12, 16) + '-' + h.slice(16, 20) + '-' + h.slice(20);
  }
  var sid = ss.getItem('tp:sid') || uuid();
  ss.setItem('tp:sid', sid);
  function event(extra) {
    var e = { event_id: uuid(), session_id: sid, page_path: location.pathname, occurred_at: new Date().toISOString() };
    for (var k in who) e[k] = who[k];
    for (k in extra) e[k] = extra[k];
    // Read when the event is made: a page may set it late (script.dataset.case = '...').
    if (d.case) e.case_ref = d.case;
    return e;
  }

  /* Sending: text/plain needs no CORS preflight; what cannot be sent waits in
     localStorage for the next page view. 4xx answers are final and dropped. */
  function queue(f) { try { return JSON.parse(ls.getItem(QUEUE)) || []; } catch (x) { return []; } }
  function keep(path, body) { var q = queue(); q.push([path, body]); ls.setItem(QUEUE, JSON.stringify(q.slice(-50))); }
  function post(path, body) {
    return fetch(base + path, { method: 'POST', body: JSON.stringify(body), headers: { 'Content-Type': 'text/plain' },
      keepalive: true, credentials: 'omit' }).then(function (r) { if (r.status >= 500 || r.status == 429) throw r; return r; });
  }
  function beacon(path, body) {
    var ok = navigator.sendBeacon && navigator.sendBeacon(base + path, new Blob([JSON.stringify(body)], { type: 'text/plain' }));
    if (!ok) keep(path, body);
  }
  var waiting = queue();
  ls.removeItem(QUEUE);
  waiting.forEach(function (p) { post(p[0], p[1]).catch(function () { keep(p[0], p[1]); }); });

  /* Visible time on the page: hidden time does not count; each stretch is sent once. */
  var since = document.visibilityState == 'visible' ? performance.now() : -1, spent = 0, pending = null;
  function hide() {
    if (since >= 0) { spent += performance.now() - since; since = -1; }
    var ms = Math.round(spent);
    spent = 0;
    if (ms > 0) beacon('/api/v1/timings', event({ duration_ms: ms, measure: 'dwell', source: 'measured' }));
    if (pending) { beacon('/api/v1/feedback', pending); pending = null; done(); }
  }
  document.addEventListener('visibilitychange', function () {
    if (document.visibilityState == 'hidden') hide(); else since = performance.now();
  });
  addEventListener('pagehide', hide);

  if (ss.getItem(asked) || !d.site) return;
  function done() { ss.setItem(asked, '1'); }

  var CSS = ':host{all:initial}*{box-sizing:border-box}' +
    '.w{font:16px/1.5 system-ui,sans-serif;color:#1a1a1a;background:#fff;border:1px solid #5f6368;border-radius:8px;padding:16px;max-width:100%}' +
    '.f{position:fixed;right:16px;bottom:16px;z-index:2147483647;width:min(24rem,calc(100vw - 32px));max-height:calc(100vh - 32px);overflow:auto;box-shadow:0 4px 16px rgba(0,0,0,.3)}' +
    'fieldset{border:0;margin:0;padding:0}legend,.q{font-weight:600;margin-bottom:8px;padding:0}' +
    '.s{display:flex;flex-wrap:wrap;gap:6px;margin:4px 0 8px}' +
    '.s label{display:flex;align-items:center;gap:4px;min-width:44px;min-height:44px;padding:6px 10px;border:1px solid #5f6368;border-radius:6px;cursor:pointer}' +
    '.s label:has(input:checked){background:#e8f0fe;border-color:#0b57d0}.h{font-size:14px;color:#3c4043}' +
    'textarea,select{display:block;width:100%;font:inherit;margin:4px 0 12px;padding:8px;border:1px solid #5f6368;border-radius:6px;min-height:44px}' +
    'button{font:inherit;min-height:44px;min-width:44px;padding:8px 16px;border-radius:6px;cursor:pointer;border:2px solid #0b57d0;background:#0b57d0;color:#fff}' +
    'button.x{position:absolute;top:4px;right:4px;background:#fff;color:#1a1a1a;border-color:transparent}' +
    '.o{position:fixed;right:16px;bottom:16px;z-index:2147483647}' +
    ':focus-visible{outline:3px solid #1a1a1a;outline-offset:2px}.e{color:#b3261e}.r{position:relative}' +
    '@media (prefers-reduced-motion:no-preference){.f{animation:u .2s ease-out}@keyframes u{from{transform:translateY(8px);opacity:0}}}';

  function el(tag, attrs, kids) {
    var n = document.createElement(tag);
    for (var k in attrs || {}) k == 'text' ? n.textContent = attrs[k] : n.setAttribute(k, attrs[k]);
    (kids || []).forEach(function (c) { n.appendChild(c); });
    return n;
  }

  var host = el('div', { 'data-touchpoint-widget': '' }), root = host.attachShadow({ mode: 'open' });
  try { var sheet = new CSSStyleSheet(); sheet.replaceSync(CSS); root.adoptedStyleSheets = [sheet]; }
  catch (x) { root.appendChild(el('style', { text: CSS })); }
  var inline = d.mode == 'inline' && document.querySelector(d.target);
  var id = 'tp' + Math.random().toString(36).slice(2), box, opener;

  function scores() {
    var r = scale == 'nps' ? [0, 10] : scale == 'thumbs' ? [0, 1] : [1, 5], n = [];
    for (var i = r[0]; i <= r[1]; i++) {
      var hint = scale == 'thumbs' ? T[9][4 + i] : i == r[0] ? T[9][scale == 'nps' ? 2 : 0] : i == r[1] ? T[9][scale == 'nps' ? 3 : 1] : '';
      var text = scale == 'thumbs' ? (i ? '👍 ' : '👎 ') + hint : hint ? i + ' — ' + hint : '' + i;
      n.push(el('label', {}, [el('input', { type: 'radio', name: 'score', value: i }), el('span', { text: text })]));
    }
    return n;
  }

  function render() {
    var status = el('div', { role: 'status', 'aria-live': 'polite', tabindex: -1 });
    var error = el('div', { role: 'alert', class: 'e' });
    var legend = el('legend', { id: id + 'l', text: T[1] });
    var group = el('div', { class: 's', role: 'radiogroup', 'aria-labelledby': id + 'l' }, scores());
    var step1 = el('form', {}, [el('fieldset', {}, [legend, group]), error, el('button', { type: 'submit', text: T[2] })]);
    box = el('section', { class: inline ? 'w r' : 'w f', 'aria-labelledby': id + 'l' }, [step1, status]);
    if (!inline) {
      box.setAttribute('role', 'dialog');
      var close = el('button', { type: 'button', class: 'x', 'aria-label': T[6], text: '×' });
      close.onclick = dismiss;
      box.insertBefore(close, step1);
      box.addEventListener('keydown', function (e) { if (e.key == 'Escape') dismiss(); });
    }
    root.appendChild(box);
    var rating;
    step1.onsubmit = function (e) {
      e.preventDefault();
      var picked = step1.querySelector('input:checked');
      if (!picked) { error.textContent = T[11]; return; }
      rating = event({ scale: scale, score: +picked.value, locale: lang });
      pending = rating;
      var fields = [el('label', { for: id + 'c', class: 'q', text: T[3] }), el('textarea', { id: id + 'c', maxlength: 2000 })];
      if (d.askTime == 'true') {
        fields.push(el('label', { for: id + 't', class: 'q', text: T[4] }),
          el('select', { id: id + 't' }, T[10].map(function (t, i) { return el('option', { value: i, text: t }); })));
      }
      var error2 = el('div', { role: 'alert', class: 'e' });
      var step2 = el('form', {}, fields.concat([error2, el('button', { type: 'submit', text: T[5] })]));
      box.replaceChild(step2, step1);
      step2.querySelector('textarea').focus();
      step2.onsubmit = function (e) {
        e.preventDefault();
        var c = step2.querySelector('textarea').value.trim(), t = step2.querySelector('select');
        if (c) rating.comment = c;
        if (t && +t.value) rating.reported_duration_ms = MINUTES[+t.value] * 60000;
        post('/api/v1/feedback', rating).then(function (r) {
          pending = null; // a refused rating (4xx) will not get better by resending it
          if (!r.ok) { error2.textContent = T[8]; return; }
          done();
          box.removeChild(step2);
          status.textContent = T[7];
          status.focus();
          // A low rating opened a case: the client may follow it (a new tab keeps their page).
          r.json().then(function (b) {
            if (b.follow_url) status.appendChild(el('p', {}, [el('a', { href: b.follow_url, target: '_blank', rel: 'noopener', text: T[12] })]));
          }, function () {});
        }, function () { error2.textContent = T[8]; }); // kept in `pending`: sent again at page hide
      };
    };
  }

  function dismiss() {
    if (pending) { post('/api/v1/feedback', pending).catch(function () { keep('/api/v1/feedback', pending); }); pending = null; }
    done();
    host.remove();
    if (opener) opener.focus();
  }

  function start() {
    if (inline) { inline.appendChild(host); render(); return; }
    document.body.appendChild(host);
    var open = el('button', { type: 'button', class: 'o', 'aria-haspopup': 'dialog', text: T[0] });
    opener = open;
    open.onclick = function () { open.remove(); opener = null; render(); box.querySelector('input').focus(); };
    root.appendChild(open);
  }
  if (document.body) start(); else addEventListener('DOMContentLoaded', start);
})();
