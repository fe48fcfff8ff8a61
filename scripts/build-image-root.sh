#!/bin/sh
# Builds the container image's file tree into ROOT: what the Dockerfile's
# build stage runs, and what CI runs without a container daemon
# (test/ops checks that the Dockerfile calls exactly this).
#
#   scripts/build-image-root.sh ROOT
#
# VERSION, REVISION and BUILD_DATE (from the Dockerfile's build arguments)
# are stamped into the binary; unset, the build records what Go finds.
set -eu
root=${1:?usage: build-image-root.sh ROOT}
pkg=github.com/vitalwire/vitalwire/internal/buildinfo
ldflags="-s -w"
[ -n "${VERSION:-}" ] && ldflags="$ldflags -X $pkg.version=$VERSION"
[ -n "${REVISION:-}" ] && ldflags="$ldflags -X $pkg.revision=$REVISION"
[ -n "${BUILD_DATE:-}" ] && ldflags="$ldflags -X $pkg.date=$BUILD_DATE"

mkdir -p "$root/usr/local/bin" "$root/etc/vitalwire" "$root/var/lib/vitalwire" "$root/var/lib/vitalwire-audit" \
  "$root/usr/share/doc/vitalwire"
# Pure Go (the SQLite driver is modernc's): a static binary that runs on
# a base image without a C library.
CGO_ENABLED=0 go build -trimpath -buildvcs=false -ldflags "$ldflags" -o "$root/usr/local/bin/vitalwire" ./cmd/vitalwire
cp LICENSE "$root/usr/share/doc/vitalwire/LICENSE"
cp deploy/image/vitalwire.yaml "$root/etc/vitalwire/vitalwire.yaml"
# The image must start: a binary that cannot say its version is no image.
"$root/usr/local/bin/vitalwire" version
