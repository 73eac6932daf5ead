#!/bin/bash
# FCoE across the cluster (issue 14): two sangwd nodes share one LU and
# each has an FCoE VN2VN port on one Ethernet segment (a second bridge in
# the switch namespace) where two raw FCoE initiator ports live
# (tests/integration/fcoe-initiator.c in session mode, in the client
# namespace, each with its own MAC, FC_ID and WWPN). As over iSCSI:
#  - VPD page 0x83 through each FC port names that port (NAA, protocol
#    FC), its relative target port and group, and the same LU; REPORT
#    TARGET PORT GROUPS through either node lists both;
#  - a registration and reservation made through node 1's FC port show
#    through node 2's (READ RESERVATION, READ FULL STATUS with the FC
#    TransportID of the initiator port and node 1's relative port id);
#    the other initiator port's write through node 2 is a RESERVATION
#    CONFLICT; its PREEMPT through node 2 gives the first one UNIT
#    ATTENTION 2A/05 on its next command through node 1;
#  - an ALUA state change made with gwcli shows in RTPG through the FC
#    ports, with ASYMMETRIC ACCESS STATE CHANGED (2A/06), and a Standby
#    FC path answers NOT READY 04/0B;
#  - mixed: an iSCSI initiator's reservation through node 1 blocks an FC
#    initiator's write through node 2, and the FC initiator's PREEMPT
#    gives the iSCSI nexus 2A/05;
#  - an SPC-2 reservation held through node 1 is gone through node 2
#    as soon as the LOGO that ended its nexus is accepted;
#  - node 2's sangwd restarted: its group (FC port included) Unavailable
#    meanwhile, then both FC ports listed through both nodes again.
TEST_NAME=cluster-fcoe
. "$(dirname "$0")/lib.sh"
FCOE_INIT=$SANGW_BUILD/tests/integration/fcoe-initiator
need_program "$FCOE_INIT"
need_program "$CLUSTER_CLIENT"

FC_BRIDGE=sgwcbr1
# node I's FCoE interface and its port names; the initiators' names are
# higher, so they send PLOGI (FC-BB-6 7.8.7.5).
node_fc_if() { echo "sgwc-f$1"; }
node_wwpn() { printf '0x20000053475700%x0' "$1"; }
node_wwnn() { printf '0x10000053475700%x0' "$1"; }
X_WWPN=0x2fff00534757000a
Y_WWPN=0x2fff00534757000b
naa_of() { printf 'naa.%016x' "$1"; }

key_x=0xa1a1
key_y=0xb2b2
key_i=0xc3c3
type_we=1     # Write Exclusive (SPC-4 6.15.3.4)

cluster_up 2
shared_lu_make

# The FCoE segment: bridge sgwcbr1 in the switch namespace, one veth to
# each node, two to the client namespace (the initiator ports). MTU 2500
# carries full 2,112-byte FC payloads. No addresses: FCoE needs none.
ip -n "$SGWC_SWITCH_NS" link add "$FC_BRIDGE" type bridge || fail "cannot create $FC_BRIDGE"
ip -n "$SGWC_SWITCH_NS" link set "$FC_BRIDGE" mtu 2500 up || fail "cannot bring up $FC_BRIDGE"
fc_link() {   # NS OUTER INNER MAC
	ip -n "$SGWC_SWITCH_NS" link add "$2" mtu 2500 type veth peer name "$3" netns "$1" mtu 2500 ||
		fail "cannot create veth $2/$3"
	ip -n "$SGWC_SWITCH_NS" link set "$2" master "$FC_BRIDGE" up || fail "cannot attach $2"
	ip -n "$1" link set "$3" address "$4" up || fail "cannot bring up $3"
}
for i in 1 2; do
	fc_link "$(node_ns "$i")" "sgwc-fb$i" "$(node_fc_if "$i")" "02:53:47:00:00:0$i"
done
fc_link "$SGWC_CLIENT_NS" sgwc-fbx sgwc-fx 02:53:47:00:01:0a
fc_link "$SGWC_CLIENT_NS" sgwc-fby sgwc-fy 02:53:47:00:01:0b

