#!/usr/bin/env bash
# Installs the tools the benchmarks compare against (Debian packages) and
# builds the test images bench/unpack.mjs unpacks (cached: instant when built).
set -euo pipefail
need=()
# runc: crun refuses this machine's hybrid cgroups (podman runs for the network comparison use it)
for p in bubblewrap hyperfine podman debootstrap busybox-static runc; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || need+=("$p"); done
if ((${#need[@]})); then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
bash "$(dirname "$0")/../scripts/build-test-images.sh"
echo "bench tools: $(bwrap --version), $(hyperfine --version), $(podman --version), $(runc --version | head -1)"
