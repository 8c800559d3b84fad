#!/bin/sh
# Entrypoint of a local clusterous node container: prepare what systemd needs,
# then become systemd (PID 1), which boots the node as an EC2 instance boots.
#
# Without --privileged, Docker mounts /sys, /proc/sys and the cgroup
# hierarchies read-only, which neither systemd nor the node's own dockerd can
# live with. The container has the capabilities to remount them (the
# provider's cap-add recipe). On cgroup v1, systemd also needs a cgroup tree it
# may write: mount each of the container's own hierarchies afresh (the
# container has a private cgroup namespace), including name=systemd.
set -eu

say() { echo "clusterous-node: $*" >&2; }

# "mount point<TAB>fstype<TAB>super options" of every cgroup mount we see.
cgroup_mounts() {
    awk '{
        sep = 0
        for (i = 7; i <= NF; i++) if ($i == "-") { sep = i; break }
        if ($(sep + 1) ~ /^cgroup2?$/) print $5 "\t" $(sep + 1) "\t" $(sep + 3)
    }' /proc/self/mountinfo
}

remount_rw() {
    mount -o remount,rw /sys 2>/dev/null || true
    mount -o remount,bind,rw /proc/sys 2>/dev/null || true
}

# cgroup v2: the unified hierarchy, made writable.
prepare_cgroup2() {
    mount -o remount,rw /sys/fs/cgroup 2>/dev/null \
        || mount -o remount,bind,rw /sys/fs/cgroup 2>/dev/null || true
}

# cpu,cpuacct mounted together is also reached as cpu and as cpuacct.
link_combined() {
    name=${1##*/}
    case $name in *,*) ;; *) return 0 ;; esac
    for part in $(IFS=,; printf '%s ' $name); do
        [ -e "/sys/fs/cgroup/$part" ] || ln -s "$name" "/sys/fs/cgroup/$part"
    done
}

# A hierarchy's super options without rw/ro: the controllers to mount it with.
controllers_of() {
    found=""
    for option in $(IFS=,; printf '%s ' $1); do
        case $option in rw | ro) ;; *) found=${found:+$found,}$option ;; esac
    done
    printf '%s' "$found"
}

# cgroup v1: a tmpfs at /sys/fs/cgroup and each hierarchy mounted again with
# the same controllers, so systemd may create its own groups in every one.
# Shell words, not programs, wherever they do: every node container starts this
# while others boot on the same CPUs, and a program costs a millisecond.
prepare_cgroup1() {
    mounts=$(cgroup_mounts)
    tab=$(printf '\t')
    mount -t tmpfs -o rw,nosuid,nodev,noexec,mode=755 tmpfs /sys/fs/cgroup
    printf '%s\n' "$mounts" | while IFS="$tab" read -r point fstype options; do
        [ -n "$point" ] && [ "$point" != /sys/fs/cgroup ] || continue
        [ -d "$point" ] || mkdir -p "$point"
        if [ "$fstype" = cgroup2 ]; then
            mount -t cgroup2 cgroup2 "$point" 2>/dev/null || true
            continue
        fi
        controllers=$(controllers_of "$options")
        mount -t cgroup -o "$controllers" cgroup "$point" \
            || say "warning: cannot mount the cgroup hierarchy $controllers at $point"
        link_combined "$point"
    done
    if [ ! -d /sys/fs/cgroup/systemd ]; then
        mkdir -p /sys/fs/cgroup/systemd
        mount -t cgroup -o none,name=systemd cgroup /sys/fs/cgroup/systemd
    fi
}

remount_rw
if [ "$(stat -f -c %T /sys/fs/cgroup)" = cgroup2fs ]; then
    prepare_cgroup2
else
    prepare_cgroup1
fi
# systemd treats a container specially when told it is one.
export container=docker
exec /sbin/init