for i in 1 2; do
	node_start_sangwd "$i" --target "$TARGET_IQN" --lun "$SHARED_LU_SPEC" \
		--listen-fcoe "$(node_fc_if "$i"),wwpn=$(node_wwpn "$i"),wwnn=$(node_wwnn "$i")"
done
for i in 1 2; do
	node_wait_lus_ready "$i"
	wait_for_line "$(node_dir "$i")/sangwd.log" "VN_Port .* up" 10 ||
		fail "node $i: the FCoE VN_Port did not come up"
done

# The FC initiator ports: fcoe-initiator --session each, commands through
# a pair of FIFOs (the session client of lib.sh holds the one coprocess).
declare -A FC_IN FC_OUT
FC_REPLY=
fc_start() {   # NAME IFNAME WWPN FC_ID
	local d=$TEST_DIR/fc-$1 in out
	mkfifo "$d.in" "$d.out" || fail "mkfifo"
	ip netns exec "$SGWC_CLIENT_NS" "$FCOE_INIT" "$2" "$3" --session "$4" \
		<"$d.in" >"$d.out" 2>>"$d.log" {SGWC_LOCK_FD}<&- &
	SGWC_SPAWNED_PIDS+=("$!")
	exec {in}>"$d.in" {out}<"$d.out"
	FC_IN[$1]=$in
	FC_OUT[$1]=$out
}
# fc INITIATOR COMMAND...: one command of that initiator port's client.
fc() {
	local who=$1
	shift
	echo "$*" >&"${FC_IN[$who]}" || fail "FC initiator $who is gone (sending '$*')"
	IFS= read -r -t 60 FC_REPLY <&"${FC_OUT[$who]}" ||
		fail "FC initiator $who did not answer '$*' (its log: $(tail -n 3 "$TEST_DIR/fc-$who.log"))"
	note "fc $who: $* -> $FC_REPLY"
}
fc_expect() {   # REGEX INITIATOR COMMAND...
	local want=$1
	shift
	fc "$@"
	[[ "$FC_REPLY" =~ $want ]] || fail "FC '$*' answered '$FC_REPLY', expected /$want/"
}
fc_start X sgwc-fx "$X_WWPN" 0a0a01
fc_start Y sgwc-fy "$Y_WWPN" 0a0a02

# Sessions: X1 = initiator port X through node 1's FC port, and so on.
for s in X1 X2 Y1 Y2; do
	fc_expect '^ok fcid=' "${s:0:1}" login "$s" "$(node_wwpn "${s:1}")"
	fc_expect '^ok consumed=6/29/0' "${s:0:1}" clear-ua "$s"
done

# VPD page 0x83 through each node's FC port: the LU's designator is the
# same, the port is that node's WWPN (NAA, protocol FC), relative port
# ids and groups differ.
declare -A RTP TPG
lu=
for i in 1 2; do
	fc_expect "^ok lu=naa\.[0-9a-f]+ rtp=[0-9]+ tpg=[0-9]+ port=fc:$(naa_of "$(node_wwpn "$i")")( |\$)" X vpd83 "X$i"
	[[ "$FC_REPLY" =~ lu=(naa\.[0-9a-f]+)\ rtp=([0-9]+)\ tpg=([0-9]+) ]] || fail "cannot parse '$FC_REPLY'"
	[ -z "$lu" ] || [ "$lu" = "${BASH_REMATCH[1]}" ] ||
		fail "node $i's FC port reports LU ${BASH_REMATCH[1]}, node 1's $lu"
	lu=${BASH_REMATCH[1]}
	RTP[$i]=${BASH_REMATCH[2]}
	TPG[$i]=${BASH_REMATCH[3]}
done
[ "${RTP[1]}" != "${RTP[2]}" ] || fail "both FC ports report relative target port ${RTP[1]}"
[ "${TPG[1]}" != "${TPG[2]}" ] || fail "both nodes report target port group ${TPG[1]}"
# Each node's iSCSI target port is relative port N (the node id, as its
# group): an FC port is another target port, with an id of its own
# (SPC-4 4.6.5), not the iSCSI one's of any node.
for i in 1 2; do
	[ "${RTP[$i]}" != "$i" ] && [ "${RTP[$i]}" != "$((3 - i))" ] ||
		fail "node $i's FC port reports relative target port ${RTP[$i]}, an iSCSI port's"
