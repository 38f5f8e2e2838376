#!/usr/bin/env bash
# Minifies the widget's scripts into the files the service serves:
#   src/widget/widget.js    -> widget.ru.min.js, widget.en.min.js (one bundle a language: LANG)
#   src/widget/questions.js -> questions.min.js
# Run after editing a source; the tests check that each .min.js is what
# esbuild makes of its source now.
set -euo pipefail
cd "$(dirname "$0")/../src/widget"
command -v esbuild >/dev/null || { echo "esbuild is missing: apt-get install -y esbuild" >&2; exit 1; }
for lang in ru en; do
  esbuild --minify --charset=utf8 --log-level=warning --define:LANG="\"$lang\"" widget.js > "widget.$lang.min.js"
done
esbuild --minify --charset=utf8 --log-level=warning questions.js > questions.min.js
