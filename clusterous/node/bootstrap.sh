#!/usr/bin/env bash
# clusterous node bootstrap: the one place that configures a cluster node.
#
# Every node of every provider boots the way an EC2 instance does: systemd as
# PID 1, and cloud-init running this script as the user-data, once per
# instance (on AWS from EC2's metadata, on the local provider and the EC2 twin
# from a NoCloud seed). Everything it configures is a systemd service that
# comes back by itself when the node restarts. It installs only Debian
# packages, and it is idempotent: a second run finds everything in place,
# changes nothing and still ends with the ready marker.
#
# Parameters are shell variables rendered in below by clusterous.node
# (render_bootstrap). Progress goes to stdout and to the log; a failure prints
# "clusterous-bootstrap: error: ..." on stderr and exits non-zero; the last
# line of a successful run is "clusterous-bootstrap: ready".
# The CLUSTEROUS_* parameters are assigned by the rendered block, not visibly here.
# shellcheck disable=SC2153
set -Eeuo pipefail

# @CLUSTEROUS_PARAMETERS@

readonly LOG=/var/log/clusterous-bootstrap.log
readonly REGISTRY_CONFIG=/etc/clusterous/registry.yml
readonly REGISTRY_DIR=/var/lib/docker-registry
readonly HOST_KEY=/etc/ssh/ssh_host_ed25519_key
readonly SSHD_DROP_IN=/etc/ssh/sshd_config.d/00-clusterous.conf
readonly DOCKER_DROP_IN=/etc/systemd/system/docker.service.d/clusterous.conf
readonly REGISTRY_DROP_IN=/etc/systemd/system/docker-registry.service.d/clusterous.conf
readonly NFS_DROP_IN=/etc/systemd/system/nfs-server.service.d/clusterous.conf
readonly REGISTRY_NAME_SCRIPT=/usr/local/sbin/clusterous-registry-name
readonly REGISTRY_NAME_UNIT=/etc/systemd/system/clusterous-registry-name.service
# Placed by a host that shares /data with its nodes by a bind mount (the EC2
# twin, whose kernel has no NFS): /data is there already, NFS is not used.
readonly DATA_FROM_HOST=/etc/clusterous/data-from-host
readonly NFS_EXPORTS=/etc/exports.d/clusterous.exports

STEP="starting"
CHANGED=no
CHANGES=()
declare -A MODES_LATER=()  # mode -> the unchanged files to give it (settle_modes)
UNITS_CHANGED=no
DOCKER_UNIT_CHANGED=no
REGISTRY_UNIT_CHANGED=no

# --- output and failure ----------------------------------------------------

# A line on stdout (cloud-init's output log) and in the bootstrap's log. Printed
# twice rather than through tee: a boot says dozens of lines and each program
# started costs a millisecond of CPU while the whole cluster boots.
say() {
    printf 'clusterous-bootstrap: %s\n' "$*"
    printf 'clusterous-bootstrap: %s\n' "$*" >>"$LOG"
}

fail() {
    printf 'clusterous-bootstrap: error: %s\n' "$*" | tee -a "$LOG" >&2
    exit 1
}

# The here-document on standard input, as `cat` would print it, without a program to start.
text() {
    local line
    while IFS= read -r line || [ -n "$line" ]; do printf '%s\n' "$line"; done
}

fail_with_log() {
    local message=$1 log=$2 lines
    lines=$(tail -n 20 "$log" 2>/dev/null | sed 's/^/    /' || true)
    printf 'clusterous-bootstrap: error: %s; last lines of %s:\n%s\n' "$message" "$log" "$lines" \
        | tee -a "$LOG" >&2
    exit 1
}

on_error() {
    local status=$1 line=$2 command=$3
    # A failing command substitution reports in the shell that runs it.
    [ "$BASHPID" = "$$" ] || exit "$status"
    fail_with_log "$STEP: \`$command\` failed with status $status (line $line)" "$LOG"
}

# Run a command with its output in the log only (stdout stays one line a step).
quietly() { "$@" >>"$LOG" 2>&1 </dev/null; }

retry() {
    local attempts=$1 pause=$2 n=1
    shift 2
    until "$@"; do
        [ "$n" -lt "$attempts" ] || return 1
        n=$((n + 1))
        sleep "$pause"
    done
}

note_change() { CHANGES+=("$1"); }

# Wait up to SECONDS for a command to succeed (status 1 on timeout), giving up
# at once when the systemd UNIT (if given) has failed.
wait_until() {
    local seconds=$1 unit=$2 tries
    shift 2
    tries=$((seconds * 4))
    until "$@"; do
        [ -z "$unit" ] || ! systemctl is-failed --quiet "$unit" || return 2
        tries=$((tries - 1))
        [ "$tries" -gt 0 ] || return 1
        sleep 0.25
    done
}

have_systemd() { [ -d /run/systemd/system ]; }

data_from_host() { [ -e "$DATA_FROM_HOST" ]; }

# A unit file or drop-in written: systemd must reload before it is used.
put_unit_file() {
    put_file "$1" 0644 "$2"
    if [ "$CHANGED" = yes ]; then
        UNITS_CHANGED=yes
        note_change "$1"
    fi
}

# systemctl start|restart UNIT; when it fails, the unit's own words go to the log.
# VERB may carry options ("start --no-block").
run_unit() {
    local verb=$1 unit=$2 what=$3
    # shellcheck disable=SC2086
    systemctl $verb "$unit" >>"$LOG" 2>&1 && return 0
    journalctl -u "$unit" --no-pager -n 20 >>"$LOG" 2>&1 || true
    fail_with_log "$what failed to ${verb%% *} (journalctl -u $unit)" "$LOG"
}

reload_units() {
    [ "$UNITS_CHANGED" = yes ] || return 0
    systemctl daemon-reload
    UNITS_CHANGED=no
}

# --- timings ---------------------------------------------------------------

# Microseconds of the wall clock, without a fork (bash 5's EPOCHREALTIME).
now_us() {
    local t=${EPOCHREALTIME/[.,]/}
    printf -v "$1" '%s' "$((10#$t))"
}

# "1.23" for a number of microseconds.
seconds_of() { printf '%d.%02d' "$(($1 / 1000000))" "$(($1 % 1000000 / 10000))"; }

# A timing line, in the log only (stdout keeps one line a step): where a boot's
# time goes, for people and for bench/ (grep 'timing:' in the log).
timing() { printf 'clusterous-bootstrap: timing: %s\n' "$*" >>"$LOG"; }

now_us STARTED_US
STEP_STARTED_US=$STARTED_US

# Begin the next step; the log says how long the last one took.
step() {
    local now
    now_us now
    timing "$STEP $(seconds_of $((now - STEP_STARTED_US))) s"
    STEP=$1
    STEP_STARTED_US=$now
}

# Where this run began on the node's timeline: seconds since its PID 1 started
# (the instance's boot, the container's start). Linux counts /proc in 1/100 s.
timing_start() {
    local uptime stat
    read -r uptime _ </proc/uptime
    read -r -a stat </proc/1/stat
    uptime=${uptime/./}
    timing "started $(seconds_of $(((10#$uptime - stat[21]) * 10000))) s after the node's boot"
}

# The last step's time and the whole run's, before the ready line.
timing_end() {
    local now
    step "done"
    now_us now
    timing "total $(seconds_of $((now - STARTED_US))) s"
}

# --- files -----------------------------------------------------------------

# Write CONTENT (plus a final newline) to PATH with MODE, only when it differs
# (an unchanged file gets MODE when the bootstrap ends: settle_modes).
# Sets CHANGED=yes|no. With "in-place", rewrite the file's content without
# replacing it: a container's /etc/hosts is a bind mount that cannot be renamed
# over.
put_file() {
    local path=$1 mode=$2 content=$3 how=${4:-replace} tmp current=""
    CHANGED=no
    # Compared with bash's own read (no process: a boot writes dozens of files).
    [ ! -f "$path" ] || IFS= read -r -d '' current <"$path" || true
    if [ -f "$path" ] && [ "$current" = "$content"$'\n' ]; then
        # Most files are already in place (baked into a local node's image); their
        # modes are set at the end, in one chmod per mode.
        MODES_LATER[$mode]+="$path"$'\n'
        return 0
    fi
    [ -d "${path%/*}" ] || mkdir -p "${path%/*}"
    if [ "$how" = in-place ] && [ -f "$path" ]; then
        printf '%s\n' "$content" >"$path"
        chmod "$mode" "$path"
    else
        # Named after this process: no other run writes it (two commands a file, not five).
        tmp=$path.clusterous.$BASHPID
        printf '%s\n' "$content" >"$tmp"
        chmod "$mode" "$tmp"
        mv -f "$tmp" "$path"
    fi
    CHANGED=yes
}

