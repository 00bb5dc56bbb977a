#!/usr/bin/env bash
# Runs the tests that need cgroup v2 with systemd (test/vm/, vitest.vm.config.ts)
# in the QEMU guest of ../shared/vm/vm.sh: builds the guest image if needed,
# boots it with this checkout shared at /project, runs the tests as the
# unprivileged user "tester" (in a delegated systemd scope, as a rootless user's
# shell is) and as root, and always stops the guest again.
#
#   sudo bash scripts/test-vm.sh            # .ci/run does this after npm test
#
# Settings: SANDBOX_VM_SH (path of vm.sh), SANDBOX_VM_DIR (guest state, default
# /var/tmp/sandbox-vm), SANDBOX_VM_REUSE=1 (use a guest that is already running
# in SANDBOX_VM_DIR and leave it running), and vm.sh's own SANDBOX_VM_* settings.
# Needs root (vm.sh builds the image with debootstrap and runs QEMU).
# Must not: stop a guest it did not start.
set -euo pipefail

repo=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd -P)
cd "$repo"

vm=${SANDBOX_VM_SH:-}
if [[ -z $vm ]]; then
  for c in "$repo/../shared/vm/vm.sh" /work/shared/vm/vm.sh; do
    [[ -x $c ]] && { vm=$(readlink -f "$c"); break; }
  done
fi
if [[ -z $vm || ! -x $vm ]]; then
  echo "error: vm.sh not found (looked at \$SANDBOX_VM_SH, $repo/../shared/vm/vm.sh, /work/shared/vm/vm.sh); hint: set SANDBOX_VM_SH=/path/to/vm.sh" >&2
  exit 1
fi
if [[ $(id -u) != 0 ]]; then
  echo "error: scripts/test-vm.sh needs root (vm.sh builds the guest image and runs QEMU); hint: sudo bash scripts/test-vm.sh" >&2
  exit 1
fi
export SANDBOX_VM_DIR=${SANDBOX_VM_DIR:-/var/tmp/sandbox-vm}
export SANDBOX_VM_SHARE=$repo

t() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(t)" 'BEGIN { printf "%.1f", b - a }'; }
timings=()

started=0
stop_guest() {
  local rc=$? t0
  if ((started)); then
    t0=$(t)
    "$vm" stop || true
    timings+=("stop $(since "$t0") s")
  fi
  printf 'test-vm: %s\n' "${timings[@]}" >&2
  exit "$rc"
}
trap stop_guest EXIT
trap 'exit 130' INT TERM

if "$vm" status >/dev/null 2>&1; then
  if [[ ${SANDBOX_VM_REUSE:-0} != 1 ]]; then
    echo "error: a guest is already running in $SANDBOX_VM_DIR (someone else's?); hint: use another SANDBOX_VM_DIR, or SANDBOX_VM_REUSE=1 to use it (it must share $repo)" >&2
    exit 1
  fi
  echo "test-vm: reusing the running guest in $SANDBOX_VM_DIR"
else
  t0=$(t)
  "$vm" build
  timings+=("build $(since "$t0") s")
  t0=$(t)
  started=1
  "$vm" start
  timings+=("start $(since "$t0") s")
fi

# the tests import src/ through vitest and bundle small callers with esbuild:
# they need node_modules (the host's; same glibc in the guest) but not dist/
[[ -x node_modules/.bin/vitest ]] || { echo "error: node_modules/.bin/vitest missing; hint: npm ci" >&2; exit 1; }

rc=0
t0=$(t)
echo "test-vm: as tester (rootless, in a delegated scope)"
"$vm" exec --user tester -C /project -- node_modules/.bin/vitest run --config vitest.vm.config.ts --configLoader runner || rc=$?
timings+=("tests as tester $(since "$t0") s")
t0=$(t)
echo "test-vm: as root"
"$vm" exec -C /project -- node_modules/.bin/vitest run --config vitest.vm.config.ts --configLoader runner || rc=$?
timings+=("tests as root $(since "$t0") s")
exit "$rc"
