#!/bin/sh
# Stage 2 of the guest's init (PID 1 after switch_root onto a tmpfs):
# mounts what a host has, runs the tests, powers off.
export PATH=/bin:/usr/bin
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup
mount -t tmpfs -o mode=0755 run /run
mount -t tmpfs -o mode=1777 tmp /tmp
# Without nodev: the container's rootfs lives here and its tests mknod.
mount -t tmpfs -o mode=0755 work /work
# Kernel messages (the OOM killer's report) stay off the console.
dmesg -n 1
echo "# guest: $(uname -r), up $(cut -d' ' -f1 /proc/uptime)s"

sh /tests/guest-tests.sh
rc=$?
echo "# guest: tests exited $rc, up $(cut -d' ' -f1 /proc/uptime)s"
echo "VEIL-VM-DONE"
sync
poweroff -f
# Not reached; if poweroff failed, panic=-1 and -no-reboot end qemu.
sleep 5
exit 1