# Give the unchanged files put_file met their modes, one chmod per mode.
settle_modes() {
    local mode paths
    for mode in "${!MODES_LATER[@]}"; do
        mapfile -t paths <<<"${MODES_LATER[$mode]%$'\n'}"
        chmod "$mode" "${paths[@]}"
    done
    MODES_LATER=()
}

json_string() {
    local s=$1
    s=${s//\\/\\\\}
    s=${s//\"/\\\"}
    printf '"%s"' "$s"
}

yaml_string() { printf "'%s'" "${1//\'/\'\'}"; }

join_lines() {
    local separator=$1 first=yes item
    shift
    for item in "$@"; do
        if [ "$first" = yes ]; then first=no; else printf '%s' "$separator"; fi
        printf '%s' "$item"
    done
}

# --- parameters ------------------------------------------------------------

default_parameters() {
    local name variable
    for name in CLUSTER NODE ROLE GROUP INSTANCE_ID ADVERTISE_ADDR CONTROLLER_ADDR \
        JOIN_TOKEN PRIVATE_CIDR SWARM_ADDR_POOL DNS DOCKER_STORAGE_DRIVER \
        REGISTRY_STORAGE REGISTRY_BUCKET REGISTRY_REGION REGISTRY_PREFIX \
        REGISTRY_ENDPOINT SHARED_DEVICE NFS HOST_KEY AUTHORIZED_KEY \
        LEASE_SECONDS IDLE_MINUTES LOGGING LOG_MAX_USE; do
        variable=CLUSTEROUS_$name
        [ -n "${!variable+set}" ] || printf -v "$variable" '%s' ""
    done
    [ -n "$CLUSTEROUS_GROUP" ] || [ "$CLUSTEROUS_ROLE" != controller ] || CLUSTEROUS_GROUP=controller
    [ -n "$CLUSTEROUS_INSTANCE_ID" ] || CLUSTEROUS_INSTANCE_ID=$(detect_instance_id)
    [ -n "$CLUSTEROUS_REGISTRY_STORAGE" ] || CLUSTEROUS_REGISTRY_STORAGE=filesystem
    [ -n "$CLUSTEROUS_NFS" ] || CLUSTEROUS_NFS=no
    default_observability_parameters
}

# EC2 user-data is rendered before the instance exists: take the id cloud-init
# recorded (no network needed), else the node name (local nodes).
detect_instance_id() {
    local id=""
    if [ -r /var/lib/cloud/data/instance-id ]; then
        id=$(tr -d '[:space:]' </var/lib/cloud/data/instance-id)
    fi
    case $id in
        i-*) printf '%s\n' "$id" ;;
        *) printf '%s\n' "$CLUSTEROUS_NODE" ;;
    esac
}

detect_advertise_addr() {
    step "finding this node's address"
    if [ -z "$CLUSTEROUS_ADVERTISE_ADDR" ]; then
        CLUSTEROUS_ADVERTISE_ADDR=$(ip -4 route get 1 | sed -n 's/.* src \([0-9.]*\).*/\1/p' | head -n1)
        [ -n "$CLUSTEROUS_ADVERTISE_ADDR" ] \
            || fail "cannot find this node's private address (no IPv4 default route); set CLUSTEROUS_ADVERTISE_ADDR"
    fi
    if [ "$CLUSTEROUS_ROLE" = controller ] && [ -z "$CLUSTEROUS_CONTROLLER_ADDR" ]; then
        CLUSTEROUS_CONTROLLER_ADDR=$CLUSTEROUS_ADVERTISE_ADDR
    fi
}

is_ipv4() { [[ $1 =~ ^([0-9]{1,3}\.){3}[0-9]{1,3}$ ]]; }
is_ipv4_cidr() { [[ $1 =~ ^([0-9]{1,3}\.){3}[0-9]{1,3}/[0-9]{1,2}$ ]]; }

check_parameters() {
    local name value
    for name in CLUSTER NODE ROLE GROUP INSTANCE_ID ADVERTISE_ADDR CONTROLLER_ADDR JOIN_TOKEN \
        PRIVATE_CIDR SWARM_ADDR_POOL DNS DOCKER_STORAGE_DRIVER REGISTRY_STORAGE \
        REGISTRY_BUCKET REGISTRY_REGION REGISTRY_PREFIX REGISTRY_ENDPOINT SHARED_DEVICE NFS \
        AUTHORIZED_KEY; do
        value=CLUSTEROUS_$name
        [[ ${!value} != *[[:cntrl:]]* ]] || fail "CLUSTEROUS_$name contains control characters"
    done
    [ -n "$CLUSTEROUS_CLUSTER" ] || fail "CLUSTEROUS_CLUSTER (the cluster name) is not set"
    [ -n "$CLUSTEROUS_NODE" ] || fail "CLUSTEROUS_NODE (this node's name) is not set"
    case $CLUSTEROUS_ROLE in
        controller | node) ;;
        *) fail "CLUSTEROUS_ROLE must be controller or node, got '$CLUSTEROUS_ROLE'" ;;
    esac
    [ -n "$CLUSTEROUS_GROUP" ] || fail "CLUSTEROUS_GROUP (this node's group) is not set"
    case $CLUSTEROUS_NFS in
        yes | no) ;;
        *) fail "CLUSTEROUS_NFS must be yes or no, got '$CLUSTEROUS_NFS'" ;;
    esac
    if [ "$CLUSTEROUS_ROLE" = node ]; then
        [ -n "$CLUSTEROUS_JOIN_TOKEN" ] || fail "CLUSTEROUS_JOIN_TOKEN is needed to join the Swarm"
        [ -n "$CLUSTEROUS_CONTROLLER_ADDR" ] || fail "CLUSTEROUS_CONTROLLER_ADDR is not set"
    fi
    for name in ADVERTISE_ADDR CONTROLLER_ADDR; do
        value=CLUSTEROUS_$name
        [ -z "${!value}" ] || is_ipv4 "${!value}" \
            || fail "CLUSTEROUS_$name must be an IPv4 address, got '${!value}'"
    done
    for name in PRIVATE_CIDR SWARM_ADDR_POOL; do
        value=CLUSTEROUS_$name
        [ -z "${!value}" ] || is_ipv4_cidr "${!value}" \
            || fail "CLUSTEROUS_$name must be an IPv4 network like 10.0.0.0/16, got '${!value}'"
    done
    [ "$CLUSTEROUS_NFS" = no ] || [ -n "$CLUSTEROUS_PRIVATE_CIDR" ] \
        || fail "CLUSTEROUS_NFS=yes needs CLUSTEROUS_PRIVATE_CIDR (the only network /data is exported to)"
    check_registry_parameters
    check_observability_parameters
}

check_registry_parameters() {
    case $CLUSTEROUS_REGISTRY_STORAGE in
        filesystem) ;;
        s3)
            [ -n "$CLUSTEROUS_REGISTRY_BUCKET" ] || fail "registry storage s3 needs CLUSTEROUS_REGISTRY_BUCKET"
            [ -n "$CLUSTEROUS_REGISTRY_REGION" ] || fail "registry storage s3 needs CLUSTEROUS_REGISTRY_REGION"
            ;;
        *) fail "CLUSTEROUS_REGISTRY_STORAGE must be filesystem or s3, got '$CLUSTEROUS_REGISTRY_STORAGE'" ;;
    esac
}

# --- packages --------------------------------------------------------------

