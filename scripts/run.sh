#!/usr/bin/env bash
# Installs what is missing, builds Bulwark, and runs its main job with
# embedded defaults: a complete gateway on this machine (bulwarkd, the
# gateway sshd on 127.0.0.1 with its second factor, a demo target that
# trusts only the Bulwark CA, a demo user), a command and a recorded
# session through it, and the audit log verifying; the gateway is left
# running with the commands to try printed. `scripts/run.sh --stop`
# removes it. `bulwark demo` (in the same build) shows the audit log and
# its witness catching tampering.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = --stop ]; then
	exec ./scripts/gateway-demo.sh --stop
fi
./scripts/deps.sh
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
cmake --build build-release -j"$(nproc)" >/dev/null
exec ./scripts/gateway-demo.sh build-release
