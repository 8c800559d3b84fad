#!/bin/sh
# Run once at image build: leave systemd only what a node container needs.
# - No consoles or logins on ttys, no udev-driven hardware setup (the engine
#   owns /dev), no timers that would run apt or fstrim on a node.
# - No cloud-config stage: it runs only modules a node does not use (runcmd,
#   apt, locale ...), and a Python start-up costs a second on a busy machine.
#   The user-data still runs in cloud-init's final stage when
#   cloud-final.service starts, as on EC2 (loaded ahead: cloud-init-preload).
# - No cloud-init-local stage either: NoCloud is found in the network stage
#   just as well.
# - No systemd-networkd: the engine gives the container its network, and
#   cloud-init writes no network configuration here (cloud.cfg); no utmp
#   records of runlevels either. Every unit a node starts costs CPU while its
#   neighbours boot on the same cores.
# - Of systemd's generators (each a program run at every boot, before any
#   unit), only those a container has use for: fstab (/data on EC2's path)
#   and cloud-init's. No disks to decrypt or verify, no resume from
#   hibernation, no SysV scripts without a unit of their own, no consoles.
# - Docker, the registry and the unit that names the registry start at boot
#   only once the user-data has configured them (each unit's condition is its
#   configuration file, see bootstrap.sh), so a first boot starts each once.
set -eu
for unit in getty@tty1.service console-getty.service systemd-logind.service \
    systemd-udevd.service systemd-udev-trigger.service systemd-udev-settle.service \
    systemd-modules-load.service systemd-remount-fs.service systemd-firstboot.service \
    systemd-timesyncd.service apt-daily.timer apt-daily-upgrade.timer \
    e2scrub_all.timer e2scrub_reap.service fstrim.timer \
    sys-kernel-config.mount sys-kernel-debug.mount sys-kernel-tracing.mount \
    dev-hugepages.mount cloud-config.service cloud-init-local.service \
    modprobe@loop.service modprobe@dm_mod.service modprobe@fuse.service \
    modprobe@efi_pstore.service modprobe@configfs.service modprobe@drm.service \
    systemd-networkd.service systemd-networkd.socket systemd-networkd-wait-online.service \
    systemd-update-utmp.service systemd-update-utmp-runlevel.service; do
    systemctl mask "$unit" >/dev/null 2>&1 || true
done
# A node started ahead of its launch boots as far as it can while it waits for
# its seed: cloud-init's network stage keeps its place before SSH, user
# sessions and network-online.target (so before the user-data, which runs after
# multi-user.target as on EC2), but no longer holds sysinit.target, and with it
# every unit that needs no user-data (containerd, D-Bus, the metrics exporter),
# back until the launch. An ordering cannot be removed by a drop-in: the unit is
# copied without it, after basic.target instead.
sed -e '/^Before=sysinit.target$/d' -e 's/^DefaultDependencies=no$/DefaultDependencies=yes/' \
    /lib/systemd/system/cloud-init.service >/etc/systemd/system/cloud-init.service
grep -q '^Before=network-online.target$' /etc/systemd/system/cloud-init.service
mkdir -p /etc/systemd/system-generators
for generator in systemd-cryptsetup-generator systemd-debug-generator \
    systemd-getty-generator systemd-gpt-auto-generator systemd-hibernate-resume-generator \
    systemd-integritysetup-generator systemd-rc-local-generator systemd-run-generator \
    systemd-system-update-generator systemd-sysv-generator systemd-veritysetup-generator; do
    ln -sf /dev/null "/etc/systemd/system-generators/$generator"
done