wanted_packages() {
    local packages=(docker.io iproute2 iptables curl ca-certificates rsync procps)
    if [ "$CLUSTEROUS_ROLE" = controller ]; then
        packages+=(docker-registry)
        [ "$CLUSTEROUS_NFS" = no ] || data_from_host || packages+=(nfs-kernel-server)
        [ -z "$CLUSTEROUS_SHARED_DEVICE" ] || packages+=(e2fsprogs)
    elif [ "$CLUSTEROUS_NFS" = yes ] && ! data_from_host; then
        packages+=(nfs-common)
    fi
    mapfile -t -O "${#packages[@]}" packages < <(observability_packages)
    printf '%s\n' "${packages[@]}"
}

# The packages among the arguments that are not installed, one dpkg-query for all.
missing_packages() {
    local package name status
    local -A installed=()
    while read -r name status; do
        [ "$status" != installed ] || installed[$name]=1
    done < <(dpkg-query -W -f='${Package} ${db:Status-Status}\n' "$@" 2>/dev/null || true)
    for package in "$@"; do
        [ -n "${installed[$package]:-}" ] || printf '%s\n' "$package"
    done
}

apt_get() {
    DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=300 \
        -o Dpkg::Options::=--force-confold "$@"
}

install_packages() {
    step "installing packages"
    local wanted missing
    mapfile -t wanted < <(wanted_packages)
    mapfile -t missing < <(missing_packages "${wanted[@]}")
    if [ "${#missing[@]}" -eq 0 ]; then
        say "packages: all present"
        return 0
    fi
    say "packages: installing ${missing[*]} (log: $LOG)"
    retry 5 10 quietly apt_get update \
        || fail_with_log "apt-get update failed 5 times: is the Debian mirror reachable?" "$LOG"
    retry 3 10 quietly apt_get install -y --no-install-recommends "${missing[@]}" \
        || fail_with_log "installing ${missing[*]} failed" "$LOG"
    note_change "packages"
}

# --- SSH -------------------------------------------------------------------

sshd_drop_in() {
    text <<'EOF'
# clusterous: key-only login, and only the host key the CLI generated and pinned.
HostKey /etc/ssh/ssh_host_ed25519_key
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
# The CLI reaches the Docker engine with one session per API connection.
MaxSessions 64
EOF
}

install_host_key() {
    step "installing the SSH host key"
    [ -n "$CLUSTEROUS_HOST_KEY" ] || return 0
    local key=$CLUSTEROUS_HOST_KEY public reload=no
    while [[ $key == *$'\n' ]]; do key=${key%$'\n'}; done
    put_file "$HOST_KEY" 0600 "$key"
    [ "$CHANGED" = no ] || reload=yes
    public=$(ssh-keygen -y -f "$HOST_KEY" | cut -d' ' -f1,2) \
        || fail "the host key in CLUSTEROUS_HOST_KEY is not a valid private key"
    if [ "$(cut -d' ' -f1,2 "$HOST_KEY.pub" 2>/dev/null || true)" != "$public" ]; then
        put_file "$HOST_KEY.pub" 0644 "$public"
    fi
    put_file "$SSHD_DROP_IN" 0644 "$(sshd_drop_in)"
    [ "$CHANGED" = no ] || reload=yes
    if [ "$reload" = yes ]; then
        quietly /usr/sbin/sshd -t || fail_with_log "sshd rejects its configuration" "$LOG"
        reload_sshd
        note_change "ssh host key"
        say "ssh: host key installed, sshd reloaded"
    fi
}

# sshd may not be running yet (a node image without any host key of its own).
reload_sshd() { systemctl reload-or-restart ssh; }

authorize_key() {
    step "authorizing the login key"
    [ -n "$CLUSTEROUS_AUTHORIZED_KEY" ] || return 0
    local default_user
    authorize_key_for root
    # The image's default login user (uid 1000, `admin` on Debian's AMIs).
    default_user=$(getent passwd 1000 | cut -d: -f1 || true)
    [ -z "$default_user" ] || authorize_key_for "$default_user"
}

authorize_key_for() {
    local user=$1 home group file
    home=$(getent passwd "$user" | cut -d: -f6)
    group=$(id -gn "$user")
    [ -d "$home" ] || return 0
    file=$home/.ssh/authorized_keys
    install -d -m 0700 -o "$user" -g "$group" "$home/.ssh"
    if [ ! -f "$file" ] || ! grep -qxF -- "$CLUSTEROUS_AUTHORIZED_KEY" "$file"; then
        printf '%s\n' "$CLUSTEROUS_AUTHORIZED_KEY" >>"$file"
        note_change "authorized key of $user"
    fi
    chown "$user:$group" "$file"
    chmod 0600 "$file"
}

# --- shared volume /data -----------------------------------------------------

prepare_shared_data() {
    step "preparing the shared volume /data"
    if [ -n "$CLUSTEROUS_SHARED_DEVICE" ]; then
        mount_shared_device
    elif [ "$CLUSTEROUS_NFS" = yes ] && [ "$CLUSTEROUS_ROLE" = node ] && ! data_from_host; then
        mount_shared_nfs
    else
        mkdir -p /data
    fi
    link_home_data
}

# Set /data's line in /etc/fstab to $1 (replacing any other line for /data).
set_fstab_line() {
    local line=$1 others
    touch /etc/fstab
    others=$(awk '$1 ~ /^#/ || $2 != "/data"' /etc/fstab)
    put_file /etc/fstab 0644 "$(join_lines $'\n' "$others" "$line" | sed '/./,$!d')"
    [ "$CHANGED" = no ] || note_change "/etc/fstab"
}

mount_shared_device() {
    local device=$CLUSTEROUS_SHARED_DEVICE fstype status=0 uuid
    retry 60 5 test -b "$device" \
        || fail "the shared volume's device $device did not appear within 5 minutes; is the volume attached?"
    fstype=$(blkid -p -s TYPE -o value "$device") || status=$?
    if [ "$status" -eq 2 ]; then
        # blkid found no signature at all: a new, empty volume.
        say "data: formatting the new, empty volume $device with ext4"
        quietly mkfs.ext4 -q -L clusterous-data "$device"
        note_change "formatted $device"
        fstype=ext4
    elif [ "$status" -ne 0 ]; then
        fail "cannot probe $device for a filesystem (blkid status $status); it is left untouched"
    elif [ -z "$fstype" ]; then
        fail "$device has a partition table but no filesystem of its own; refusing to format it, give a partition as the shared device"
    fi
    uuid=$(blkid -p -s UUID -o value "$device")
    set_fstab_line "UUID=$uuid /data $fstype defaults,nofail 0 2"
    mkdir -p /data
    if ! mountpoint -q /data; then
        quietly mount /data || fail_with_log "mounting $device ($fstype) at /data failed" "$LOG"
        note_change "mounted /data"
    fi
}

mount_shared_nfs() {
    set_fstab_line "$CLUSTEROUS_CONTROLLER_ADDR:/data /data nfs4 defaults,_netdev,nofail 0 0"
    mkdir -p /data
    if ! mountpoint -q /data; then
        retry 12 5 quietly mount /data \
            || fail_with_log "mounting $CLUSTEROUS_CONTROLLER_ADDR:/data over NFS failed for a minute" "$LOG"
        note_change "mounted /data"
    fi
}

link_home_data() {
    if [ -L /home/data ] && [ "$(readlink /home/data)" = /data ]; then
        return 0
    fi
    if [ -d /home/data ] && [ ! -L /home/data ]; then
        rmdir /home/data 2>/dev/null \
            || fail "/home/data is a directory with files in it; move them to /data and remove /home/data"
    fi
    mkdir -p /home
    ln -sfn /data /home/data
    note_change "/home/data link"
}

# --- names -----------------------------------------------------------------

