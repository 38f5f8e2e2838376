/* touchpoint feedback widget. This is the source; the service serves widget.ru.min.js (and, as
   widget.js?lang=en, widget.en.min.js), made from it by scripts/build-widget.sh (esbuild --minify,
   LANG defined) and checked against it by the tests.
   <script async src="https://HOST/widget.js" data-site="demo" data-journey="..."
     data-stage="..." data-touchpoint="..." data-mode="inline|button" data-target="#id"
     data-scale="csat|thumbs|nps" data-lang="ru|en" data-ask-time="true" data-case="Л-2026/117"
     data-questions="true"></script>
   data-questions asks the stage's question set instead of one rating: its form comes from
   HOST/widget/questions/<site>/<journey>/<stage>, loaded only then; data-ask-time likewise loads
   HOST/widget/time.js.
   No cookies, no requests but to HOST, no eval; styles live in a shadow root. */
(function () {
  var me = document.currentScript;
  // randomUUID: every browser since 2022, on HTTPS pages (a ministry's are).
  if (!me || !window.fetch || !crypto.randomUUID) return;
  var d = me.dataset, base = new URL(me.src).origin, ss = sessionStorage, ls = localStorage;
  /* LANG is set when the script is built (scripts/build-widget.sh): one bundle a language, so that
     a page loads only its own words. The Russian one, on an English page, hands over to the English. */
  if (LANG != 'en' && (d.lang || document.documentElement.lang || '').slice(0, 2) == 'en') {
    var en = document.createElement('script');
    Object.assign(en.dataset, d);
    en.src = base + '/widget.js?lang=en';
    return document.head.appendChild(en);
  }
  /* Each scale's lowest and highest score, and where its end words start in T[7]. */
  var RANGES = { nps: [0, 10, 2], thumbs: [0, 1, 4] }, scale = RANGES[d.scale] ? d.scale : 'csat';
  var lang = LANG, range = RANGES[scale] || [1, 5, 0];
  var who = { site: d.site, journey: d.journey, stage: d.stage, touchpoint: d.touchpoint };
  var asked = 'tp:' + d.site + ':' + d.journey + ':' + d.stage, QUEUE = 'tp:queue';
  var T = LANG == 'en'
    ? ['Rate us', 'How did it go?', 'Comment (optional)', 'Send', 'Close', 'Thank you for your rating!',
      'Not sent. Please try again.', ['very bad', 'excellent', 'not at all likely', 'extremely likely', 'No', 'Yes'],
      'Choose a rating.', 'We will look into it. Follow the answer']
    : ['Оцените', 'Как всё прошло?', 'Комментарий (необязательно)', 'Отправить', 'Закрыть', 'Спасибо за оценку!',
      'Не отправлено. Попробуйте ещё раз.', ['очень плохо', 'отлично', 'точно не порекомендую', 'точно порекомендую', 'Нет', 'Да'],
      'Выберите оценку.', 'Мы разберёмся. Следить за ответом'];

  function uuid() { return crypto.randomUUID(); }
  var sid = ss.getItem('tp:sid') || uuid();
  ss.setItem('tp:sid', sid);
  function event(extra) {
    var e = Object.assign({ event_id: uuid(), session_id: sid, page_path: location.pathname,
      occurred_at: new Date().toISOString() }, who, extra);
    // Read when the event is made: a page may set it late (script.dataset.case = '...').
    if (d.case && !extra.kind) e.case_ref = d.case;
    return e;
  }

  /* Sending: a string body goes as text/plain, which needs no CORS preflight (and carries no
     cookie across origins); what cannot be sent waits in localStorage for the next page view.
     4xx answers are final and dropped. */
  function queue() { try { return JSON.parse(ls.getItem(QUEUE)) || []; } catch (x) { return []; } }
  function keep(path, body) { var q = queue(); q.push([path, body]); ls.setItem(QUEUE, JSON.stringify(q.slice(-50))); }
  function post(path, body) {
    return fetch(base + path, { method: 'POST', body: JSON.stringify(body), keepalive: true })
      .then(function (r) { if (r.status >= 500 || r.status == 429) throw r; return r; });
  }
  function send(path, body) { post(path, body).catch(function () { keep(path, body); }); }
  function beacon(path, body) {
    if (!(navigator.sendBeacon && navigator.sendBeacon(base + path, JSON.stringify(body)))) keep(path, body);
  }
  var waiting = queue();
  ls.removeItem(QUEUE);
  waiting.forEach(function (p) { send(p[0], p[1]); });

  /* Visible time on the page: hidden time does not count; each stretch is sent once.
     A score picked but not sent goes too: the client answered. */
  var since = document.visibilityState == 'visible' ? performance.now() : -1, spent = 0, pending;
  function hide() {
    if (since >= 0) { spent += performance.now() - since; since = -1; }
    var ms = Math.round(spent);
    spent = 0;
    if (ms > 0) beacon('/api/v1/timings', event({ duration_ms: ms, measure: 'dwell', source: 'measured' }));
    if (pending) { beacon('/api/v1/feedback', pending); pending = 0; done(); }
  }
  document.addEventListener('visibilitychange', function () {
    if (document.visibilityState == 'hidden') hide(); else since = performance.now();
  });
  addEventListener('pagehide', hide);

  if (ss.getItem(asked) || !d.site) return;
  function done() { ss.setItem(asked, 1); }
  /* Offered: shown, then opened. Answers / shown is the response rate. */
  var set = d.questions == 'true', opened;
  function offer(kind) { send('/api/v1/offers', event({ kind: kind, question_set: set })); }

  var CSS = ':host{all:initial}*{box-sizing:border-box;font:inherit}' +
    '.w{font:16px/1.5 system-ui,sans-serif;color:#1a1a1a;background:#fff;border:1px solid #5f6368;border-radius:8px;padding:16px}' +
    '.f,.o{position:fixed;right:16px;bottom:16px;z-index:999999}' +
    '.f{width:min(24rem,calc(100vw - 32px));max-height:calc(100vh - 32px);overflow:auto}' +
    'fieldset{border:0;margin:0 0 8px;padding:0}legend,.q{font-weight:600;padding:0}.s{display:flex;flex-wrap:wrap;gap:6px}' +
    '.s label,textarea,select,button{min-height:44px;min-width:44px;padding:6px 10px;border:1px solid #5f6368;border-radius:6px}' +
    '.s label{display:flex;align-items:center;gap:4px}' +
    'textarea,select{display:block;width:100%;margin:4px 0 12px}' +
    'button{border:2px solid #0b57d0;background:#0b57d0;color:#fff}' +
    '.x{position:absolute;top:4px;right:4px;background:#fff;color:#1a1a1a;border-color:#fff}' +
    ':focus-visible{outline:3px solid #1a1a1a;outline-offset:2px}.e{color:#b3261e}';

  function el(tag, attrs, kids) {
    var n = document.createElement(tag), k;
    for (k in attrs) k == 'text' ? n.textContent = attrs[k] : n.setAttribute(k, attrs[k]);
    (kids || []).forEach(function (c) { n.appendChild(c); });
    return n;
  }

  var host = el('div', { 'data-touchpoint-widget': '' }), root = host.attachShadow({ mode: 'open' });
  // A constructed sheet applies under any page's CSP, where a <style> would need 'unsafe-inline'.
  var sheet = new CSSStyleSheet();
  sheet.replaceSync(CSS);
  root.adoptedStyleSheets = [sheet];
  var inline = d.mode == 'inline' && document.querySelector(d.target);
  var id = 'tp' + uuid(), box, opener;

  /* One question: a fieldset whose legend names it, radio buttons `name` for scores lo..hi, which
     `hint` words. */
  function question(name, text, lo, hi, hint) {
    var n = [el('legend', { text: text })];
    for (var i = lo; i <= hi; i++) {
      n.push(el('label', {}, [el('input', { type: 'radio', name: name, value: i }), el('span', { text: hint(i) })]));
    }
    return el('fieldset', { class: 's' }, n);
  }
  /* A score's label: the words at the scale's ends, thumbs with their sign. */
  function hint(i) {
    var word = T[7][range[2] + (i > range[0])];
    return scale == 'thumbs' ? (i ? '👍 ' : '👎 ') + word : i == range[0] || i == range[1] ? i + ' — ' + word : '' + i;
  }

  /* The form, its fields, what it sends and where; `make(form)` is the body, or null (error shown). */
  function form(fields, path, make) {
    var error = el('div', { role: 'alert', class: 'e' }), status = el('div', { role: 'status', tabindex: -1 });
    var f = el('form', {}, fields.concat([
      el('label', { for: id + 'c', class: 'q', text: T[2] }), el('textarea', { id: id + 'c', maxlength: 2000 }),
      error, el('button', { type: 'submit', text: T[3] })]));
    box.appendChild(f);
    box.appendChild(status);
    f.onsubmit = function (e) {
      e.preventDefault();
      var body = make(f, error);
      if (!body) return;
      var c = f.querySelector('textarea').value.trim();
      if (c) body.comment = c;
      post(path, body).then(function (r) {
        pending = 0; // a refused answer (4xx) will not get better by resending it
        if (!r.ok) { error.textContent = T[6]; return; }
        done();
        f.remove();
        status.textContent = T[5];
        status.focus();
        // A low answer opened a case: the client may follow it (a new tab keeps their page).
        r.json().then(function (b) {
          // _blank opens without an opener in every current browser.
          if (b.follow_url) status.append(' ', el('a', { href: b.follow_url, target: '_blank', text: T[9] }));
        }, done);
      }, function () { error.textContent = T[6]; }); // kept in `pending`: sent again at page hide
    };
  }

  function rating() {
    var fields = [question(id + 'l', T[1], range[0], range[1], hint)];
    form(fields, '/api/v1/feedback', function (f, error) {
      var picked = f.querySelector('input:checked'), t = f.querySelector('select');
      if (!picked) { error.textContent = T[8]; return; }
      var body = event({ scale: scale, score: +picked.value, locale: lang });
      // The time question's (widget/time.js) values are minutes.
      if (t && +t.value) body.reported_duration_ms = t.value * 6e4;
      return body;
    });
    box.onchange = function (e) {
      if (e.target.type != 'radio') return;
      open();
      pending = event({ scale: scale, score: +e.target.value, locale: lang });
    };
  }

  function render() {
    box = el('section', { id: id, class: inline ? 'w' : 'w f', 'aria-label': T[0] });
    if (!inline) {
      box.setAttribute('role', 'dialog');
      var close = el('button', { type: 'button', class: 'x', 'aria-label': T[4], text: '×' });
      close.onclick = dismiss;
      box.appendChild(close);
      box.onkeydown = function (e) { if (e.key == 'Escape') dismiss(); };
    }
    root.appendChild(box);
    /* What the widget loads only when a page asks for it builds with these: the set's form,
       the time question. */
    window.touchpointSet = { lang: lang, T: T, el: el, question: question, form: form, event: event, open: open, box: box };
    function load(path) { document.head.appendChild(el('script', { src: base + path })); }
    if (set) return load('/widget/questions/' + [d.site, d.journey, d.stage].join('/'));
    rating();
    if (d.askTime == 'true') load('/widget/time.js?lang=' + lang);
  }

  function open() { if (!opened) { opened = 1; offer('opened'); } }

  function dismiss() {
    if (pending) { send('/api/v1/feedback', pending); pending = 0; }
    done();
    host.remove();
    if (opener) opener.focus();
  }

  function start() {
    offer('shown');
    if (inline) { inline.appendChild(host); return render(); }
    document.body.appendChild(host);
    opener = el('button', { type: 'button', class: 'o', 'aria-haspopup': 'dialog', text: T[0] });
    opener.onclick = function () {
      opener.remove();
      opener = 0;
      open();
      render();
      var first = box.querySelector('input');
      if (first) first.focus();
    };
    root.appendChild(opener);
  }
  if (document.body) start(); else addEventListener('DOMContentLoaded', start);
})();
