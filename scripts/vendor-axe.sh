#!/usr/bin/env bash
# Refreshes the vendored axe-core (accessibility checks run in the browser
# tests only; it is never served). Usage: scripts/vendor-axe.sh [VERSION]
set -euo pipefail
version="${1:-4.14.1}"
dest="$(cd "$(dirname "$0")/.." && pwd)/web/testdata/axe"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "axe-core@$version" >/dev/null && tar xzf axe-core-*.tgz)
mkdir -p "$dest"
cp "$tmp/package/axe.min.js" "$tmp/package/LICENSE" "$tmp/package/LICENSE-3RD-PARTY.txt" "$dest/"
echo "axe-core $version" > "$dest/VERSION"
echo "vendored axe-core $version into $dest"
