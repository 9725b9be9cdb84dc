#!/usr/bin/env bash
# Re-fetch the vendored front-end assets from the npm registry (npm pack, no install).
set -euo pipefail
cd "$(dirname "$0")/.."
dest=static/vendor
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent bootstrap@5.3.9 >/dev/null && tar xzf bootstrap-5.3.9.tgz && mv package bootstrap)
(cd "$tmp" && npm pack --silent chart.js@4.6.1 >/dev/null && tar xzf chart.js-4.6.1.tgz && mv package chartjs)
(cd "$tmp" && npm pack --silent axe-core@4.14.1 >/dev/null && tar xzf axe-core-4.14.1.tgz && mv package axe-core)
mkdir -p "$dest/bootstrap/css" "$dest/bootstrap/js"
cp "$tmp"/bootstrap/dist/css/bootstrap.min.css{,.map} "$dest/bootstrap/css/"
cp "$tmp"/bootstrap/dist/js/bootstrap.bundle.min.js{,.map} "$dest/bootstrap/js/"
cp "$tmp"/bootstrap/LICENSE "$dest/bootstrap/LICENSE"
mkdir -p "$dest/chartjs"
cp "$tmp"/chartjs/dist/chart.umd.min.js{,.map} "$tmp"/chartjs/LICENSE.md "$dest/chartjs/"
mkdir -p "$dest/axe-core"
cp "$tmp"/axe-core/axe.min.js "$tmp"/axe-core/LICENSE "$dest/axe-core/"
echo "vendored into $dest"
