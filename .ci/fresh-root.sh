#!/usr/bin/env bash
# Runs a command in a freshly bootstrapped minimal Debian root, as a newcomer's
# machine would: only the README's requirements installed, the committed HEAD
# cloned into it, `../shared` visible beside the clone. CI runs `make test`
# this way; `make check-fresh` runs any README command the same way.
#
#   .ci/fresh-root.sh [--suite bookworm|trixie] [--log FILE] [--keep] -- COMMAND...
#   .ci/fresh-root.sh [--suite ...] --base-image FILE   # only write the pristine root,
#       with this machine's apt sources and settings, as a tarball for `podman import`
#       (docker/check-container.sh); no CA, DNS or anything else of this machine.
#
# Needs root (chroot, mounts) and debootstrap (installed with apt-get if
# missing). Only the pristine debootstrap tarball is cached between runs
# ($SYNTH2REAL_ROOTFS_CACHE, default ~/.cache/synth2real/rootfs); everything
# the project installs happens inside a fresh copy every time. The root reaches
# the package registries exactly as this machine does: its apt sources, apt
# settings, DNS settings, CA trust store and proxy/CA environment variables are
# copied in at run time. Set DEBIAN_MIRROR where this machine is not Debian.
set -euo pipefail

# Run from a private copy: bash reads a script as it goes, so editing the
# checkout during an hour-long run would otherwise change the script under it.
if [ -z "${FRESH_ROOT_REPO:-}" ]; then
  FRESH_ROOT_REPO=$(cd "$(dirname "$0")/.." && pwd)
  export FRESH_ROOT_REPO
  copy=$(mktemp "${TMPDIR:-/tmp}/fresh-root.XXXXXX")
  cp "$0" "$copy"
  exec bash "$copy" "$@"
fi
rm -f "$0"  # the copy; bash keeps it open

SUITE=bookworm
LOG=""
KEEP=0
BASE_IMAGE=""
while [ $# -gt 0 ]; do
  case "$1" in
    --suite) SUITE=$2; shift 2 ;;
    --log) LOG=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    --base-image) BASE_IMAGE=$2; shift 2 ;;
    --) shift; break ;;
    -*) echo "fresh-root: unknown option $1 (see the header of .ci/fresh-root.sh)" >&2; exit 2 ;;
    *) break ;;
  esac
done
[ $# -gt 0 ] || [ -n "$BASE_IMAGE" ] || { echo "fresh-root: no command given; e.g. $0 -- make test BUNDLE=../shared/bundle" >&2; exit 2; }
CMD="$*"

die() { echo "fresh-root: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (chroot and mounts); run it with sudo"
case "$SUITE" in bookworm|trixie) ;; *) die "--suite $SUITE: bookworm or trixie" ;; esac

REPO=$FRESH_ROOT_REPO
NAME=$(basename "$REPO")
SHARED=$(cd "$REPO/.." && pwd)/shared
ARCH=$(dpkg --print-architecture 2>/dev/null || echo amd64)
CACHE=${SYNTH2REAL_ROOTFS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/synth2real/rootfs}
TARBALL=$CACHE/$SUITE-minbase-$ARCH.tar
START=$SECONDS

if [ -n "$LOG" ]; then
  mkdir -p "$(dirname "$LOG")"
  exec > >(tee "$LOG") 2>&1
fi
phase() { printf '\n== fresh-root [%4ds] %s\n' $((SECONDS - START)) "$*"; }

# The Debian mirror this machine uses (the first URI of its apt sources), so the
# root goes through the same route; nothing about it is written in the repository.
host_mirror() {
  if [ -n "${DEBIAN_MIRROR:-}" ]; then echo "$DEBIAN_MIRROR"; return; fi
  local id
  id=$(. /etc/os-release && echo "${ID:-}")
  [ "$id" = debian ] || die "this machine is ${id:-unknown}, not Debian: set DEBIAN_MIRROR to a Debian mirror URL"
  local uri
  uri=$( (cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '/^URIs:/ {print $2; exit}';
          cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
            awk '$1 == "deb" {for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) {print $i; exit}}') | head -n 1)
  [ -n "$uri" ] || die "no Debian mirror found in /etc/apt/sources.list*; set DEBIAN_MIRROR"
  echo "$uri"
}

if [ ! -f "$TARBALL" ]; then
  command -v debootstrap >/dev/null || {
    phase "installing debootstrap on this machine"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
  } || die "debootstrap is missing and could not be installed (apt-get install debootstrap)"
  phase "debootstrap --variant=minbase $SUITE (cached as $TARBALL)"
  mkdir -p "$CACHE"
  tmp=$(mktemp -d "$CACHE/.bootstrap.XXXXXX")
  debootstrap --variant=minbase --arch="$ARCH" "$SUITE" "$tmp" "$(host_mirror)" >"$tmp.log" 2>&1 ||
    { tail -n 20 "$tmp.log" >&2; rm -rf --one-file-system "$tmp"; die "debootstrap $SUITE failed (log above)"; }
  tar -C "$tmp" -cf "$TARBALL.partial" . && mv "$TARBALL.partial" "$TARBALL"
  rm -rf --one-file-system "$tmp" "$tmp.log"
fi