# A script that names the registry in /etc/hosts, run by a unit at every boot:
# the container engine (local nodes) or cloud-init (EC2) rewrites the file.
registry_name_script() {
    text <<EOF
#!/bin/sh
# clusterous: "$CLUSTEROUS_CONTROLLER_ADDR registry" in /etc/hosts (rewritten at every boot).
set -eu
others=\$(awk '{ keep = 1
    if (\$1 !~ /^#/) for (i = 2; i <= NF; i++) if (\$i == "registry") keep = 0
    if (keep) print }' /etc/hosts)
# In place: a container's /etc/hosts is a bind mount that cannot be renamed over.
printf '%s\n%s\n' "\$others" "$CLUSTEROUS_CONTROLLER_ADDR registry" >/etc/hosts
EOF
}

registry_name_unit() {
    text <<EOF
[Unit]
Description=clusterous: name the cluster's image registry in /etc/hosts
ConditionPathExists=$REGISTRY_NAME_SCRIPT
After=cloud-init.service
Before=docker.service
[Service]
Type=oneshot
ExecStart=$REGISTRY_NAME_SCRIPT
[Install]
WantedBy=multi-user.target
EOF
}

point_registry_name() {
    step "naming the registry in /etc/hosts"
    if ! grep -qxF "$CLUSTEROUS_CONTROLLER_ADDR registry" /etc/hosts; then
        "$REGISTRY_NAME_SCRIPT"
        note_change "/etc/hosts"
    fi
}

# --- Docker engine ---------------------------------------------------------

daemon_json() {
    local entries=() registries=() dns=() server log_driver
    registries+=("$(json_string registry:5000)")
    [ -z "$CLUSTEROUS_PRIVATE_CIDR" ] || registries+=("$(json_string "$CLUSTEROUS_PRIVATE_CIDR")")
    entries+=("\"insecure-registries\": [$(join_lines ', ' "${registries[@]}")]")
    entries+=("\"labels\": [$(join_lines ', ' \
        "$(json_string "clusterous.cluster=$CLUSTEROUS_CLUSTER")" \
        "$(json_string "clusterous.node=$CLUSTEROUS_NODE")" \
        "$(json_string "clusterous.group=$CLUSTEROUS_GROUP")" \
        "$(json_string "clusterous.instance=$CLUSTEROUS_INSTANCE_ID")")]")
    for server in $CLUSTEROUS_DNS; do dns+=("$(json_string "$server")"); done
    [ "${#dns[@]}" -eq 0 ] || entries+=("\"dns\": [$(join_lines ', ' "${dns[@]}")]")
    [ -z "$CLUSTEROUS_DOCKER_STORAGE_DRIVER" ] \
        || entries+=("\"storage-driver\": $(json_string "$CLUSTEROUS_DOCKER_STORAGE_DRIVER")")
    log_driver=$(log_driver_entries)
    [ -z "$log_driver" ] || entries+=("$log_driver")
    printf '{\n  %s\n}' "$(join_lines $',\n  ' "${entries[@]}")"
}

docker_drop_in() {
    text <<'EOF'
# clusterous: the engine starts once this node is configured (daemon.json), and
# at every boot after. It listens on its unix socket only, never on TCP: the
# CLI reaches it over SSH with 'docker system dial-stdio'.
[Unit]
ConditionPathExists=/etc/docker/daemon.json
EOF
}

configure_docker() {
    step "configuring the Docker engine"
    local restart=no
    put_file /etc/docker/daemon.json 0644 "$(daemon_json)"
    if [ "$CHANGED" = yes ]; then
        restart=yes
        note_change "/etc/docker/daemon.json"
    fi
    [ "$DOCKER_UNIT_CHANGED" = no ] || restart=yes
    if [ "$restart" = yes ] && systemctl is-active --quiet docker; then
        say "docker: configuration changed, restarting the engine"
        run_unit restart docker "the Docker engine"
    elif ! systemctl is-active --quiet docker; then
        say "docker: starting the engine"
        run_unit start docker "the Docker engine"
        note_change "docker started"
    else
        say "docker: engine running, configuration unchanged"
    fi
    wait_for_docker
}

# The engine's API, asked with curl: a third of the docker CLI's CPU, and a
# dozen nodes boot at once on a small machine.
docker_get() { curl -sf --max-time 10 --unix-socket /run/docker.sock "http://docker$1"; }

# METHOD PATH on the engine's API; prints the HTTP status.
docker_api() {
    curl -s -o /dev/null --max-time 10 -w '%{http_code}' -X "$1" --unix-socket /run/docker.sock "http://docker$2"
}

docker_answers() { docker_get /_ping >/dev/null 2>&1; }

wait_for_docker() {
    local status=0
    wait_until 60 docker docker_answers || status=$?
    [ "$status" -ne 0 ] || return 0
    journalctl -u docker --no-pager -n 20 >>"$LOG" 2>&1 || true
    [ "$status" -ne 2 ] || fail_with_log "the Docker engine failed to start (journalctl -u docker)" "$LOG"
    fail_with_log "the Docker engine did not answer within a minute (journalctl -u docker)" "$LOG"
}

# --- Swarm -----------------------------------------------------------------

# A field of the engine's Swarm state (`docker info`): LocalNodeState, ControlAvailable.
swarm_field() {
    local info
    info=$(docker_get /info) || return 1
    [[ $info =~ \"$1\":\"?([a-z-]+) ]] || return 1
    printf '%s\n' "${BASH_REMATCH[1]}"
}

swarm_state() { swarm_field LocalNodeState; }

init_swarm() {
    step "creating the Swarm"
    local state arguments
    state=$(swarm_state)
    if [ "$state" = active ]; then
        [ "$(swarm_field ControlAvailable)" = true ] \
            || fail "this controller is a worker of another Swarm; run \`docker swarm leave --force\` on it"
        say "swarm: already a manager"
        return 0
    fi
    [ "$state" = inactive ] || fail "the Swarm is in state '$state'; run \`docker swarm leave --force\` and retry"
    # Swarm keeps its raft log in memory until a snapshot, every 10,000 entries by default;
    # a batch job's queued tasks are rewritten to it on each scheduling pass, and a
    # 1,000-task job took a 2 GiB controller's dockerd to the OOM killer. 500 keeps it small.
    arguments=(--advertise-addr "$CLUSTEROUS_ADVERTISE_ADDR" --snapshot-interval 500)
    [ -z "$CLUSTEROUS_SWARM_ADDR_POOL" ] \
        || arguments+=(--default-addr-pool "$CLUSTEROUS_SWARM_ADDR_POOL")
    quietly docker swarm init "${arguments[@]}" || fail_with_log "docker swarm init failed" "$LOG"
    note_change "swarm created"
    say "swarm: created, manager at $CLUSTEROUS_ADVERTISE_ADDR:2377"
    remove_ingress
}

# The routing mesh's network, which every node would join and set up (a network
# namespace, a VXLAN, NAT rules and their helper processes) as it joins the
# Swarm. clusterous never publishes a port through it: components publish in
# host mode and use DNS round-robin (docs/environments.md). Removed before any
# other node joins, so none of them sets it up; Swarm does not make it again.
remove_ingress() {
    local status tries=40
    # Swarm makes it just after `swarm init` returns.
    until status=$(docker_api DELETE /networks/ingress) && [ "$status" != 404 ]; do
        tries=$((tries - 1))
        [ "$tries" -gt 0 ] || return 0
        sleep 0.05
    done
    if [ "$status" = 204 ]; then
        say "swarm: removed the ingress network (no routing mesh: ports are published in host mode)"
    else
        say "swarm: warning: cannot remove the ingress network (HTTP $status); nodes set it up as they join"
    fi
}

join_swarm() {
    step "joining the Swarm"
    local state
    state=$(swarm_state)
    if [ "$state" = active ]; then
        say "swarm: already joined"
        return 0
    fi
    retry 10 3 try_join \
        || fail_with_log "cannot join the Swarm at $CLUSTEROUS_CONTROLLER_ADDR:2377 (is the controller up, port 2377 open?)" "$LOG"
    note_change "swarm joined"
    say "swarm: joined the manager at $CLUSTEROUS_CONTROLLER_ADDR:2377"
}

try_join() {
    quietly docker swarm join --token "$CLUSTEROUS_JOIN_TOKEN" \
        --advertise-addr "$CLUSTEROUS_ADVERTISE_ADDR" "$CLUSTEROUS_CONTROLLER_ADDR:2377" \
        || [ "$(swarm_state)" = active ]
}

# --- registry (controller) -------------------------------------------------

registry_storage_yaml() {
    if [ "$CLUSTEROUS_REGISTRY_STORAGE" = filesystem ]; then
        printf '  filesystem:\n    rootdirectory: %s\n' "$REGISTRY_DIR"
        return 0
    fi
    # No keys: on EC2 the registry gets credentials from the instance role.
    # The endpoint is always given: Debian 12's registry (2.8) refuses regions
    # newer than its SDK without one. New buckets have ACLs disabled, and the
    # only ACL header they accept is bucket-owner-full-control.
    local endpoint=${CLUSTEROUS_REGISTRY_ENDPOINT:-https://s3.$CLUSTEROUS_REGISTRY_REGION.amazonaws.com}
    printf '  s3:\n    region: %s\n    bucket: %s\n' \
        "$(yaml_string "$CLUSTEROUS_REGISTRY_REGION")" "$(yaml_string "$CLUSTEROUS_REGISTRY_BUCKET")"
    printf '    regionendpoint: %s\n' "$(yaml_string "$endpoint")"
    [[ $endpoint != http://* ]] || printf '    secure: false\n'
    printf '    objectacl: bucket-owner-full-control\n'
    if [ -n "$CLUSTEROUS_REGISTRY_PREFIX" ]; then
        printf '    rootdirectory: %s\n' "$(yaml_string "/${CLUSTEROUS_REGISTRY_PREFIX#/}")"
    fi
}

registry_config() {
    text <<EOF
# clusterous: the cluster's private image registry (plain http), listening on the
# controller's private address only: the nodes reach it, nothing else does.
version: 0.1
log:
  fields:
    service: registry
storage:
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
$(registry_storage_yaml)
http:
  addr: $CLUSTEROUS_CONTROLLER_ADDR:5000
  headers:
    X-Content-Type-Options: [nosniff]
health:
  storagedriver:
    enabled: true
    interval: 10s
    threshold: 3
EOF
}

registry_drop_in() {
    text <<EOF
# clusterous: the cluster's image registry serves clusterous's configuration,
# once this node is configured as a controller, and comes back if it dies.
[Unit]
ConditionPathExists=$REGISTRY_CONFIG
After=network-online.target
[Service]
ExecStart=
ExecStart=/usr/bin/docker-registry serve $REGISTRY_CONFIG
Restart=on-failure
RestartSec=2
EOF
}

# Started without waiting, before the engine and the Swarm (it needs neither):
# it comes up while they do, and await_registry checks it answers.
start_registry() {
    step "starting the image registry"
    REGISTRY_RESTARTED=no
    put_file "$REGISTRY_CONFIG" 0644 "$(registry_config)"
    [ "$CHANGED" = no ] || REGISTRY_RESTARTED=yes
    mkdir -p "$REGISTRY_DIR"
    ! id docker-registry >/dev/null 2>&1 || chown docker-registry: "$REGISTRY_DIR"
    [ "$REGISTRY_UNIT_CHANGED" = no ] || REGISTRY_RESTARTED=yes
    if [ "$REGISTRY_RESTARTED" = yes ]; then
        run_unit "restart --no-block" docker-registry "the registry"
    elif ! systemctl is-active --quiet docker-registry; then
        run_unit "start --no-block" docker-registry "the registry"
        REGISTRY_RESTARTED=yes
    fi
}

await_registry() {
    step "waiting for the image registry"
    wait_for_registry
    if [ "$REGISTRY_RESTARTED" = yes ]; then
        note_change "registry"
        say "registry: serving on $CLUSTEROUS_CONTROLLER_ADDR:5000 ($CLUSTEROUS_REGISTRY_STORAGE storage)"
    else
        say "registry: running, configuration unchanged"
    fi
}

registry_answers() { curl -sf -o /dev/null "http://$CLUSTEROUS_CONTROLLER_ADDR:5000/v2/"; }

wait_for_registry() {
    local status=0
    wait_until 30 docker-registry registry_answers || status=$?
    [ "$status" -ne 0 ] || return 0
    journalctl -u docker-registry --no-pager -n 20 >>"$LOG" 2>&1 || true
    fail_with_log "the registry did not answer on $CLUSTEROUS_CONTROLLER_ADDR:5000 within 30 s (journalctl -u docker-registry)" "$LOG"
}

# --- NFS (controller) ------------------------------------------------------

nfs_drop_in() {
    text <<'EOF'
# clusterous: export /data only once the shared volume is mounted there.
[Unit]
RequiresMountsFor=/data
EOF
}

export_shared_data() {
    step "exporting /data over NFS"
    [ "$CLUSTEROUS_NFS" = yes ] || return 0
    if data_from_host; then
        say "nfs: not used, this host shares /data with every node itself ($DATA_FROM_HOST)"
        return 0
    fi
    put_file "$NFS_EXPORTS" 0644 "/data $CLUSTEROUS_PRIVATE_CIDR(rw,sync,no_subtree_check,no_root_squash)"
    systemctl is-active --quiet nfs-server || systemctl start nfs-server
    if [ "$CHANGED" = yes ]; then
        exportfs -ra
        note_change "nfs export"
        say "nfs: /data exported to $CLUSTEROUS_PRIVATE_CIDR"
    fi
}

# --- lease: the dead-man switch and idle stop --------------------------------
# DESIGN section 3: a cluster lives for its lease unless a command renews it,
# and ends itself with no call from the laptop and no cloud credential here.

readonly LEASE_SCRIPT=/usr/local/sbin/clusterous-lease
readonly LEASE_UNIT_DIR=/etc/systemd/system
readonly LEASE_TIMERS=(clusterous-lease.timer clusterous-lease-sync.timer)

# The script every node runs from two timers, and the CLI over SSH.
lease_script() {
    text <<'EOF'
#!/bin/bash
# clusterous-lease: the cluster's lease and idle stop, kept by the nodes themselves.
# The controller keeps the lease's end (its clock's epoch seconds) in /data, which
# every node sees, and each node a copy: `check` (a timer, 15 s) ends the node
# once its copy is over, after a last read of /data (at most 10 s: a hung NFS
# mount keeps no node alive; a last-second extend is not missed). `sync` (a
# timer) copies /data's end, and on the controller ends an idle cluster's lease.
# The CLI runs `extend SECONDS` and `show` over SSH. Usage: see main below.
set -euo pipefail

SHARED=/data/.clusterous/lease
STATE=/var/lib/clusterous/lease
# The CLI's own commands hold a session for seconds; one open longer is someone's.
SESSION_SECONDS=60
# Idle stop counts from the end of create (the CLI renews then), or from this long
# after the first boot if no renewal ever comes.
IDLE_GRACE_SECONDS=600
RUN=/run/clusterous-lease
RESUME_GRACE=600 # after pause and a boot

now() { date +%s; }

# The number FILE holds, or nothing (missing, unreadable or not a number).
number_in() {
    local value
    value=$(tr -d '[:space:]' <"$1" 2>/dev/null) || return 0
    if [[ $value =~ ^[0-9]+$ ]]; then printf '%s\n' "$value"; fi
}

put() {
    mkdir -p "$(dirname "$1")"
    printf '%s\n' "$2" >"$1.new"
    mv -f "$1.new" "$1"
}

role() { cat "$STATE/role" 2>/dev/null || true; }

# The lease's end as this node knows it: the controller reads /data, the others their copy.
current_end() {
    local end=""
    [ "$(role)" != controller ] || end=$(number_in "$SHARED")
    [ -n "$end" ] || end=$(number_in "$STATE/expires")
    printf '%s\n' "$end"
}

set_end() {
    put "$SHARED" "$1"
    put "$STATE/expires" "$1"
}

init() {
    local role=$1 seconds=$2 idle=$3
    mkdir -p "$STATE"
    if [ ! -e "$STATE/expires" ] && [ "$seconds" -gt 0 ]; then
        put "$STATE/expires" "$(($(now) + seconds))"
    fi
    if [ "$role" = controller ]; then
        put "$STATE/idle-minutes" "$idle"
        [ -e "$STATE/active" ] || put "$STATE/active" "$(($(now) + IDLE_GRACE_SECONDS))"
    fi
    put "$STATE/role" "$role"
}

# The controller's lease goes to /data, over whatever a reused volume held.
publish() {
    local end
    end=$(number_in "$STATE/expires")
    if [ -n "$end" ]; then set_end "$end"; else rm -f "$SHARED"; fi
    put "$STATE/published" yes
}

# The lease ends no earlier than SECONDS from now (0: no change), and idle stop
# counts from now; an ended lease stays ended.
extend() {
    local seconds=$1 end t
    t=$(now)
    end=$(current_end)
    if [ -n "$end" ] && [ "$t" -ge "$end" ]; then
        if ! resuming; then
            show
            echo "clusterous-lease: the lease ended at $end; the nodes are ending" >&2
            return 3
        fi
        end=""
    fi
    if [ "$seconds" -gt 0 ] && { [ -z "$end" ] || [ "$end" -lt $((t + seconds)) ]; }; then
        set_end $((t + seconds))
    fi
    rm -f "$STATE/paused"
    put "$STATE/active" "$t"
    printf 'previous=%s\n' "$end"
    show
}

show() {
    local idle
    idle=$(number_in "$STATE/idle-minutes")
    printf 'now=%s\nexpires=%s\nidle_minutes=%s\nactive=%s\n' "$(now)" "$(current_end)" \
        "${idle:-0}" "$(number_in "$STATE/active")"
}

check() {
    local end
    end=$(number_in "$STATE/expires")
    [ -n "$end" ] && [ "$(now)" -ge "$end" ] || return 0
    if [ "$(role)" != controller ]; then
        sync_lease
        end=$(number_in "$STATE/expires")
    fi
    if [ "$(now)" -ge "$end" ] && ! resuming; then end_node "$end"; fi
}

pause() { put "$STATE/paused" 1; put "$RUN/paused" 1; }

resuming() {
    local b
    [ -e "$STATE/paused" ] && [ ! -e "$RUN/paused" ] || return 1
    b=$(number_in "$RUN/booted")
    [ -n "$b" ] || { b=$(now); put "$RUN/booted" "$b"; }
    [ $(($(now) - b)) -lt $RESUME_GRACE ] || { rm -f "$STATE/paused"; return 1; }
}

end_node() {
    echo "clusterous-lease: the cluster's lease ended at $1 (epoch seconds); this node ends itself"
    if systemd-detect-virt --quiet --container; then
        # A local node: its container stops for good (restart policy on-failure).
        systemctl exit 0
    else
        # EC2 terminates an instance that shuts itself down (InstanceInitiatedShutdownBehavior).
        systemctl poweroff
    fi
}

sync_lease() {
    local end
    if [ "$(role)" = controller ]; then
        [ -e "$STATE/published" ] || return 0
        stop_if_idle
        end=$(number_in "$SHARED")
    else
        end=$(timeout -s KILL 10 cat "$SHARED" 2>/dev/null | tr -d '[:space:]' || true)
        [[ $end =~ ^[0-9]+$ ]] || end=""
    fi
    if [ -n "$end" ]; then put "$STATE/expires" "$end"; fi
}

stop_if_idle() {
    local minutes active t
    minutes=$(number_in "$STATE/idle-minutes")
    [ "${minutes:-0}" -gt 0 ] || return 0
    t=$(now)
    active=$(number_in "$STATE/active")
    if [ -z "$active" ] || resuming || busy; then
        put "$STATE/active" "$t"
    elif [ $((t - active)) -ge $((minutes * 60)) ]; then
        echo "clusterous-lease: idle since $active (over $minutes minutes): the lease ends now"
        set_end "$t"
    fi
}

busy() { service_task_running || session_open; }

# A user service with a task running ("1/2" running/desired replicas).
service_task_running() { service_replicas | grep -q '^[1-9]'; }

service_replicas() { timeout 20 docker service ls --format '{{.Replicas}}' 2>/dev/null || true; }

# An SSH session (sshd's "user@tty" process) open for longer than a CLI command takes.
session_open() {
    ps -eo etimes=,args= | awk -v least="$SESSION_SECONDS" '
        $1 >= least && $2 ~ /^sshd(-session)?:$/ && $3 ~ /@/ { found = 1 }
        END { exit !found }'
}

main() {
    local command=${1:-}
    case $command in
        init) init "$2" "$3" "$4" ;;
        publish) publish ;;
        extend)
            [[ ${2:-} =~ ^[0-9]{1,9}$ ]] || { echo "usage: clusterous-lease extend SECONDS" >&2; return 2; }
            extend $((10#$2))
            ;;
        show) show ;;
        check) check ;;
        sync) sync_lease ;;
        pause) pause ;;
        *) echo "usage: clusterous-lease init|publish|extend SECONDS|show|check|sync|pause" >&2; return 2 ;;
    esac
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then main "$@"; fi
EOF
}

# DESCRIPTION COMMAND: a oneshot service running the lease script (once the
# bootstrap has given the node its lease), and the timer that runs it every 15 s.
lease_service() {
    text <<EOF
[Unit]
Description=clusterous: $1
ConditionPathExists=/var/lib/clusterous/lease/role

[Service]
Type=oneshot
TimeoutStartSec=60
ExecStart=$LEASE_SCRIPT $2
EOF
}

lease_timer() {
    text <<EOF
[Unit]
Description=clusterous: $1, every 15 s

[Timer]
OnBootSec=15s
OnUnitActiveSec=15s
AccuracySec=1s

[Install]
WantedBy=timers.target
EOF
}

put_lease_files() {
    put_file "$LEASE_SCRIPT" 0755 "$(lease_script)"
    [ "$CHANGED" = no ] || note_change "$LEASE_SCRIPT"
    local name description command
    while IFS='|' read -r name description command; do
        put_unit_file "$LEASE_UNIT_DIR/$name.service" "$(lease_service "$description" "$command")"
        put_unit_file "$LEASE_UNIT_DIR/$name.timer" "$(lease_timer "$description")"
    done <<'EOF'
clusterous-lease|end this node when the cluster's lease has ended|check
clusterous-lease-sync|copy the cluster's lease from /data; end an idle cluster's lease|sync
EOF
}

lease_parameters() {
    CLUSTEROUS_LEASE_SECONDS=${CLUSTEROUS_LEASE_SECONDS:-0}
    CLUSTEROUS_IDLE_MINUTES=${CLUSTEROUS_IDLE_MINUTES:-0}
    [[ $CLUSTEROUS_LEASE_SECONDS =~ ^(0|[1-9][0-9]*)$ ]] \
        || fail "CLUSTEROUS_LEASE_SECONDS must be a whole number of seconds, got '$CLUSTEROUS_LEASE_SECONDS'"
    [[ $CLUSTEROUS_IDLE_MINUTES =~ ^(0|[1-9][0-9]*)$ ]] \
        || fail "CLUSTEROUS_IDLE_MINUTES must be a whole number of minutes, got '$CLUSTEROUS_IDLE_MINUTES'"
}

# First of all (it needs nothing installed): a node whose bootstrap fails later,
# with no one left to destroy it, still ends with its lease.
install_lease() {
    step "installing the lease"
    lease_parameters
    put_lease_files
    reload_units
    enable_at_boot "${LEASE_TIMERS[@]}"
    "$LEASE_SCRIPT" init "$CLUSTEROUS_ROLE" "$CLUSTEROUS_LEASE_SECONDS" "$CLUSTEROUS_IDLE_MINUTES"
    systemctl start "${LEASE_TIMERS[@]}"
}

publish_lease() {
    step "publishing the lease in /data"
    "$LEASE_SCRIPT" publish
}

# --- central logging and metrics (what `clusterous dashboard` shows) --------
#
# Logs: service containers log to the node's journal (Docker's journald log
# driver: fields CONTAINER_NAME, CONTAINER_TAG, COM_DOCKER_SWARM_SERVICE_NAME,
# _HOSTNAME); systemd-journal-upload sends every node's journal to
# systemd-journal-remote on the controller, which keeps them under
# /var/log/journal/remote with a size bound. rsyslog on the controller takes
# Clusterous 1.0's syslog on port 5514 (UDP and TCP) into the controller's
# journal, uploaded the same way. Metrics: prometheus-node-exporter on every
# node, Prometheus on the controller (127.0.0.1 only) finding the nodes
# through the Swarm. Every unit waits for its configuration file, so a node
# image can carry them enabled and a worker never starts the controller's.

readonly CLUSTEROUS_ETC=/etc/clusterous
readonly JOURNAL_REMOTE_DIR=/var/log/journal/remote
readonly JOURNAL_REMOTE_CONF=/etc/systemd/journal-remote.conf.d/clusterous.conf
readonly JOURNAL_UPLOAD_CONF=/etc/systemd/journal-upload.conf.d/clusterous.conf
readonly JOURNAL_REMOTE_DROP_IN=/etc/systemd/system/systemd-journal-remote.service.d/clusterous.conf
readonly JOURNAL_SOCKET_DROP_IN=/etc/systemd/system/systemd-journal-remote.socket.d/clusterous.conf
readonly JOURNAL_UPLOAD_DROP_IN=/etc/systemd/system/systemd-journal-upload.service.d/clusterous.conf
readonly RSYSLOG_CONFIG=$CLUSTEROUS_ETC/rsyslog.conf
readonly RSYSLOG_DROP_IN=/etc/systemd/system/rsyslog.service.d/clusterous.conf
readonly PROMETHEUS_CONFIG=$CLUSTEROUS_ETC/prometheus.yml
readonly PROMETHEUS_DROP_IN=/etc/systemd/system/prometheus.service.d/clusterous.conf
readonly LOG_VACUUM_ENV=$CLUSTEROUS_ETC/log-vacuum.env
readonly LOG_VACUUM_SERVICE=/etc/systemd/system/clusterous-log-vacuum.service
readonly LOG_VACUUM_TIMER=/etc/systemd/system/clusterous-log-vacuum.timer
readonly NODE_EXPORTER_DROP_IN=/etc/systemd/system/prometheus-node-exporter.service.d/clusterous.conf
readonly JOURNALD_CONF=/etc/systemd/journald.conf.d/clusterous.conf
readonly SYSLOG_PORT=5514
readonly JOURNAL_REMOTE_PORT=19532

default_observability_parameters() {
    [ -n "$CLUSTEROUS_LOGGING" ] || CLUSTEROUS_LOGGING=1
    [ -n "$CLUSTEROUS_LOG_MAX_USE" ] || CLUSTEROUS_LOG_MAX_USE=1G
}

check_observability_parameters() {
    case $CLUSTEROUS_LOGGING in
        0 | 1 | 2) ;;
        *) fail "CLUSTEROUS_LOGGING must be 0 (off), 1 or 2, got '$CLUSTEROUS_LOGGING'" ;;
    esac
    [[ $CLUSTEROUS_LOG_MAX_USE =~ ^[1-9][0-9]*[KMGT]$ ]] \
        || fail "CLUSTEROUS_LOG_MAX_USE must be a size like 1G or 500M, got '$CLUSTEROUS_LOG_MAX_USE'"
}

