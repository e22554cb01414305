#!/usr/bin/env bash
# The tutorial (docs/tutorial) with mdBook, installed (pinned) when missing.
#
#   scripts/book.sh          render it and serve it at http://127.0.0.1:3001/
#   scripts/book.sh build    render it to docs/tutorial/book/
#
# mdBook is installed with only what building needs (plus its search box):
# its own server and file watcher ("serve" and "watch": axum, tower-http,
# notify and their dependencies) are left out, and the rendered book is
# served by Python's http.server. Run this again to see an edit. For live reload while writing,
# install mdBook whole (`cargo install mdbook --version 0.5.4 --locked`):
# this script then uses its `mdbook serve`.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
MDBOOK_VERSION="0.5.4"
BOOK="$ROOT/docs/tutorial"
PORT=3001 # the app's server has 3000 and trunk serve 8080

if [ "$(mdbook --version 2>/dev/null)" != "mdbook v$MDBOOK_VERSION" ]; then
  say "installing mdbook $MDBOOK_VERSION (build and search only)"
  install_tool --locked mdbook --version "$MDBOOK_VERSION" --no-default-features --features search
fi

case "${1:-serve}" in
  serve)
    if mdbook help serve >/dev/null 2>&1; then
      say "serving the book at http://127.0.0.1:$PORT/ with live reload (Ctrl-C stops)"
      exec mdbook serve "$BOOK" --hostname 127.0.0.1 --port "$PORT"
    fi
    mdbook build "$BOOK"
    command -v python3 >/dev/null \
      || die "rendered to ${BOOK#"$ROOT"/}/book/index.html (open it; python3 would serve it)"
    say "serving the book at http://127.0.0.1:$PORT/ (Ctrl-C stops; run again after an edit)"
    exec python3 -m http.server "$PORT" --bind 127.0.0.1 --directory "$BOOK/book"
    ;;
  build)
    mdbook build "$BOOK"
    say "rendered to ${BOOK#"$ROOT"/}/book/index.html"
    ;;
  *) die "usage: scripts/book.sh [serve|build]" ;;
esac
