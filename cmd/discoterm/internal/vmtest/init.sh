#!/bin/sh
# /init of the test VM's initramfs: bring the NIC up with udhcpc, fetch
# the host key discoterm made for this machine from the one-time URL on
# the kernel command line (dt.key=), start sshd. Progress lines start
# with "dtvm:" on the console, which the test reads.
/bin/busybox --install -s /bin
export PATH=/bin:/usr/sbin
say() { echo "dtvm: $*"; }
die() {
	say "FAILED: $*"
	sleep 1
	reboot -f # qemu runs with -no-reboot: the VM stops
}
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /tmp /run/sshd /var/log
mount -t devpts devpts /dev/pts
chmod 755 /run/sshd
say "init started"
while read -r m; do
	insmod "$m" || die "insmod $m"
done </etc/modules.load
read -r cmdline </proc/cmdline
arg() {
	set -f
	for w in $cmdline; do
		case $w in "$1"=*) echo "${w#*=}" ;; esac
	done
	set +f
}
name=$(arg dt.name)
key=$(arg dt.key)
[ -n "$name" ] && hostname "$name"
ip link set lo up
i=0
until ip link show eth0 >/dev/null 2>&1; do
	i=$((i + 1))
	[ $i -gt 100 ] && die "no eth0"
	sleep 0.1
done
udhcpc -i eth0 -n -q -t 10 -T 1 -s /etc/udhcpc.sh || die "no DHCP lease"
say "lease $(ip -4 -o addr show eth0 | awk '{print $4}')"
[ -n "$key" ] || die "no dt.key= on the kernel command line"
wget -q -O /etc/ssh/ssh_host_ed25519_key "$key" || die "host key not handed over"
chmod 600 /etc/ssh/ssh_host_ed25519_key
say "host key fetched"
/usr/sbin/sshd -f /etc/ssh/sshd_config -e || die "sshd did not start"
say "sshd up"
while :; do sleep 3600; done