done
note "FC ports: node 1 rtp ${RTP[1]} tpg ${TPG[1]}, node 2 rtp ${RTP[2]} tpg ${TPG[2]}, LU $lu"

# RTPG through either node: both groups Active/Optimized, each listing its
# node's iSCSI port and its FC port.
groups_has() {   # GROUPS TPG STATE RTP: "TPG:STATE@TPG+RTP" is in GROUPS
	[[ ",$1," == *",$2:$3@$2+$4,"* ]]
}
rtpg_is() {   # SESSION STATE1 STATE2: RTPG through SESSION shows both groups so
	local i st
	fc "${1:0:1}" rtpg "$1"
	[[ "$FC_REPLY" == "ok groups="* ]] || return 1   # e.g. a unit attention first
	for i in 1 2; do
		st=$2
		[ "$i" = 2 ] && st=$3
		groups_has "${FC_REPLY#ok groups=}" "${TPG[$i]}" "$st" "${RTP[$i]}" || return 1
	done
}
rtpg_check() {   # SESSION STATE1 STATE2
	rtpg_is "$@" ||
		fail "RTPG through $1: '$FC_REPLY', expected group ${TPG[1]} $2 and ${TPG[2]} $3, each with its node's iSCSI port and FC port (${RTP[1]}, ${RTP[2]})"
}
# Each node announces its FC port through the cluster once it serves:
# wait for the other node's to arrive.
for s in X1 X2 Y1 Y2; do
	wait_until 10 rtpg_is "$s" ao ao
	rtpg_check "$s" ao ao
done

# PR through node 1's FC port, seen through node 2's.
fc_expect '^ok$' X register X1 "$key_x"
fc_expect '^ok$' X reserve X1 "$key_x" "$type_we"
fc_expect "^ok gen=0x[0-9a-f]+ reservation=$key_x type=$type_we\$" Y read-reservation Y2
fc_expect "^ok gen=0x[0-9a-f]+ regs=$key_x/${RTP[1]}/fc:$(naa_of "$X_WWPN")/holder:$type_we\$" Y read-full-status Y2
# The other initiator port, registered, through node 2: no write under
# X's Write Exclusive (SPC-4 5.13.1), reads are fine.
fc_expect '^ok$' Y register Y2 "$key_y"
fc_expect '^status 0x18$' Y write Y2 0 8 1
fc_expect '^ok' Y read Y2 0 8 1
fc_expect '^ok$' X write X1 0 8 2
fc_expect '^ok pattern$' Y read Y2 0 8 2
# Y preempts X through node 2: X's next command through node 1 gets
# REGISTRATIONS PREEMPTED (SPC-4 5.13.11), then its write is refused.
fc_expect '^ok$' Y preempt Y2 "$key_y" "$key_x" "$type_we"
fc_expect '^check 6/2a/05$' X tur X1
fc_expect '^ok$' X tur X1
fc_expect "^ok gen=0x[0-9a-f]+ keys=$key_y\$" X read-keys X1
fc_expect "^ok gen=0x[0-9a-f]+ regs=$key_y/${RTP[2]}/fc:$(naa_of "$Y_WWPN")/holder:$type_we\$" X read-full-status X1
fc_expect '^status 0x18$' X write X1 0 8 3
fc_expect '^ok$' Y write Y2 0 8 4
# X's nexus through node 2 was never registered: nothing owed to it.
fc_expect '^ok$' X tur X2
fc_expect '^ok$' Y clear Y2 "$key_y"
for s in X1 X2 Y1 Y2; do
	fc_expect '^ok consumed=' "${s:0:1}" clear-ua "$s"
done

# ALUA: node 2's group to Standby with gwcli (SOP_ALUA_SET on every node):
# every FC nexus of the LU gets 2A/06 on its next command, RTPG shows the
# new state through both nodes, the Standby path refuses media access.
node_gwcli 2 alua set "$TARGET_IQN" 0 standby >/dev/null || fail "gwcli alua set standby failed"
for s in X1 X2 Y1 Y2; do
	fc_expect '^check 6/2a/06$' "${s:0:1}" tur "$s"
