#!/usr/bin/env bash
# `make check-container`: builds docker/Dockerfile without a Docker engine and
# reproduces the offline study inside the image, as a build step.
#
#   docker/check-container.sh <bundle> [--suite bookworm|trixie]
#
# Nothing can be pulled here, so the base image is a Debian root bootstrapped on
# this machine (.ci/fresh-root.sh --base-image: debootstrap minbase plus this
# machine's apt sources), imported into podman. The image's `app` stage installs
# the system packages and the locked Python environment exactly as for the CUDA
# base; the `offline-check` stage runs the offline reproduce on the bundle (a
# named build context) and fails unless paper/main.pdf and models/*.onnx appear.
# This machine's CA bundle, when it has one, goes in as the `ca-bundle` build
# secret (the Dockerfile's feature for TLS-intercepting proxies). Needs root;
# installs podman with apt-get when missing. Only the committed tree is built.
set -euo pipefail

[ $# -ge 1 ] || { echo "usage: $0 <bundle> [--suite bookworm|trixie]" >&2; exit 2; }
BUNDLE=$(cd "$1" && pwd) || { echo "check-container: bundle $1 not found (BUNDLE=<dir>)" >&2; exit 2; }
SUITE=bookworm
[ "${2:-}" = --suite ] && SUITE=${3:?--suite needs bookworm or trixie}
REPO=$(cd "$(dirname "$0")/.." && pwd)
START=$SECONDS
phase() { printf '\n== check-container [%4ds] %s\n' $((SECONDS - START)) "$*"; }

[ "$(id -u)" = 0 ] || { echo "check-container: needs root (podman's chroot isolation); use sudo" >&2; exit 1; }
if ! command -v podman >/dev/null; then
  phase "installing podman on this machine"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends podman >/dev/null
fi

WORK=$(mktemp -d "${TMPDIR:-/var/tmp}/synth2real-container.XXXXXX")
trap 'rm -rf --one-file-system "$WORK"' EXIT

BASE=localhost/synth2real-base:$SUITE
phase "base image $BASE (debootstrap $SUITE minbase, this machine's apt sources)"
bash "$REPO/.ci/fresh-root.sh" --suite "$SUITE" --base-image "$WORK/base.tar"
podman import -q --change 'CMD ["/bin/bash"]' "$WORK/base.tar" "$BASE" >/dev/null
rm -f "$WORK/base.tar"

COMMIT=$(git -C "$REPO" rev-parse HEAD)
phase "build context: git clone of ${COMMIT:0:7} (committed files only)"
git clone -q --no-hardlinks "$REPO" "$WORK/src"
git -C "$WORK/src" checkout -q "$COMMIT"

SECRET=()
CA=${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}
if [ -s "$CA" ]; then SECRET=(--secret "id=ca-bundle,src=$CA"); fi

phase "podman build --target offline-check (the image, then the offline study inside it)"
podman build --isolation=chroot --cgroup-manager=cgroupfs \
  -f "$WORK/src/docker/Dockerfile" \
  --build-arg "BASE_IMAGE=$BASE" --build-arg "GIT_COMMIT=$COMMIT" \
  "${SECRET[@]}" --build-context "bundle=$BUNDLE" \
  --target offline-check -t "synth2real:check-$SUITE" "$WORK/src"
phase "passed: the image builds and reproduces the offline study (paper/main.pdf, models/*.onnx)"
