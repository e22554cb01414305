#!/usr/bin/env bash
# The tutorial (docs/tutorial) with mdBook, installed (pinned) when missing.
#
#   scripts/book.sh          serve it at http://127.0.0.1:3001/, live reload
#   scripts/book.sh build    render it to docs/tutorial/book/
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
MDBOOK_VERSION="0.5.4"
BOOK="$ROOT/docs/tutorial"

if [ "$(mdbook --version 2>/dev/null)" != "mdbook v$MDBOOK_VERSION" ]; then
  say "installing mdbook $MDBOOK_VERSION"
  cargo install --locked mdbook --version "$MDBOOK_VERSION"
fi

case "${1:-serve}" in
  serve)
    # Port 3001: the app's server has 3000 and trunk serve 8080.
    say "serving the book at http://127.0.0.1:3001/ (Ctrl-C stops)"
    exec mdbook serve "$BOOK" --hostname 127.0.0.1 --port 3001
    ;;
  build)
    mdbook build "$BOOK"
    say "rendered to ${BOOK#"$ROOT"/}/book/index.html"
    ;;
  *) die "usage: scripts/book.sh [serve|build]" ;;
esac
