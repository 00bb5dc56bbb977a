#!/usr/bin/env bash
# Builds the OCI test images locally (no registry, no internet except the
# Debian mirror this machine's apt already uses) into $SANDBOX_TEST_IMAGES
# (default /var/cache/rootless-sandbox/test-images), world-readable so the
# unprivileged test user can read them:
#
#   busybox/                     OCI layout: busybox-static, its applets, /etc/passwd, /tmp 1777
#   debian/                      OCI layout: debootstrap --variant=minbase bookworm, one layer
#                                (also the layer bench/unpack.mjs unpacks)
#   layered/                     OCI layout: busybox + a whiteout and an opaque directory + one more layer
#   busybox.oci-archive.tar      busybox written by `podman save --format oci-archive`
#   busybox.docker-archive.tar   busybox written by `podman save --format docker-archive`
#   cache/                       the debootstrap tarball and its .deb cache (reused by re-runs)
#
# Run as root (debootstrap and podman need it). Cached: an output is rebuilt
# only when it is missing or its inputs (these scripts, /bin/busybox, the
# debootstrap tarball, the podman version) changed, so a re-run is instant.
#
#   sudo bash scripts/build-test-images.sh [--force]
set -euo pipefail

OUT=${SANDBOX_TEST_IMAGES:-/var/cache/rootless-sandbox/test-images}
SUITE=bookworm
VARIANT=minbase
BUSYBOX=/bin/busybox
here=$(cd "$(dirname "$0")" && pwd)

say() { printf 'build-test-images: %s\n' "$*"; }
die() {
  printf 'build-test-images: error: %s\n' "$1" >&2
  [ $# -ge 2 ] && printf 'build-test-images:   hint: %s\n' "$2" >&2
  exit 1
}

force=0
for arg in "$@"; do
  case "$arg" in
    --force) force=1 ;;
    -h | --help) sed -n '2,20s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) die "unknown option: $arg" "the only option is --force (rebuild everything but the debootstrap tarball)" ;;
  esac
done

[ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap and podman need it)" "sudo bash $0"
for tool in node debootstrap; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool not found" "sudo bash scripts/setup-host.sh --test-users"
done
[ -x "$BUSYBOX" ] && "$BUSYBOX" --list-full >/dev/null 2>&1 ||
  die "$BUSYBOX is missing or not busybox" "apt-get install busybox-static"

umask 022
mkdir -p "$OUT/cache" "$OUT/.keys"
chmod a+rx "$OUT" # adds, never removes: $OUT may be a directory someone else made
# One build at a time (setup-host.sh and bench/setup.sh both call this).
exec 9>"$OUT/.lock"
flock 9

hash_of() { cat "$@" | sha256sum | cut -d' ' -f1; }
# An output is up to date when it exists and the key it was built with matches.
fresh() { # name key path...
  local name=$1 key=$2 p
  shift 2
  [ "$force" = 0 ] || return 1
  for p in "$@"; do [ -e "$p" ] || return 1; done
  [ "$(cat "$OUT/.keys/$name" 2>/dev/null)" = "$key" ]
}
record() { printf '%s\n' "$2" >"$OUT/.keys/$1"; }

