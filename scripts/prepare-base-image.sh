#!/usr/bin/env bash
# Make sure the base image of the local provider's nodes exists in the local
# Docker engine. A normal machine pulls it; a machine with no registry reachable
# (CI here) builds the very same Debian release with debootstrap from the Debian
# package mirror and imports it under the name a pull would have given.
#
# usage: scripts/prepare-base-image.sh [IMAGE]   (default debian:bookworm-slim)
set -euo pipefail

image="${1:-debian:bookworm-slim}"
suite="bookworm"

if docker image inspect "$image" >/dev/null 2>&1; then
    echo "base image $image: present"
    exit 0
fi
if timeout 60 docker pull "$image" >/dev/null 2>&1; then
    echo "base image $image: pulled"
    exit 0
fi

mirror_of_host() {
    # The Debian mirror apt already uses on this machine (deb822 or one-line format).
    local uri
    uri=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -oE '^URIs:.*' \
          | tr ' ' '\n' | grep -E '^[a-z]+://\S+/debian/?$' | head -n1 || true)
    if [ -z "$uri" ]; then
        uri=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
              | grep -E '^deb\s' | tr ' ' '\n' | grep -E '^[a-z]+://\S+/debian/?$' | head -n1 || true)
    fi
    echo "${uri:-http://deb.debian.org/debian}"
}

if ! command -v debootstrap >/dev/null 2>&1; then
    echo "base image $image: cannot be pulled; installing debootstrap to build it"
    apt-get install -y -q debootstrap >/dev/null
fi

mirror=$(mirror_of_host)
rootfs=$(mktemp -d /tmp/clusterous-rootfs.XXXXXX)
trap 'rm -rf "$rootfs"' EXIT
echo "base image $image: cannot be pulled; building it with debootstrap from $mirror (about a minute)"
debootstrap --variant=minbase "$suite" "$rootfs" "$mirror" >/tmp/clusterous-debootstrap.log 2>&1 || {
    echo "debootstrap failed; last lines of /tmp/clusterous-debootstrap.log:" >&2
    tail -n 20 /tmp/clusterous-debootstrap.log >&2
    exit 1
}
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
tar -C "$rootfs" -c . | docker import -c 'CMD ["/bin/bash"]' - "$image" >/dev/null
echo "base image $image: built and imported"
