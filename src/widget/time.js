/* The widget's "how long did it take?" question (see widget.js), loaded only by a widget with
   data-ask-time: one bundle a language (LANG), minified by scripts/build-widget.sh. It goes into
   the rating form before the comment; each option's value is minutes, which the form sends as
   reported_duration_ms. */
(function (w) {
  var f = w.box.querySelector('form');
  if (!f) return; // answered before this arrived
  var words = LANG == 'en'
    ? ['How long did it take?', 'rather not say', 'under 5 minutes', '5–15 minutes', '15–60 minutes', '1–3 hours', 'over 3 hours']
    : ['Сколько времени это заняло?', 'не скажу', 'до 5 минут', '5–15 минут', '15–60 минут', '1–3 часа', 'больше 3 часов'];
  var minutes = [0, 3, 10, 35, 120, 240], id = w.box.id + 't', comment = f.querySelector('.q');
  f.insertBefore(w.el('label', { for: id, class: 'q', text: words[0] }), comment);
  f.insertBefore(w.el('select', { id: id }, minutes.map(function (m, i) {
    return w.el('option', { value: m, text: words[i + 1] });
  })), comment);
})(window.touchpointSet);