ROOT=$(mktemp -d "${TMPDIR:-/var/tmp}/synth2real-$SUITE.XXXXXX")
MOUNTS=()
cleanup() {
  local rc=$?
  set +e
  # Processes left behind in the root (a demo server, a browser) hold its mounts.
  for p in /proc/[0-9]*; do
    [ "$(readlink "$p/root" 2>/dev/null)" = "$ROOT" ] && kill -9 "${p#/proc/}" 2>/dev/null
  done
  for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
    umount -R "${MOUNTS[i]}" 2>/dev/null || umount -R -l "${MOUNTS[i]}"
  done
  if grep -q " $ROOT/" /proc/mounts; then
    echo "fresh-root: mounts under $ROOT remain; not deleting it" >&2
    rc=1
  elif [ "$KEEP" = 1 ]; then
    echo "fresh-root: kept $ROOT"
  else
    rm -rf --one-file-system "$ROOT"
  fi
  phase "done, exit $rc"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

phase "fresh $SUITE root in $ROOT"
tar -C "$ROOT" -xf "$TARBALL"
chmod 755 "$ROOT"  # mktemp makes it 0700; apt's _apt user must reach its cache

# How this machine reaches the registries: apt sources (suite names swapped for
# the root's), apt settings (also for --base-image), then DNS and the CA trust
# store. The host's extra CAs go where update-ca-certificates picks them up, so
# installing ca-certificates in the root keeps them in its regenerated bundle.
HOST_SUITE=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
rm -f "$ROOT/etc/apt/sources.list" "$ROOT"/etc/apt/sources.list.d/*
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
  [ -f "$f" ] || continue
  if [ -n "$HOST_SUITE" ]; then sed "s/\b$HOST_SUITE\b/$SUITE/g" "$f" >"$ROOT$f"; else cp "$f" "$ROOT$f"; fi
done
if [ -n "${DEBIAN_MIRROR:-}" ] || [ -z "$HOST_SUITE" ]; then
  rm -f "$ROOT"/etc/apt/sources.list.d/*
  printf 'deb %s %s main\n' "$(host_mirror)" "$SUITE" >"$ROOT/etc/apt/sources.list"
fi
for f in /etc/apt/apt.conf.d/* /etc/apt/auth.conf /etc/apt/auth.conf.d/*; do
  if [ -f "$f" ]; then mkdir -p "$ROOT$(dirname "$f")"; cp "$f" "$ROOT$f"; fi
done
# Keyrings named by the active sources (Signed-By / signed-by=) come along too.
SOURCES=$(ls /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
for key in $( [ -z "$SOURCES" ] || grep -ho 'Signed-By: *[^ ]*\|signed-by=[^] ]*' $SOURCES | sed 's/.*[:=] *//' | sort -u); do
  if [ -f "$key" ] && [ ! -e "$ROOT$key" ]; then mkdir -p "$ROOT$(dirname "$key")"; cp "$key" "$ROOT$key"; fi
done
if [ -n "$BASE_IMAGE" ]; then
  mkdir -p "$(dirname "$BASE_IMAGE")"
  tar -C "$ROOT" -cf "$BASE_IMAGE.partial" . && mv "$BASE_IMAGE.partial" "$BASE_IMAGE"
  phase "wrote $BASE_IMAGE"
  exit 0
fi
rm -f "$ROOT/etc/resolv.conf" && cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf"
if [ -f /etc/hosts ]; then cp /etc/hosts "$ROOT/etc/hosts"; fi
if [ -d /usr/local/share/ca-certificates ]; then
  mkdir -p "$ROOT/usr/local/share/ca-certificates"
  cp -r /usr/local/share/ca-certificates/. "$ROOT/usr/local/share/ca-certificates/"
fi
if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
  mkdir -p "$ROOT/etc/ssl/certs"
  cp -L /etc/ssl/certs/ca-certificates.crt "$ROOT/etc/ssl/certs/ca-certificates.crt"
fi

bind() {  # bind SRC DST [ro]
  mkdir -p "$2"
  mount --rbind "$1" "$2" && MOUNTS+=("$2")
  mount --make-rslave "$2"
  [ "${3:-}" = ro ] && mount -o remount,bind,ro "$2"
  return 0
}
mount -t proc proc "$ROOT/proc" && MOUNTS+=("$ROOT/proc")
mount -t sysfs sysfs "$ROOT/sys" && MOUNTS+=("$ROOT/sys")
bind /dev "$ROOT/dev"
if [ -d "$SHARED" ]; then bind "$SHARED" "$ROOT/work/shared" ro; fi

# Proxy and CA settings travel as this machine has them; nothing else of its
# environment does (no pip configuration, no caches, no PATH).
ENV=(HOME=/root LANG=C.UTF-8 TERM=dumb PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
     DEBIAN_FRONTEND=noninteractive)
for v in http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY \
         SSL_CERT_FILE SSL_CERT_DIR REQUESTS_CA_BUNDLE CURL_CA_BUNDLE CI; do
  [ -n "${!v:-}" ] && ENV+=("$v=${!v}")
done
in_root() { chroot "$ROOT" /usr/bin/env -i "${ENV[@]}" /bin/bash -c "$1"; }

BASE=$(awk '!/^#/ && $2 == "base" {printf "%s ", $1}' "$REPO/system-packages.txt")
phase "apt-get install the README's requirements: $BASE"
in_root "apt-get update -qq && apt-get install -y -qq --no-install-recommends $BASE >/dev/null"
in_root 'python3 --version; git --version | head -n 1; make --version | head -n 1'

phase "git clone $(git -C "$REPO" rev-parse --short HEAD) into /work/$NAME (committed files only)"
git clone -q --no-hardlinks "$REPO" "$ROOT/work/$NAME"
git -C "$ROOT/work/$NAME" checkout -q "$(git -C "$REPO" rev-parse HEAD)"

phase "run: $CMD"
t0=$SECONDS
# In the background, so a TERM to this script runs the cleanup at once (bash
# defers traps while a foreground child runs).
in_root "cd /work/$NAME && $CMD" </dev/null &
wait $!
phase "command passed in $((SECONDS - t0)) s"
