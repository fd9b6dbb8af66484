// Package scanner finds the hosts on a LAN by ICMPv6 echo to the all-nodes group ff02::1 on
// each link, as cdist scan does, and tells which are alive, keyed by MAC address.
//
// It knows nothing of the engine: a Scanner emits Sightings round by round, and a Tracker
// turns those into host liveness (alive, lost, gone) and transitions.
//
// # Probing
//
// One socket serves every interface: raw (CAP_NET_RAW) when allowed, else the unprivileged
// ICMP datagram socket ("ping socket", needs the group in net.ipv4.ping_group_range). On the
// datagram socket the kernel replaces the echo identifier, so replies are matched by sequence
// number (unique per probe) and an 8-byte random payload marker. Multicast loopback is off and
// replies from any of the machine's own addresses are dropped, so the scanner never lists
// itself. Every probe is pinned to its interface: the zone of the destination address, the
// outgoing interface in the control message, and for multicast IPV6_MULTICAST_IF.
//
// A round sends one multicast probe per interface. A link that is cold (hosts that have never
// talked to us) answers with a storm: every host solicits our MAC at once, and on a software
// bridge with many hosts some of those packets are dropped; their replies come a second later
// or not at all. So after a quarter of the listen window the round re-probes each interface on
// which a host answered that did not answer the previous round (a host whose echo request or
// reply was dropped answers that one at once), and while new hosts still arrive late it keeps
// listening 1.1 s past the last of them: hosts whose solicitation of our address was dropped
// retry after RFC 4861's one-second RetransTimer, up to three times. A warm round (nobody new)
// costs one probe and one window. Whatever a round still misses, the next one sees: the
// Tracker only calls a host lost after several silent rounds.
//
// Hosts that ignore multicast echo (net.ipv6.icmp.echo_ignore_multicast=1) are probed by
// unicast at their known addresses (Options.Unicast) when they have not answered by the
// re-probe; their sightings carry Unicast=true.
//
// # Identity
//
// The MAC of a responder comes from the kernel's neighbour table, read over netlink after the
// round: a host that answered has resolved our address, which leaves its own in our table. When
// the entry is missing, a unicast echo makes the kernel resolve it. Decoding a modified EUI-64
// address is only the fallback: stable-privacy and temporary addresses carry no MAC.
package scanner