logging_on() { [ "$CLUSTEROUS_LOGGING" != 0 ]; }

observability_packages() {
    local packages=(prometheus-node-exporter)
    ! logging_on || packages+=(systemd-journal-remote)
    if [ "$CLUSTEROUS_ROLE" = controller ]; then
        packages+=(prometheus)
        ! logging_on || packages+=(rsyslog)
    fi
    printf '%s\n' "${packages[@]}"
}

# daemon.json's entries for the service containers' output (none: Docker's default).
log_driver_entries() {
    logging_on || return 0
    printf '%s' '"log-driver": "journald", "log-opts": {"tag": "{{.Name}}", '
    printf '%s' '"labels": "com.docker.swarm.service.name,com.docker.swarm.task.name"}'
}

journal_remote_drop_in() {
    text <<UNIT
# clusterous: the controller gathers every node's journal over plain HTTP on the
# private network, once this node is configured as the controller.
[Unit]
ConditionPathExists=$JOURNAL_REMOTE_CONF
[Service]
ExecStart=
ExecStart=/lib/systemd/systemd-journal-remote --listen-http=-3 --output=$JOURNAL_REMOTE_DIR/
UNIT
}

journal_socket_drop_in() {
    printf '[Unit]\nConditionPathExists=%s\n' "$JOURNAL_REMOTE_CONF"
}

