#!/usr/bin/env bash
# Minifies the widget's scripts into the files the service serves:
#   src/widget/widget.js    -> widget.ru.min.js, widget.en.min.js (one bundle a language: LANG)
#   src/widget/time.js      -> time.ru.min.js, time.en.min.js (the time question, loaded on demand)
#   src/widget/questions.js -> questions.min.js (the set form, loaded on demand)
# Run after editing a source; the tests check that each .min.js is what
# esbuild makes of its source now.
set -euo pipefail
cd "$(dirname "$0")/../src/widget"
command -v esbuild >/dev/null || { echo "esbuild is missing: apt-get install -y esbuild" >&2; exit 1; }
for lang in ru en; do
  for name in widget time; do
    esbuild --minify --charset=utf8 --log-level=warning --define:LANG="\"$lang\"" $name.js > "$name.$lang.min.js"
  done
done
esbuild --minify --charset=utf8 --log-level=warning questions.js > questions.min.js
