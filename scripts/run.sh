#!/usr/bin/env bash
# Installs what is missing, builds Bulwark, and runs its main job with
# embedded defaults. Until the gateway lands, the main job is the audit
# log end to end: a log and a witness started locally, events appended,
# the checkpoint cosigned, verification passing, and a tampered copy
# failing verification with a message naming what changed.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
cmake --build build-release -j"$(nproc)"
exec ./build-release/bulwark demo "$@"
