#!/usr/bin/env bash
# Installs the tools the benchmarks compare against (Debian packages).
set -euo pipefail
need=()
# podman (with runc: crun refuses this machine's hybrid cgroups) for the network comparison
for p in bubblewrap hyperfine podman runc; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || need+=("$p"); done
if ((${#need[@]})); then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
echo "bench tools: $(bwrap --version), $(hyperfine --version), $(podman --version), $(runc --version | head -1)"