done
rtpg_check X1 ao sb
rtpg_check Y2 ao sb
fc_expect '^check 2/04/0b$' X read X2 0 8 4
fc_expect '^ok pattern$' X read X1 0 8 4
node_gwcli 2 alua set "$TARGET_IQN" 0 active-optimized >/dev/null || fail "gwcli alua set active-optimized failed"
fc_expect '^check 6/2a/06$' X tur X2
rtpg_check X2 ao ao
fc_expect '^ok pattern$' X read X2 0 8 4
for s in X1 Y1 Y2; do
	fc_expect '^ok consumed=6/2a/06$' "${s:0:1}" clear-ua "$s"
done

# Mixed fabrics: an iSCSI initiator through node 1 registers and reserves;
# FC initiator port X through node 2 sees its iSCSI TransportID and
# cannot write; X registers and preempts through node 2, and the iSCSI
# nexus gets 2A/05.
session_start
sess_open I 1 "$INIT1_IQN"
sess_expect '^ok$' register I "$key_i"
sess_expect '^ok$' reserve I "$key_i" "$type_we"
fc_expect "^ok gen=0x[0-9a-f]+ regs=$key_i/1/iscsi:$INIT1_IQN,i,0x[0-9a-f]{12}/holder:$type_we\$" X read-full-status X2
fc_expect '^status 0x18$' X write X2 0 8 5
fc_expect '^ok$' X register X2 "$key_x"
fc_expect '^status 0x18$' X write X2 0 8 5
fc_expect '^ok$' X preempt X2 "$key_x" "$key_i" "$type_we"
sess_expect '^check 6/2a/05$' tur I
sess_expect '^status 0x18$' write I 0 8 6
fc_expect '^ok$' X write X2 0 8 5
sess_expect '^ok pattern$' read I 0 8 5
fc_expect '^ok$' X clear X2 "$key_x"

# SPC-2 RESERVE(6) and LOGO (SAM-5 6.3.4: nexus loss releases it): X
# reserves through node 1, so its nexus through node 2 conflicts; X logs
# out of node 1 and sends a TEST UNIT READY through node 2 the moment the
# LS_ACC arrives: GOOD, since the LS_ACC waits until the release is in
# effect on both nodes. Node 2's corosync is stopped for 0.3 s across the
# LOGO (well inside the 1 s token timeout), so the release reaches node 2
# late: the LS_ACC must wait for it (it used to go first, and the TUR met
# the old reservation).
for round in 1 2 3 4 5; do
	fc_expect '^ok$' X reserve6 X1
	fc_expect '^status 0x18$' X tur X2
	kill -STOP "${COROSYNC_PIDS[2]}" || fail "cannot stop node 2's corosync"
	(sleep 0.3; kill -CONT "${COROSYNC_PIDS[2]}") &
	resume=$!
	fc_expect '^ok tur=ok$' X logo X1 tur X2
	wait "$resume"
	fc_expect '^ok fcid=' X login X1 "$(node_wwpn 1)"
	fc_expect '^ok consumed=6/29/0' X clear-ua X1
done

# Node 2's sangwd restarts: meanwhile node 1 lists its group Unavailable,
# FC port included; back, node 2 knows node 1's FC port from the state
# transfer (node 1 has nothing new to announce) and serves a new login.
node_stop_sangwd 2
fc_expect '^check 6/2a/06$' X tur X1
wait_until 10 rtpg_is X1 ao un
rtpg_check X1 ao un
node_start_sangwd 2 --target "$TARGET_IQN" --lun "$SHARED_LU_SPEC" \
	--listen-fcoe "$(node_fc_if 2),wwpn=$(node_wwpn 2),wwnn=$(node_wwnn 2)"
node_wait_lus_ready 2
wait_for_line "$(node_dir 2)/sangwd.log" "VN_Port .* up" 10 || fail "node 2's VN_Port did not come back"
fc_expect '^ok fcid=' Y login Y2b "$(node_wwpn 2)"
fc_expect '^ok consumed=6/29/0' Y clear-ua Y2b
wait_until 10 rtpg_is X1 ao ao
rtpg_check X1 ao ao
rtpg_check Y2b ao ao
fc_expect '^ok pattern$' Y read Y2b 0 8 5
pass
