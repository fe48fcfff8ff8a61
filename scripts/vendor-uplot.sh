#!/usr/bin/env bash
# Refreshes the vendored uPlot, the plotting library the UI serves from
# web/static/vendor/uplot (MIT, its licence beside it). Usage:
# scripts/vendor-uplot.sh [VERSION]
set -euo pipefail
version="${1:-1.6.32}"
dest="$(cd "$(dirname "$0")/.." && pwd)/web/static/vendor/uplot"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "uplot@$version" >/dev/null && tar xzf uplot-*.tgz)
mkdir -p "$dest"
cp "$tmp/package/dist/uPlot.iife.min.js" "$tmp/package/dist/uPlot.min.css" "$tmp/package/LICENSE" "$dest/"
{
  echo "uplot $version (https://www.npmjs.com/package/uplot, MIT)"
  (cd "$dest" && sha256sum uPlot.iife.min.js uPlot.min.css)
} > "$dest/VERSION"
echo "vendored uplot $version into $dest"
