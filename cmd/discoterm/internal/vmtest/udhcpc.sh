#!/bin/sh
# udhcpc's script in the test VM: take the lease's address.
# shellcheck disable=SC2154 # udhcpc sets interface, ip and mask
case $1 in
bound | renew)
	ip addr flush dev "$interface"
	ip addr add "$ip/$mask" dev "$interface"
	ip link set "$interface" up
	;;
deconfig)
	ip link set "$interface" up
	;;
esac
exit 0