journal_upload_drop_in() {
    text <<UNIT
# clusterous: every node sends its journal to the controller, and keeps trying
# while the controller is not listening yet.
[Unit]
ConditionPathExists=$JOURNAL_UPLOAD_CONF
[Service]
Restart=always
RestartSec=3
UNIT
}

rsyslog_drop_in() {
    text <<UNIT
# clusterous: only Clusterous 1.0's syslog on port $SYSLOG_PORT, into the journal.
[Unit]
ConditionPathExists=$RSYSLOG_CONFIG
[Service]
ExecStart=
ExecStart=/usr/sbin/rsyslogd -n -iNONE -f $RSYSLOG_CONFIG
UNIT
}

prometheus_drop_in() {
    text <<UNIT
# clusterous: the controller's metrics store, on 127.0.0.1 only; it reads the
# Swarm's node list from the Docker socket.
[Unit]
ConditionPathExists=$PROMETHEUS_CONFIG
[Service]
SupplementaryGroups=docker
PrivateUsers=false
ExecStart=
ExecStart=/usr/bin/prometheus --config.file=$PROMETHEUS_CONFIG --web.listen-address=127.0.0.1:9090 --storage.tsdb.path=/var/lib/prometheus/metrics2 --storage.tsdb.retention.time=2h --storage.tsdb.retention.size=256MB
UNIT
}