# The first Debian mirror in this machine's apt sources (deb822 or one-line).
apt_mirror() {
  local f url
  for f in /etc/apt/sources.list.d/*.sources /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -r "$f" ] || continue
    case "$f" in
      *.sources) url=$(awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i ~ /\/debian\/?$/) { print $i; exit } }' "$f") ;;
      *) url=$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^(https?|file):.*\/debian\/?$/) { print $i; exit } }' "$f") ;;
    esac
    [ -n "$url" ] && { echo "$url"; return 0; }
  done
  return 1
}

# ---------------------------------------------------------------- debootstrap
rootfs_tar=$OUT/cache/debian-$SUITE-$VARIANT.tar
mirror=$(apt_mirror) || die "no Debian mirror found in /etc/apt/sources.list*" "add a Debian 'deb' source (e.g. deb.debian.org/debian)"
rootfs_key="$SUITE $VARIANT $mirror $(dpkg-query -W -f='${Version}' debootstrap)"
if [ -s "$rootfs_tar" ] && [ "$(cat "$OUT/.keys/debian-rootfs" 2>/dev/null)" = "$rootfs_key" ]; then
  say "debian rootfs: cached ($rootfs_tar)"
else
  say "debian rootfs: debootstrap --variant=$VARIANT $SUITE from $mirror"
  tree=$(mktemp -d "$OUT/cache/debootstrap.XXXXXX")
  trap 'rm -rf "$tree"' EXIT
  mkdir -p "$OUT/cache/debs"
  log=$OUT/cache/debootstrap.log
  if ! debootstrap --variant="$VARIANT" --cache-dir="$OUT/cache/debs" "$SUITE" "$tree" "$mirror" >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    die "debootstrap failed (log: $log, last lines above)" "check that $mirror is reachable (apt-get update) and that $OUT's file system allows device nodes"
  fi
  # /dev, /proc, /sys are filled at run time, and apt's lists are not image content
  chmod 0755 "$tree" # mktemp's 0700 would become the image's /
  rm -rf "${tree:?}"/dev/* "${tree:?}"/proc/* "${tree:?}"/sys/* "$tree"/var/lib/apt/lists/* "$tree"/var/cache/apt/*.bin
  tar --numeric-owner --xattrs --sort=name -C "$tree" -cf "$rootfs_tar.tmp" .
  mv "$rootfs_tar.tmp" "$rootfs_tar"
  record debian-rootfs "$rootfs_key"
  rm -rf "$tree"
  trap - EXIT
  say "debian rootfs: $(du -h "$rootfs_tar" | cut -f1) tarball"
fi

# ---------------------------------------------------------------- OCI layouts
builder_key=$(hash_of "$here/make-oci-image.mjs" "$here/test-image-specs.mjs")
busybox_key="$builder_key $(hash_of "$BUSYBOX")"
build_layout() { # name key
  local name=$1 key=$2 spec
  if fresh "$name" "$key" "$OUT/$name/index.json"; then
    say "$name: up to date"
    return 0
  fi
  spec=$(mktemp)
  node "$here/test-image-specs.mjs" "$name" "$OUT" "$rootfs_tar" >"$spec"
  node "$here/make-oci-image.mjs" "$spec"
  rm -f "$spec"
  record "$name" "$key"
}
build_layout busybox "$busybox_key"
build_layout layered "$busybox_key"
# the tarball's size and mtime: a re-debootstrapped tarball rebuilds the layout
build_layout debian "$builder_key $(cat "$OUT/.keys/debian-rootfs") $(stat -c '%s %Y' "$rootfs_tar")"

# ---------------------------------------------------------------- podman save
# The real `podman save` archives, made with a private storage (vfs, in a
# temp dir: podman refuses a runroot path longer than 50 characters) so
# nothing of the host's podman state is touched (podman still keeps its
# blob-info cache in /var/lib/containers/cache and makes an empty
# /run/containers/networks: no images, no containers).
archives=("$OUT/busybox.oci-archive.tar" "$OUT/busybox.docker-archive.tar")
if ! command -v podman >/dev/null 2>&1; then
  die "podman not found: the podman-save archives cannot be made" "apt-get install podman (scripts/setup-host.sh --test-users does)"
fi
podman_key="$(hash_of "$OUT/busybox/index.json") $(podman --version)"
if fresh podman-archives "$podman_key" "${archives[@]}"; then
  say "podman archives: up to date"
else
  store=$(mktemp -d /tmp/sandbox-podman.XXXXXX)
  trap 'rm -rf "$store"' EXIT
  pm() {
    TMPDIR=$store/tmp podman --root "$store/root" --runroot "$store/run" --tmpdir "$store/libpod" \
      --network-config-dir "$store/net" --storage-driver vfs --events-backend none --cgroup-manager cgroupfs "$@"
  }
  mkdir -p "$store/tmp"
  name=localhost/rootless-sandbox-test/busybox:latest
  pm load -q -i "$OUT/busybox" >"$store/load.out" 2>&1 || { cat "$store/load.out" >&2; die "podman load of $OUT/busybox failed"; }
  id=$(pm images -q --no-trunc | head -n1)
  [ -n "$id" ] || die "podman load printed no image: $(cat "$store/load.out")"
  pm tag "$id" "$name"
  for format in oci-archive docker-archive; do
    rm -f "$OUT/busybox.$format.tar"
    pm save -q --format "$format" -o "$OUT/busybox.$format.tar.tmp" "$name"
    mv "$OUT/busybox.$format.tar.tmp" "$OUT/busybox.$format.tar"
  done
  pm rmi -a -f >/dev/null
  rm -rf "$store"
  trap - EXIT
  record podman-archives "$podman_key"
  say "podman archives: written with $(podman --version)"
fi

chmod -R a+rX "$OUT"
say "done: $OUT"
