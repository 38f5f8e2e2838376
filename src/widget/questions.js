/* The widget's question-set form (see widget.js), loaded only by a page whose widget asks a set.
   The service serves it minified (questions.min.js, scripts/build-widget.sh) followed by
   `touchpointQuestions(touchpointSet, {"questions": [[id, ru, en], ...]})` for the stage asked. */
window.touchpointQuestions = function (w, set) {
  var en = w.lang == 'en', ends = en ? ['very bad', 'excellent'] : ['очень плохо', 'отлично'];
  function hint(s) { return s == 1 ? s + ' — ' + ends[0] : s == 5 ? s + ' — ' + ends[1] : '' + s; }
  var names = set.questions.map(function (q, i) { return w.box.id + 'q' + i; });
  w.form(set.questions.map(function (q, i) {
    return w.question(names[i], q[en ? 2 : 1], 1, 5, hint);
  }), '/api/v1/answers', function (f, error) {
    // Questions left without an answer are skipped, not sent.
    var answers = [];
    set.questions.forEach(function (q, i) {
      var c = f.querySelector('[name=' + names[i] + ']:checked');
      if (c) answers.push({ question: q[0], score: +c.value });
    });
    if (!answers.length) { error.textContent = w.T[8]; return; }
    return w.event({ answers: answers, locale: w.lang });
  });
  w.box.onchange = w.open;
  if (w.box.getAttribute('role')) w.box.querySelector('input').focus();
};
