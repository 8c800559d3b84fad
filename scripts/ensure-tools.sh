#!/usr/bin/env bash
# Host tools the local provider and its tests use: the OpenSSH client (for
# `clusterous ssh`) and a static busybox (the 2 MB image of the offline examples
# and tests). Installed from Debian's packages when missing and running as root.
set -euo pipefail

missing=()
command -v ssh >/dev/null 2>&1 || missing+=(openssh-client)
command -v busybox >/dev/null 2>&1 || missing+=(busybox-static)
if [ ${#missing[@]} -eq 0 ]; then
    echo "tools: ssh and busybox present"
    exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "tools: missing ${missing[*]}; install them with your package manager" >&2
    exit 1
fi
echo "tools: installing ${missing[*]}"
apt-get update -q >/dev/null
DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null
