#!/usr/bin/env bash
# Host tools the local provider, its tests and the demo use: the OpenSSH client
# (for `clusterous ssh`), a static busybox (the 2 MB image of the offline examples
# and tests), curl (the demo asks the example app through its tunnel) and
# chromium (the dashboard's browser test runs it headless). Installed from
# Debian's packages when missing and running as root.
set -euo pipefail

missing=()
command -v ssh >/dev/null 2>&1 || missing+=(openssh-client)
command -v busybox >/dev/null 2>&1 || missing+=(busybox-static)
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
if [ ${#missing[@]} -eq 0 ]; then
    echo "tools: ssh, busybox, curl and chromium present"
    exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "tools: missing ${missing[*]}; install them with your package manager" >&2
    exit 1
fi
echo "tools: installing ${missing[*]}"
apt-get update -q >/dev/null
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