node_exporter_drop_in() {
    text <<'UNIT'
# clusterous: CPU, memory, disk and network of this node for the dashboard.
[Service]
ExecStart=
ExecStart=/usr/bin/prometheus-node-exporter --collector.disable-defaults --collector.cpu --collector.meminfo --collector.filesystem --collector.netdev --collector.loadavg
UNIT
}

# systemd-journal-remote 252 has no size bound of its own (MaxUse= came in a
# later release): a timer removes the oldest archived files past the bound.
log_vacuum_service() {
    text <<UNIT
[Unit]
Description=clusterous: keep the controller's gathered journals within their bound
ConditionPathExists=$LOG_VACUUM_ENV
[Service]
Type=oneshot
EnvironmentFile=$LOG_VACUUM_ENV
ExecStart=/bin/journalctl --directory=$JOURNAL_REMOTE_DIR --vacuum-size=\${LOG_MAX_USE}
UNIT
}

log_vacuum_timer() {
    text <<UNIT
[Unit]
Description=clusterous: bound the controller's gathered journals every 5 minutes
ConditionPathExists=$LOG_VACUUM_ENV
[Timer]
OnActiveSec=5min
OnUnitActiveSec=5min
[Install]
WantedBy=timers.target
UNIT
}

# journald's default rate limit (10,000 lines in 30 s per unit, dockerd's for
# all containers) would drop the lines of a component that prints fast.
# Nothing reads syslog.socket here (rsyslog takes only port 5514, on the
# controller): forwarding to it would trigger rsyslog.service, whose condition
# fails on workers, until systemd fails the socket after a node restart.
journald_conf() {
    text <<'CONF'
# clusterous: keep every line service containers print; the controller bounds the store.
[Journal]
Storage=persistent
RateLimitIntervalSec=0
ForwardToSyslog=no
CONF
}

observability_unit_files() {
    printf '%s\n' \
        "$JOURNAL_REMOTE_DROP_IN" journal_remote_drop_in \
        "$JOURNAL_SOCKET_DROP_IN" journal_socket_drop_in \
        "$JOURNAL_UPLOAD_DROP_IN" journal_upload_drop_in \
        "$RSYSLOG_DROP_IN" rsyslog_drop_in \
        "$PROMETHEUS_DROP_IN" prometheus_drop_in \
        "$NODE_EXPORTER_DROP_IN" node_exporter_drop_in \
        "$LOG_VACUUM_SERVICE" log_vacuum_service \
        "$LOG_VACUUM_TIMER" log_vacuum_timer
}

bake_observability_unit_files() {
    local path render
    while read -r path && read -r render; do
        put_file "$path" 0644 "$("$render")"
    done < <(observability_unit_files)
    put_file "$JOURNALD_CONF" 0644 "$(journald_conf)"
}

# Before the packages: a package that starts its daemon finds the drop-in.
install_observability_unit_files() {
    step "installing the logging and metrics units"
    local path render
    while read -r path && read -r render; do
        put_unit_file "$path" "$("$render")"
    done < <(observability_unit_files)
    reload_units
    put_file "$JOURNALD_CONF" 0644 "$(journald_conf)"
    if [ "$CHANGED" = yes ]; then
        systemctl restart systemd-journald
        note_change "$JOURNALD_CONF"
    fi
}

