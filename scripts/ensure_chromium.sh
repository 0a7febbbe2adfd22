#!/usr/bin/env bash
# The browser tests drive Debian's Chromium (packages chromium and chromium-driver). Install them
# when missing and we may (root with apt-get); otherwise the browser tests skip, saying why.
set -uo pipefail
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian's chromium and chromium-driver for the browser tests..." >&2
  if ! (apt-get install -y -qq chromium chromium-driver >/dev/null 2>&1 \
        || (apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq chromium chromium-driver >/dev/null 2>&1)); then
    echo "could not install chromium: the browser tests will be skipped" >&2
  fi
else
  echo "chromium is not installed and this is not root with apt-get: the browser tests will be skipped" >&2
fi
exit 0
