#!/usr/bin/env bash
# Prepares a Debian/Ubuntu-like host for rootless-sandbox: installs the system
# packages it needs, checks newuidmap/newgidmap, enables unprivileged user
# namespaces, makes /dev/net/tun and /dev/fuse usable by unprivileged users,
# and (with --test-users) creates the users the test suite runs as.
#
# Runs as root (it calls sudo itself when run by another user). Safe to run again: every step checks first and changes only
# what is missing, so a re-run on a set-up host is fast and needs no network.
#
#   bash scripts/setup-host.sh [--ci] [--test-users]     (as root, or through sudo, which it uses itself)
#
#   --ci          also turn off Ubuntu's AppArmor restriction on unprivileged
#                 user namespaces (kernel.apparmor_restrict_unprivileged_userns)
#   --test-users  create the test users sbtest (subuid/subgid 200000:65536),
#                 sbtest-norange (no ranges) and sbtest-other (no ranges: the
#                 other local user of the security tests), give root
#                 1000000:65536, and
#                 install what the tests run against (TEST_PACKAGES), and
#                 build the test images (scripts/build-test-images.sh: cached,
#                 into $SANDBOX_TEST_IMAGES or /var/cache/rootless-sandbox/test-images)
set -euo pipefail

PACKAGES=(uidmap passt slirp4netns fuse-overlayfs fuse3 libseccomp2 libseccomp-dev
  gcc libc6-dev make iproute2 util-linux procps ca-certificates busybox-static)
# Packages that may be missing from older releases; skipped with a warning.
OPTIONAL_PACKAGES=(passt)
# With --test-users: what the test suite runs against (podman's seccomp.json,
# script(1) for terminals, compilers for programs run under the strict policy
# (C, C++, Python, Go, Java),
# docker-registry and openssl for the registry client tests, zstd to make zstd layers,
# debootstrap and podman to build the test images (scripts/build-test-images.sh) and
# to write real `podman save` archives for the image loaders).
TEST_PACKAGES=(golang-github-containers-common bsdutils g++ python3 golang-go openjdk-17-jdk-headless docker-registry
  openssl zstd debootstrap podman)

TEST_USER=sbtest
TEST_USER_RANGE=200000:65536
NORANGE_USER=sbtest-norange
# Another local user with no range: plays the user next door in test/security.
OTHER_USER=sbtest-other
ROOT_RANGE=1000000:65536

ci=0
test_users=0
warnings=0
errors=0
changes=0

say() { printf 'setup-host: %s\n' "$*"; }
warn() { printf 'setup-host: warning: %s\n' "$*" >&2; warnings=$((warnings + 1)); }
hint() { printf 'setup-host:   hint: %s\n' "$*" >&2; }
fail() { printf 'setup-host: error: %s\n' "$*" >&2; errors=$((errors + 1)); }
die() {
  printf 'setup-host: error: %s\n' "$1" >&2
  [ $# -ge 2 ] && printf 'setup-host:   hint: %s\n' "$2" >&2
  exit 1
}
changed() { say "$*"; changes=$((changes + 1)); }

usage() { sed -n '2,18s/^# \{0,1\}//p' "$0"; }

for arg in "$@"; do
  case "$arg" in
    --ci) ci=1 ;;
    --test-users) test_users=1 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown option: $arg" "options are --ci and --test-users" ;;
  esac
done

# ---------------------------------------------------------------- preconditions
if [ "$(id -u)" -ne 0 ]; then
  # root's work (packages, sysctls, users): through sudo where there is one, so the README's command works for both
  if command -v sudo >/dev/null 2>&1; then
    say "not root: running through sudo"
    exec sudo bash "$0" "$@"
  fi
  die "this script must be run as root (it installs packages, sets sysctls and creates users), and sudo is not installed" \
    "run it as root: su -c 'bash $0${*:+ $*}'"
fi
if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg-query >/dev/null 2>&1; then
  die "apt-get/dpkg-query not found: this script supports Debian/Ubuntu-like systems only" \
    "on other distributions install the equivalents of: ${PACKAGES[*]}; then follow the remaining steps of this script by hand"
fi

# Node is not installed by this script: the version matters and users pick
# their own source. Checked first so nothing is changed on a host that cannot
# run the project anyway.
if ! command -v node >/dev/null 2>&1; then
  die "node not found: rootless-sandbox needs Node.js 20 or newer" \
    "install Node.js 20+ from your distribution (apt-get install nodejs, if it is new enough) or from https://nodejs.org, then run this script again"