journal_remote_conf() {
    text <<CONF
# clusterous: one journal file set per node (clusterous-log-vacuum bounds the store).
[Remote]
SplitMode=host
CONF
}

journal_upload_conf() {
    local controller=$CLUSTEROUS_CONTROLLER_ADDR
    [ "$CLUSTEROUS_ROLE" != controller ] || controller=127.0.0.1
    printf '[Upload]\nURL=http://%s:%s\n' "$controller" "$JOURNAL_REMOTE_PORT"
}

rsyslog_config() {
    text <<CONF
# clusterous: Clusterous 1.0's central logging port, UDP and TCP, into the journal.
module(load="imudp")
module(load="imtcp")
module(load="omjournal")
# The tag's program name as SYSLOG_IDENTIFIER, the sender's address as SYSLOG_SOURCE.
template(name="clusterous_journal" type="list") {
    property(name="msg" outname="MESSAGE")
    property(name="programname" outname="SYSLOG_IDENTIFIER")
    property(name="syslogseverity" outname="PRIORITY")
    property(name="syslogfacility" outname="SYSLOG_FACILITY")
    property(name="fromhost-ip" outname="SYSLOG_SOURCE")
}
input(type="imudp" port="$SYSLOG_PORT" ruleset="central")
input(type="imtcp" port="$SYSLOG_PORT" ruleset="central")
ruleset(name="central") { action(type="omjournal" template="clusterous_journal") }
CONF
}

prometheus_config() {
    text <<'CONF'
# clusterous: every Swarm node's prometheus-node-exporter, labelled with its hostname.
global:
  scrape_interval: 15s
scrape_configs:
  - job_name: node
    dockerswarm_sd_configs:
      - host: unix:///var/run/docker.sock
        role: nodes
        refresh_interval: 15s
    relabel_configs:
      - source_labels: [__meta_dockerswarm_node_address]
        target_label: __address__
        replacement: $1:9100
      - source_labels: [__meta_dockerswarm_node_hostname]
        target_label: node
CONF
}

# Write one configuration file; a changed one restarts its units.
put_observability_file() {
    local path=$1 content=$2
    shift 2
    put_file "$path" 0644 "$content"
    if [ "$CHANGED" = yes ]; then
        note_change "$path"
        RESTART+=("$@")
    else
        START+=("$@")
    fi
}

start_observability() {
    step "starting central logging and metrics"
    local RESTART=() START=(prometheus-node-exporter)
    if logging_on; then
        put_observability_file "$JOURNAL_UPLOAD_CONF" "$(journal_upload_conf)" systemd-journal-upload
    else
        rm -f "$JOURNAL_UPLOAD_CONF"
    fi
    if [ "$CLUSTEROUS_ROLE" = controller ]; then
        put_observability_file "$PROMETHEUS_CONFIG" "$(prometheus_config)" prometheus
        if logging_on; then
            mkdir -p "$JOURNAL_REMOTE_DIR"
            put_observability_file "$JOURNAL_REMOTE_CONF" "$(journal_remote_conf)" \
                systemd-journal-remote.socket systemd-journal-remote
            put_observability_file "$RSYSLOG_CONFIG" "$(rsyslog_config)" rsyslog
            put_observability_file "$LOG_VACUUM_ENV" "LOG_MAX_USE=$CLUSTEROUS_LOG_MAX_USE" \
                clusterous-log-vacuum.timer
        else
            rm -f "$JOURNAL_REMOTE_CONF" "$RSYSLOG_CONFIG" "$LOG_VACUUM_ENV"
        fi
    fi
    # One systemctl call when all are enabled already (the node image's case).
    systemctl is-enabled --quiet "${START[@]}" "${RESTART[@]}" 2>/dev/null \
        || systemctl enable --quiet --no-reload "${START[@]}" "${RESTART[@]}"
    [ "${#START[@]}" -eq 0 ] || systemctl start --no-block "${START[@]}"
    [ "${#RESTART[@]}" -eq 0 ] || systemctl restart --no-block "${RESTART[@]}"
    if logging_on; then
        say "logging: every journal gathered on the controller (at most $CLUSTEROUS_LOG_MAX_USE), syslog on :$SYSLOG_PORT"
    else
        say "logging: off (central_logging_level 0)"
    fi
}

# --- systemd units -----------------------------------------------------------

# Every service of this node written and enabled in one go (a daemon-reload
# costs about a second on a busy node): they come back by themselves at boot.
install_units() {
    step "installing the node's systemd units"
    local units=(clusterous-registry-name docker)
    put_file "$REGISTRY_NAME_SCRIPT" 0755 "$(registry_name_script)"
    [ "$CHANGED" = no ] || note_change "$REGISTRY_NAME_SCRIPT"
    put_unit_file "$REGISTRY_NAME_UNIT" "$(registry_name_unit)"
    put_unit_file "$DOCKER_DROP_IN" "$(docker_drop_in)"
    DOCKER_UNIT_CHANGED=$CHANGED
    if [ "$CLUSTEROUS_ROLE" = controller ]; then
        put_unit_file "$REGISTRY_DROP_IN" "$(registry_drop_in)"
        REGISTRY_UNIT_CHANGED=$CHANGED
        units+=(docker-registry)
        if [ "$CLUSTEROUS_NFS" = yes ] && ! data_from_host; then
            put_unit_file "$NFS_DROP_IN" "$(nfs_drop_in)"
            units+=(nfs-server)
        fi
    fi
    reload_units
    enable_at_boot "${units[@]}"
}

# Enabling is for the next boot; each service is started below. The node
# image has them enabled already (each waits for its configuration file):
# 'systemctl enable' costs a second or more on a busy node, even with
# --no-reload.
enable_at_boot() {
    local unit missing=()
    for unit in "$@"; do
        systemctl is-enabled --quiet "$unit" 2>/dev/null || missing+=("$unit")
    done
    [ "${#missing[@]}" -eq 0 ] || systemctl enable --quiet --no-reload "${missing[@]}"
}

# The node image of the local provider runs this at build time, so that a
# node finds its units (and sshd's settings) in place and boots without any
# daemon-reload. None of these files depends on the parameters.
bake_unit_files() {
    put_file "$SSHD_DROP_IN" 0644 "$(sshd_drop_in)"
    put_file "$REGISTRY_NAME_UNIT" 0644 "$(registry_name_unit)"
    put_file "$DOCKER_DROP_IN" 0644 "$(docker_drop_in)"
    put_file "$REGISTRY_DROP_IN" 0644 "$(registry_drop_in)"
    put_lease_files
    systemctl enable --quiet "${LEASE_TIMERS[@]}"
    bake_observability_unit_files
    settle_modes
}

# --- main ------------------------------------------------------------------

main() {
    if [ "${1:-}" = --bake-unit-files ]; then
        bake_unit_files
        return 0
    fi
    # Nothing below reads the standard input.
    exec </dev/null
    trap 'on_error $? $LINENO "$BASH_COMMAND"' ERR
    [ "$(id -u)" = 0 ] || { echo "clusterous-bootstrap: error: must run as root" >&2; exit 1; }
    mkdir -p "$(dirname "$LOG")"
    umask 022
    have_systemd || fail "this node does not run systemd; clusterous nodes boot with systemd and cloud-init, as EC2 instances do"
    timing_start
    default_parameters
    check_parameters
    say "configuring $CLUSTEROUS_NODE ($CLUSTEROUS_ROLE, group $CLUSTEROUS_GROUP) of cluster $CLUSTEROUS_CLUSTER"
    install_lease
    install_observability_unit_files
    install_packages
    detect_advertise_addr
    install_units
    [ "$CLUSTEROUS_ROLE" != controller ] || start_registry
    install_host_key
    authorize_key
    prepare_shared_data
    point_registry_name
    configure_docker
    if [ "$CLUSTEROUS_ROLE" = controller ]; then
        publish_lease
        init_swarm
        await_registry
        export_shared_data
    else
        join_swarm
    fi
    start_observability
    step "finishing"
    settle_modes
    if [ "${#CHANGES[@]}" -eq 0 ]; then
        say "nothing changed"
    else
        say "changed: $(join_lines ', ' "${CHANGES[@]}")"
    fi
    timing_end
    say "ready"
}

main "$@"
