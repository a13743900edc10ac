#!/usr/bin/env bash
# Install the Debian 12 packages Bulwark needs to build, test and run.
# Idempotent: asks apt only for what dpkg says is missing.
#
#   scripts/deps.sh           build and run
#   scripts/deps.sh --test    and the test tools
#   scripts/deps.sh --bench   and the peers and tools of bench/backup.sh
set -euo pipefail

PKGS=(
	build-essential cmake pkg-config git ca-certificates
	libsodium-dev libssl-dev libjansson-dev
	libmicrohttpd-dev libcurl4-openssl-dev curl
	liboath-dev libqrencode-dev openssh-client openssh-server
	libsqlite3-dev sqlite3 libpam0g-dev rsync libzstd-dev libargon2-dev
)
TEST_PKGS=(
	libcmocka-dev clang libclang-rt-14-dev procps psmisc
	coreutils util-linux time oathtool zbar-tools
	pamtester asciinema iproute2 ansible-core attr acl faketime
)
BENCH_PKGS=(
	restic borgbackup time zstd
)

want=("${PKGS[@]}")
if [ "${1:-}" = "--test" ]; then
	want+=("${TEST_PKGS[@]}")
elif [ "${1:-}" = "--bench" ]; then
	want+=("${BENCH_PKGS[@]}")
fi

missing=()
for p in "${want[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done

if [ "${#missing[@]}" -eq 0 ]; then
	echo "deps: all ${#want[@]} packages present"
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing packages: ${missing[*]}" >&2
	echo "deps: run this script as root, or: apt-get install ${missing[*]}" >&2
	exit 1
fi

echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Installing openssh-server must not start or restart the machine's own
# sshd: Bulwark runs its own sshd instances with their own configuration.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' > "$policy"
	chmod 755 "$policy"
	trap 'rm -f "$policy"' EXIT
fi
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