fi
node_version=$(node --version 2>/dev/null || true)
node_major=${node_version#v}
node_major=${node_major%%.*}
if ! [[ "$node_major" =~ ^[0-9]+$ ]] || [ "$node_major" -lt 20 ]; then
  die "node ${node_version:-(unknown version)} at $(command -v node) is too old: rootless-sandbox needs Node.js 20 or newer" \
    "install Node.js 20+ from your distribution or from https://nodejs.org, then run this script again"
fi
say "node $node_version at $(command -v node): ok"
if ! command -v npm >/dev/null 2>&1; then
  warn "npm not found: it is needed to install and build the project"
  hint "install npm (Debian: apt-get install npm; the nodejs.org builds include it)"
fi

# ---------------------------------------------------------------- packages
is_installed() {
  [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" = installed ]
}
is_optional() {
  local p
  for p in "${OPTIONAL_PACKAGES[@]}"; do [ "$p" = "$1" ] && return 0; done
  return 1
}
has_candidate() {
  local c
  c=$(apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ { print $2 }')
  [ -n "$c" ] && [ "$c" != "(none)" ]
}

[ "$test_users" = 1 ] && PACKAGES+=("${TEST_PACKAGES[@]}")
missing=()
for p in "${PACKAGES[@]}"; do
  is_installed "$p" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  say "packages: all ${#PACKAGES[@]} already installed"
else
  say "packages: missing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt_opts=(-o DPkg::Lock::Timeout=300 -o Acquire::Retries=3)
  say "running apt-get update"
  apt-get "${apt_opts[@]}" -q update
  to_install=()
  for p in "${missing[@]}"; do
    if has_candidate "$p"; then
      to_install+=("$p")
    elif is_optional "$p"; then
      warn "package $p is not available from this system's apt sources; skipping it"
      hint "$p is optional: without it --network pasta is refused (--network slirp4netns still works)"
    else
      fail "package $p is not available from this system's apt sources"
      hint "enable the repository that provides $p (Debian: main; Ubuntu: universe) and run this script again"
    fi
  done
  [ "$errors" -eq 0 ] || exit 1
  if [ ${#to_install[@]} -gt 0 ]; then
    say "installing: ${to_install[*]}"
    apt-get "${apt_opts[@]}" install -y --no-install-recommends "${to_install[@]}"
    changes=$((changes + 1))
  fi
fi

# ---------------------------------------------------------------- newuidmap/newgidmap
has_file_cap() {
  # prints nothing (false) when getcap is absent or the file has no capability
  command -v getcap >/dev/null 2>&1 && getcap "$1" 2>/dev/null | grep -q "$2"
}
for tool in newuidmap newgidmap; do
  cap=cap_setuid
  [ "$tool" = newgidmap ] && cap=cap_setgid
  path=$(command -v "$tool" 2>/dev/null || true)
  if [ -z "$path" ]; then
    warn "$tool not found (package uidmap): unprivileged users cannot map their subordinate ids"
    hint "apt-get install uidmap"
    continue
  fi
  if [ -u "$path" ] && [ "$(stat -c %u "$path")" = 0 ]; then
    say "$path: setuid root: ok"
  elif has_file_cap "$path" "$cap"; then
    say "$path: has file capability $cap: ok"
  else
    warn "$path is neither setuid root nor has the $cap file capability: unprivileged users cannot map their subordinate ids"
    hint "chown root:root $path && chmod u+s $path   (or: setcap $cap+ep $path)"
    command -v getcap >/dev/null 2>&1 || hint "getcap is not installed (package libcap2-bin), so file capabilities could not be checked"
  fi
done

# ---------------------------------------------------------------- user namespaces
set_sysctl() { # key value
  if command -v sysctl >/dev/null 2>&1; then
    sysctl -q -w "$1=$2" >/dev/null 2>&1
  else
    printf '%s\n' "$2" >"/proc/sys/${1//.//}" 2>/dev/null
  fi
}
persist_hint() {
  hint "this lasts until reboot; to keep it, put \"$1 = $2\" in /etc/sysctl.d/90-rootless-sandbox.conf"
}

# A sysctl that turns unprivileged user namespaces off: set it to a working value.
enable_sysctl() {
  local key=$1 off=$2 on=$3 what=${4:-} absent_note=${5:-} f
  f=/proc/sys/${key//.//}
  if [ ! -e "$f" ]; then
    [ -z "$absent_note" ] || warn "$f does not exist: $absent_note"
    return 0
  fi
  if [ "$(cat "$f")" != "$off" ]; then
    say "$key = $(cat "$f"): ok"
  elif set_sysctl "$key" "$on"; then
    changed "$key was $off: set it to $on${what:+ ($what)}"
    persist_hint "$key" "$on"
  else
    fail "$key is $off and could not be set to $on (read-only /proc/sys?)"
    hint "on the host: sysctl -w $key=$on"
  fi
}
enable_sysctl kernel.unprivileged_userns_clone 0 1 "unprivileged user namespaces enabled"
enable_sysctl user.max_user_namespaces 0 15000 "" "this kernel may lack user namespace support (CONFIG_USER_NS)"

f=/proc/sys/kernel/apparmor_restrict_unprivileged_userns
if [ -e "$f" ]; then
  if [ "$(cat "$f")" = 1 ]; then
    if [ "$ci" = 1 ]; then
      if set_sysctl kernel.apparmor_restrict_unprivileged_userns 0; then
        changed "kernel.apparmor_restrict_unprivileged_userns was 1: set it to 0 (--ci)"
      else
        fail "kernel.apparmor_restrict_unprivileged_userns is 1 and could not be set to 0"
        hint "sysctl -w kernel.apparmor_restrict_unprivileged_userns=0"
      fi
    else
      warn "AppArmor restricts unprivileged user namespaces (kernel.apparmor_restrict_unprivileged_userns = 1, Ubuntu 24.04+):"
      warn "  the sandbox cannot get capabilities inside its user namespace, so unprivileged runs will fail"
      hint "either turn the restriction off: sysctl -w kernel.apparmor_restrict_unprivileged_userns=0"
      hint "  (persist it in /etc/sysctl.d/90-rootless-sandbox.conf; run this script with --ci to do that for this boot),"
      hint "or install an AppArmor profile that grants 'userns,' to the sandbox's stage binary (see /etc/apparmor.d/ for examples)"
    fi
  else
    say "kernel.apparmor_restrict_unprivileged_userns = $(cat "$f"): ok"
  fi
fi

# ---------------------------------------------------------------- /dev/net/tun, /dev/fuse
# pasta/slirp4netns open /dev/net/tun and fuse-overlayfs opens /dev/fuse as the
# unprivileged user; distributions ship both 0666, minimal containers may not.
check_dev() { # path module why
  local dev=$1 module=$2 why=$3 mode
  if [ ! -e "$dev" ] && command -v modprobe >/dev/null 2>&1; then
    modprobe -q "$module" >/dev/null 2>&1 || true
  fi
  if [ ! -e "$dev" ]; then
    warn "$dev does not exist: $why will not work"
    hint "load the $module module (modprobe $module), or in a container pass the device through (e.g. --device $dev)"
    return 0
  fi
  if [ ! -c "$dev" ]; then
    warn "$dev is not a character device: $why will not work"
    return 0
  fi
  mode=$(stat -c %a "$dev")
  if [ "$mode" != 666 ]; then
    if chmod 0666 "$dev" 2>/dev/null; then
      changed "$dev was mode $mode: set it to 0666 (needed for $why)"
    else
      warn "$dev is mode $mode and could not be changed to 0666: $why will not work for unprivileged users"
      hint "chmod 0666 $dev"
    fi
  else
    say "$dev: mode 0666: ok"
  fi
}
check_dev /dev/net/tun tun "rootless networking (pasta/slirp4netns)"
check_dev /dev/fuse fuse "fuse-overlayfs"

# ---------------------------------------------------------------- test users
# Sets NAME's entries in FILE to exactly START:COUNT (one line), also dropping
# lines that name the user by numeric id, so the first range is predictable.
set_exact_subid() { # file name uid start:count
  local file=$1 name=$2 uid=$3 range=$4
  if [ "$(grep -cE "^($name|$uid):" "$file" || true)" = 1 ] && grep -qx "$name:$range" "$file"; then
    say "$file: $name:$range present: ok"
    return 0
  fi
  if grep -qE "^($name|$uid):" "$file"; then
    say "$file: replacing $name's entries: $(grep -E "^($name|$uid):" "$file" | paste -sd' ')"
    sed -i -E "/^($name|$uid):/d" "$file"
  fi
  append_line "$file" "$name:$range"
  changed "$file: added $name:$range"
}
# Appends a line, adding the missing newline at the end of the file first.
append_line() { # file line
  if [ -s "$1" ] && [ -n "$(tail -c1 "$1")" ]; then printf '\n' >>"$1"; fi
  printf '%s\n' "$2" >>"$1"
}
# Warns when another owner's range in FILE overlaps START:COUNT of NAME.
check_overlap() { # file name uid start:count
  local file=$1 name=$2 uid=$3 start=${4%%:*} count=${4##*:} others
  others=$(awk -F: -v n="$name" -v u="$uid" -v s="$start" -v c="$count" '
    $0 !~ /^[ \t]*(#|$)/ && NF >= 3 && $1 != n && $1 != u && $2 < s + c && $2 + $3 > s { print }' "$file")
  if [ -n "$others" ]; then
    warn "$file: $name's range $4 overlaps other entries: $(printf '%s\n' "$others" | paste -sd' ')"
    hint "overlapping ranges let those users share ids; give them disjoint ranges (edit $file)"
  fi
}

if [ "$test_users" = 1 ]; then
  for file in /etc/subuid /etc/subgid; do
    if [ ! -e "$file" ]; then
      install -m 0644 /dev/null "$file"
      changed "created empty $file"
    fi
  done

  for user in "$TEST_USER" "$NORANGE_USER" "$OTHER_USER"; do
    if id -u "$user" >/dev/null 2>&1; then
      say "user $user exists: ok"
    else
      # SUB_*_COUNT=0 stops useradd from allocating ranges itself; the ranges
      # are written below, exactly.
      useradd --create-home --shell /bin/bash -K SUB_UID_COUNT=0 -K SUB_GID_COUNT=0 "$user"
      changed "created user $user (home $(getent passwd "$user" | cut -d: -f6))"
    fi
  done

  for user in "$NORANGE_USER" "$OTHER_USER"; do
    uid=$(id -u "$user")
    for file in /etc/subuid /etc/subgid; do
      if grep -qE "^($user|$uid):" "$file"; then
        sed -i -E "/^($user|$uid):/d" "$file"
        changed "$file: removed $user's entries (it must have no range)"
      else
        say "$file: no entry for $user: ok"
      fi
    done
  done

  test_uid=$(id -u "$TEST_USER")
  for file in /etc/subuid /etc/subgid; do
    set_exact_subid "$file" "$TEST_USER" "$test_uid" "$TEST_USER_RANGE"
  done

  # root keeps any range it already has; 1000000:65536 is added only if none.
  for file in /etc/subuid /etc/subgid; do
    if grep -qE '^(root|0):' "$file"; then
      say "$file: root already has: $(grep -E '^(root|0):' "$file" | paste -sd' ')"
      grep -qx "root:$ROOT_RANGE" "$file" ||
        warn "$file: root's range is not root:$ROOT_RANGE (left unchanged; tests use root's first range)"
    else
      append_line "$file" "root:$ROOT_RANGE"
      changed "$file: added root:$ROOT_RANGE"
    fi
  done

  for file in /etc/subuid /etc/subgid; do
    check_overlap "$file" "$TEST_USER" "$test_uid" "$TEST_USER_RANGE"
    check_overlap "$file" root 0 "$ROOT_RANGE"
  done

  # A real check that the pieces fit: the test user creates a user namespace
  # and maps its subordinate range through newuidmap/newgidmap.
  start=${TEST_USER_RANGE%%:*}
  count=${TEST_USER_RANGE##*:}
  if out=$(cd / && runuser -u "$TEST_USER" -- unshare --user --map-root-user \
    --map-users="$start,1,$count" --map-groups="$start,1,$count" cat /proc/self/uid_map 2>&1); then
    say "self-check: $TEST_USER can create a user namespace with its subordinate ids: ok"
  else
    warn "self-check: $TEST_USER cannot create a user namespace with its subordinate ids:"
    printf '%s\n' "$out" | sed 's/^/setup-host:     /' >&2
    hint "see the warnings above (user namespaces, newuidmap/newgidmap, /etc/subuid)"
  fi

  # The OCI test images (debootstrap, busybox, podman save). Cached: a re-run
  # only checks. A failure fails the set-up: the image tests must not skip in CI.
  if bash "$(dirname "$0")/build-test-images.sh"; then
    say "test images: ok"
  else
    fail "building the test images failed (see above)"
    hint "run it alone for the details: sudo bash scripts/build-test-images.sh"
  fi
fi

# ---------------------------------------------------------------- summary
summary="setup-host: done: $changes change(s), $warnings warning(s), $errors error(s)"
summary+="; node $node_version; $([ "$test_users" = 1 ] && echo "test users $TEST_USER, $NORANGE_USER, $OTHER_USER" || echo "no test users (use --test-users)")"
echo "$summary"
[ "$errors" -eq 0 ]
