#!/bin/sh
# Entrypoint of a local clusterous node container (runs under tini as PID 1).
#
# Without --privileged, Docker mounts /sys, /proc/sys and the cgroup hierarchies
# read-only, which the node's own dockerd cannot live with. The container has
# the capabilities to remount them read-write (the provider's cap-add recipe),
# so do that first; with --privileged they are already read-write and nothing
# changes.
# Then run sshd in the foreground: the node is configured by bootstrap.sh over
# SSH, exactly as an EC2 instance is configured by the same script.
set -eu

say() { echo "clusterous-node: $*" >&2; }

# Mount points the node's dockerd must write that are mounted read-only: sysfs,
# /proc/sys (sysctls such as ip_forward) and every cgroup hierarchy (v1
# controllers or the v2 unified one).
read_only_mounts() {
    awk '{
        sep = 0
        for (i = 7; i <= NF; i++) if ($i == "-") { sep = i; break }
        fstype = $(sep + 1)
        if ($6 !~ /(^|,)ro(,|$)/) next
        if ($5 == "/sys" || $5 == "/proc/sys") print $5
        else if ($5 ~ "^/sys/fs/cgroup" && fstype ~ /^cgroup2?$/) print $5
    }' /proc/self/mountinfo
}

make_sys_writable() {
    for mount_point in $(read_only_mounts); do
        if [ "$mount_point" = /sys ]; then
            mount -o remount,rw /sys 2>/dev/null || true
        else
            mount -o remount,bind,rw "$mount_point" 2>/dev/null || true
        fi
    done
    left=$(read_only_mounts | tr '\n' ' ')
    if [ -n "$left" ]; then
        say "warning: still read-only: $left; the node's Docker engine may not start."
        say "run the node with --privileged, or with the capabilities of the clusterous local provider."
    fi
}

make_sys_writable

mkdir -p /run/sshd
chmod 0755 /run/sshd
if [ ! -s /etc/ssh/ssh_host_ed25519_key ]; then
    say "error: no SSH host key at /etc/ssh/ssh_host_ed25519_key."
    say "the clusterous local provider places the node's pinned host key there before"
    say "starting the container; refusing to start sshd with a key nobody pinned."
    exit 1
fi
exec /usr/sbin/sshd -D -e
