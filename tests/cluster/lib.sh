# Harness for the cluster scenarios (issue 5): corosync and sangwd nodes in
# network namespaces of their own, on a bridge the test makes. Source it
# from a test script in tests/cluster/:
#
#   . "$(dirname "$0")/lib.sh"
#   cluster_up 3                          # 3 quorate corosync nodes
#   node_start_sangwd 1 --target "$TARGET_IQN" --lun "file:$LU_FILE"
#   client_exec iscsi-ls "$(node_portal_url 1)"
#   node_link 3 down; wait_nodes_inquorate 3; wait_nodes_quorate 2 1 2
#   pass                                  # cluster_down runs on exit
#
# It sources tests/lib.sh, so the verdict conventions are the same (one
# line `PASS name` / `FAIL name: reason` / `SKIP name: reason`, exit 0, 1 or
# 77; notes on stderr) and so are its helpers (fail, pass, skip, note, must,
# wait_until, track_pid, testclient, TEST_DIR, SANGWD, ...).
#
# What it creates, all named with the prefix "sgwc" and nothing else:
#   the switch: namespace sgwc-sw holding bridge sgwcbr0 (no address) and
#     the bridge ends of the veths. Not the root namespace: there the
#     machine's own eth0 may have an address in 192.0.2.0/24 (it has
#     192.0.2.2 here), and the root namespace would answer ARP for it on a
#     bridge of its own, stealing node 2's traffic.
#   node I (1..SGWC_MAX_NODES, 7): namespace sgwc-nI, veth sgwc-bI (on the
#     bridge) / sgwc-vI (in the node) with 192.0.2.I/24, lo up, no other
#     route
#   the test client: namespace sgwc-client, veth sgwc-bc / sgwc-vc with
#     192.0.2.254/24; iSCSI clients run there (client_exec, client_spawn)
#   $TEST_DIR/cluster/nI: corosync.conf, corosync.log, run/ and lib/ (the
#     node's /run and /var/lib/corosync), state/, mgmt.sock, sangwd.log
# IPv6 is disabled on every one of these links, so no address appears but
# the ones above. Processes are ended by PID only. Only one cluster can
# exist at a time (the names are fixed): cluster_up waits for a lock.
#
# Functions whose PIDs must be remembered (cluster_up, node_start_*,
# node_spawn, client_spawn) must run in the test's own shell, not in $(...).

CLUSTER_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh
# shellcheck source=../lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

SGWC_SWITCH_NS=sgwc-sw
SGWC_BRIDGE=sgwcbr0
SGWC_SUBNET=192.0.2
SGWC_CLIENT_NS=sgwc-client
SGWC_CLIENT_ADDR=$SGWC_SUBNET.254
# Node I is 192.0.2.I and sgwc-nI; the cleanup loops cover 1..MAX. Seven
# nodes fit this machine (tools/cluster-bench --nodes 3,5,7); node numbers
# are one digit in the names and checks below.
SGWC_MAX_NODES=7
# Each node has its own network namespace, so every node can use the iSCSI
# port; nothing listens on it in the root namespace.
CLUSTER_PORT=${SGWC_PORT:-3260}
# Seconds to wait for a membership or quorum change.
CLUSTER_TIMEOUT=${SGWC_TIMEOUT:-30}
CLUSTER_DIR=$TEST_DIR/cluster
CLUSTER_N=0
SGWC_OWNED=            # set once we hold the lock and may delete sgwc objects
SGWC_LOCK_FD=
SGWC_LAST_PID=
COROSYNC_PIDS=()       # indexed by node number
NODE_SANGWD_PIDS=()    # indexed by node number
SGWC_SPAWNED_PIDS=()   # node_spawn / client_spawn
SGWC_DOWN_HOOKS=()     # functions cluster_down calls (tests/ceph/lib.sh adds one)

# --- names -------------------------------------------------------------------

node_ns() { echo "sgwc-n$1"; }
node_bridge_veth() { echo "sgwc-b$1"; }
node_inner_veth() { echo "sgwc-v$1"; }
node_addr() { echo "$SGWC_SUBNET.$1"; }
node_dir() { echo "$CLUSTER_DIR/n$1"; }
node_portal() { echo "$(node_addr "$1"):$CLUSTER_PORT"; }
# node_url I [IQN [LUN]] -> iscsi://192.0.2.I:PORT/IQN/LUN
node_url() {
	echo "iscsi://$(node_portal "$1")/${2:-$TARGET_IQN}/$(( ${3:-0} + ${SANGW_LUN_OFFSET:-0} ))"
}
# node_portal_url I [USER PASSWORD] -> iscsi://[USER%PASSWORD@]192.0.2.I:PORT
node_portal_url() {
	if [ $# -ge 3 ]; then
		echo "iscsi://$2%$3@$(node_portal "$1")"
	else
		echo "iscsi://$(node_portal "$1")"
	fi
}

_sgwc_check_node() {
	[[ "$1" =~ ^[1-9]$ ]] && [ "$1" -le "$CLUSTER_N" ] ||
		fail "no node '$1' (the cluster has $CLUSTER_N nodes)"
}

# --- logs on failure -----------------------------------------------------------

# tests/lib.sh's fail() calls show_log_tail: show every node's logs instead.
show_log_tail() {
	local i f
	for ((i = 1; i <= CLUSTER_N; i++)); do
		for f in "$(node_dir "$i")/sangwd.log" "$(node_dir "$i")/corosync.log"; do
			[ -s "$f" ] || continue
			echo "--- last lines of $f ---" >&2
			tail -n 15 "$f" >&2
		done
	done
	echo "---" >&2
}

# --- prerequisites -------------------------------------------------------------

cluster_need_tools() {
	[ "$(id -u)" = 0 ] || skip "network namespaces need root"
	if ! command -v corosync >/dev/null 2>&1 || ! command -v corosync-quorumtool >/dev/null 2>&1; then
		note "installing corosync"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq corosync >&2 ||
			{ DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 &&
			  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq corosync >&2; } ||
			fail "cannot install corosync"
	fi
	need_program ip ss flock timeout sysctl mount
}

# One cluster at a time: the names are fixed and namespaces belong to the
# whole machine. The lock is flock(1) on one machine-wide file, so every
# copy of this harness (other clones and worktrees too) takes the same lock
# (a lock on the harness file itself, as before, let two copies run at
# once and tear down each other's namespaces). Other scripts that make
# namespaces may take it too; children do not inherit the descriptor.
SGWC_LOCK_FILE=${SGWC_LOCK_FILE:-/run/lock/sangw-cluster-tests.lock}
_sgwc_lock() {
	[ -n "$SGWC_LOCK_FD" ] && return 0
	[ -d "$(dirname "$SGWC_LOCK_FILE")" ] || SGWC_LOCK_FILE=/tmp/sangw-cluster-tests.lock
	exec {SGWC_LOCK_FD}>>"$SGWC_LOCK_FILE" || fail "cannot open $SGWC_LOCK_FILE"
	if ! flock -n "$SGWC_LOCK_FD"; then
		local t0=$SECONDS
		note "waiting for the cluster lock (another cluster test runs)"
		flock -w 600 "$SGWC_LOCK_FD" || fail "another cluster test held the lock for 600 s"
		note "got the cluster lock after $((SECONDS - t0)) s"
	fi
	SGWC_OWNED=1
}

# --- processes in a node -------------------------------------------------------

# The node's own /run (corosync's pid file and lock, the tools' state) and
# /var/lib/corosync, bind-mounted in the private mount namespace that
# `ip netns exec` gives every command, so they vanish with it.
# shellcheck disable=SC2016
SGWC_NODE_WRAPPER='d=$1; shift; mount --bind "$d/run" /run && mount --bind "$d/lib" /var/lib/corosync && exec "$@"'

# node_exec I CMD...: run CMD in node I (its namespace, /run and
# /var/lib/corosync) in the foreground; its exit status is CMD's.
node_exec() {
	local i=$1
	shift
	_sgwc_check_node "$i"
	ip netns exec "$(node_ns "$i")" sh -c "$SGWC_NODE_WRAPPER" sh "$(node_dir "$i")" "$@" {SGWC_LOCK_FD}<&-
}

# node_spawn I LOG CMD...: start CMD in node I in the background, output
# appended to LOG; its PID (the program's own: ip and sh exec into it) is
# in SGWC_LAST_PID and remembered for cluster_down.
node_spawn() {
	local i=$1 log=$2
	shift 2
	_sgwc_check_node "$i"
	ip netns exec "$(node_ns "$i")" sh -c "$SGWC_NODE_WRAPPER" sh "$(node_dir "$i")" "$@" \
		</dev/null >>"$log" 2>&1 {SGWC_LOCK_FD}<&- &
	SGWC_LAST_PID=$!
	SGWC_SPAWNED_PIDS+=("$SGWC_LAST_PID")
}

# client_exec CMD...: run CMD in the client namespace (192.0.2.254), from
# where every node's portal is reachable.
client_exec() {
	ip netns exec "$SGWC_CLIENT_NS" "$@" {SGWC_LOCK_FD}<&-
}

# client_spawn LOG CMD...: CMD in the client namespace in the background;
# PID in SGWC_LAST_PID, ended by cluster_down.
client_spawn() {
	local log=$1
	shift
	ip netns exec "$SGWC_CLIENT_NS" "$@" </dev/null >>"$log" 2>&1 {SGWC_LOCK_FD}<&- &
	SGWC_LAST_PID=$!
	SGWC_SPAWNED_PIDS+=("$SGWC_LAST_PID")
}

# _sgwc_end_pid PID SECONDS: SIGTERM, then SIGKILL after SECONDS; reap it.
_sgwc_end_pid() {
	local pid=$1
	[ -n "$pid" ] || return 0
	if kill -TERM "$pid" 2>/dev/null; then
		wait_pid_exit "$pid" "$2" || kill -KILL "$pid" 2>/dev/null
	fi
	wait "$pid" 2>/dev/null
	return 0
}

# --- the network ---------------------------------------------------------------

# _sgwc_add_ns NS: a namespace without IPv6 (so no link-local address).
_sgwc_add_ns() {
	ip netns add "$1" || fail "cannot create namespace $1"
	ip netns exec "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
		net.ipv6.conf.default.disable_ipv6=1 >/dev/null ||
		fail "cannot disable IPv6 in $1"
}

# _sgwc_add_host NS BRIDGE_VETH INNER_VETH ADDR: a namespace on the bridge.
_sgwc_add_host() {
	local ns=$1 outer=$2 inner=$3 addr=$4
	_sgwc_add_ns "$ns"
	ip -n "$SGWC_SWITCH_NS" link add "$outer" type veth peer name "$inner" netns "$ns" ||
		fail "cannot create veth $outer/$inner"
	ip -n "$SGWC_SWITCH_NS" link set "$outer" master "$SGWC_BRIDGE" up ||
		fail "cannot attach $outer to $SGWC_BRIDGE"
	ip -n "$ns" link set lo up || fail "cannot bring up lo in $ns"
	ip -n "$ns" addr add "$addr/24" dev "$inner" || fail "cannot add $addr to $inner"
	ip -n "$ns" link set "$inner" up || fail "cannot bring up $inner"
}

_sgwc_make_switch() {
	_sgwc_add_ns "$SGWC_SWITCH_NS"
	ip -n "$SGWC_SWITCH_NS" link add "$SGWC_BRIDGE" type bridge ||
		fail "cannot create bridge $SGWC_BRIDGE"
	# Bridged frames need not go through netfilter (br_netfilter is
	# loaded here); older kernels lack the option.
	ip -n "$SGWC_SWITCH_NS" link set "$SGWC_BRIDGE" type bridge nf_call_iptables 0 \
		nf_call_ip6tables 0 nf_call_arptables 0 2>/dev/null
	ip -n "$SGWC_SWITCH_NS" link set "$SGWC_BRIDGE" up || fail "cannot bring up $SGWC_BRIDGE"
}

# node_link I down|up: take node I's port on the bridge down (a partition:
# the node sees its own link up but reaches nobody) or up again.
node_link() {
	_sgwc_check_node "$1"
	case $2 in
	up | down) ip -n "$SGWC_SWITCH_NS" link set "$(node_bridge_veth "$1")" "$2" ||
		fail "cannot set $(node_bridge_veth "$1") $2" ;;
	*) fail "node_link: '$2' is neither up nor down" ;;
	esac
	note "node $1 link $2"
}

# node_isolate I / node_rejoin I: cut (restore) the cluster interconnect
# between node I and the other nodes while every node stays reachable from
# the client: blackhole routes to the other nodes' addresses in node I and
# to node I's address in each other node. node_link down cuts the client
# off too; this is the partition an initiator can still watch from outside
# (it reaches the isolated node, which must then refuse writes). Plain
# routes because this kernel has no tc classifiers and no nftables.
node_isolate() {
	local i=$1 j
	_sgwc_check_node "$i"
	for ((j = 1; j <= CLUSTER_N; j++)); do
		[ "$j" = "$i" ] && continue
		ip -n "$(node_ns "$i")" route add blackhole "$(node_addr "$j")/32" ||
			fail "cannot isolate node $i from node $j"
		ip -n "$(node_ns "$j")" route add blackhole "$(node_addr "$i")/32" ||
			fail "cannot isolate node $j from node $i"
	done
	note "node $i isolated from the other nodes (the client still reaches it)"
}
node_rejoin() {
	local i=$1 j
	_sgwc_check_node "$i"
	for ((j = 1; j <= CLUSTER_N; j++)); do
		[ "$j" = "$i" ] && continue
		ip -n "$(node_ns "$i")" route del blackhole "$(node_addr "$j")/32" 2>/dev/null
		ip -n "$(node_ns "$j")" route del blackhole "$(node_addr "$i")/32" 2>/dev/null
	done
	note "node $i reconnected to the other nodes"
}

# --- corosync ------------------------------------------------------------------

_sgwc_write_corosync_conf() {
	local i=$1 n=$2 j dir
	dir=$(node_dir "$i")
	{
		cat <<EOF
totem {
	version: 2
	cluster_name: sgwc-test
	transport: knet
	crypto_cipher: none
	crypto_hash: none
	token: 1000
}

nodelist {
EOF
		for ((j = 1; j <= n; j++)); do
			cat <<EOF
	node {
		ring0_addr: $(node_addr "$j")
		nodeid: $j
		name: $(node_ns "$j")
	}
EOF
		done
		cat <<EOF
}

quorum {
	provider: corosync_votequorum
}

logging {
	to_logfile: yes
	logfile: $dir/corosync.log
	to_syslog: no
	to_stderr: no
	timestamp: on
}
EOF
	} >"$dir/corosync.conf"
}

# node_start_corosync I: start node I's corosync (again, after node_kill).
# Does not wait: use wait_nodes_quorate.
node_start_corosync() {
	local i=$1 pid
	_sgwc_check_node "$i"
	pid=${COROSYNC_PIDS[$i]:-}
	if [ -n "$pid" ] && ! pid_gone "$pid"; then
		fail "node $i: corosync $pid is still running"
	fi
	node_spawn "$i" "$(node_dir "$i")/corosync.out" corosync -f -c "$(node_dir "$i")/corosync.conf"
	COROSYNC_PIDS[$i]=$SGWC_LAST_PID
	note "node $i: corosync $SGWC_LAST_PID started"
}

# node_quorum I: print "QUORATE MEMBERS" as node I's corosync sees it,
# e.g. "Yes 3" or "No 1"; "down" when its corosync does not answer.
# corosync-quorumtool talks to corosync over libqb IPC: an abstract unix
# socket (per network namespace) and ring buffers in /dev/shm.
node_quorum() {
	local out
	out=$(node_exec "$1" timeout 5 corosync-quorumtool -s 2>&1)
	# Exit status 0 quorate, 2 not quorate, anything else: no answer.
	if ! grep -q '^Quorate:' <<<"$out"; then
		echo down
		return 0
	fi
	awk '/^Quorate:/ { q = $2 } /^Nodes:/ { n = $2 } END { print q, n }' <<<"$out"
}

# node_is_quorate I MEMBERS: node I is in a quorate partition of MEMBERS.
node_is_quorate() {
	[ "$(node_quorum "$1")" = "Yes $2" ]
}

# node_is_inquorate I: node I's corosync runs and reports no quorum.
node_is_inquorate() {
	[[ "$(node_quorum "$1")" == "No "* ]]
}

_sgwc_all() { # PREDICATE ARG NODE...: PREDICATE NODE ARG holds for each node
	local pred=$1 arg=$2 i
	shift 2
	for i in "$@"; do
		"$pred" "$i" "$arg" || return 1
	done
}

_sgwc_quorum_report() {
	local i r=
	for i in "$@"; do
		r+=" node $i: $(node_quorum "$i");"
	done
	echo "${r# }"
}

# wait_nodes_quorate MEMBERS NODE...: each NODE reports "Quorate: Yes" with
# MEMBERS nodes, within CLUSTER_TIMEOUT seconds; fail the test otherwise.
wait_nodes_quorate() {
	local members=$1 t0=$SECONDS
	shift
	wait_until "$CLUSTER_TIMEOUT" _sgwc_all node_is_quorate "$members" "$@" ||
		fail "nodes $* not quorate with $members members after $CLUSTER_TIMEOUT s: $(_sgwc_quorum_report "$@")"
	note "nodes $*: quorate, $members members ($((SECONDS - t0)) s)"
}

# wait_nodes_inquorate NODE...: each NODE's corosync reports no quorum.
wait_nodes_inquorate() {
	local t0=$SECONDS
	wait_until "$CLUSTER_TIMEOUT" _sgwc_all node_is_inquorate "" "$@" ||
		fail "nodes $* still quorate after $CLUSTER_TIMEOUT s: $(_sgwc_quorum_report "$@")"
	note "nodes $*: not quorate ($((SECONDS - t0)) s)"
}

# --- a session client ----------------------------------------------------------

# session_start: start sangw-cluster-client's session mode in the client
# namespace as a coprocess; `sess COMMAND...` then sends one command line
# and leaves its one-line answer in SESS_REPLY (see the client's --help:
# "open NAME URL [INITIATOR]", "register NAME KEY", "read-keys NAME", ...).
# Sessions (I_T nexuses) live until closed, so a registration made in one
# step and a unit attention checked in a later one are on the same nexus.
CLUSTER_CLIENT=${CLUSTER_CLIENT:-$SANGW_BUILD/tests/integration/sangw-cluster-client}
SESS_REPLY=
session_start() {
	need_program "$CLUSTER_CLIENT"
	[ -z "${SGWC_SESSION_PID:-}" ] || fail "session_start: a session client already runs"
	coproc SGWC_SESSION {
		exec ip netns exec "$SGWC_CLIENT_NS" "$CLUSTER_CLIENT" --timeout "${SESS_TIMEOUT:-10}" \
			session 2>>"$TEST_DIR/session-client.log" {SGWC_LOCK_FD}<&-
	}
	SGWC_SPAWNED_PIDS+=("$SGWC_SESSION_PID")
}

# sess COMMAND...: one command; its answer in SESS_REPLY (also noted).
sess() {
	sess_send "$@"
	sess_receive "$(( ${SESS_TIMEOUT:-10} * 3 + 10 ))" ||
		fail "the session client did not answer '$*'"
}

# sess_send COMMAND... and sess_receive SECONDS: the two halves of sess,
# for a test that must act while a command is outstanding. sess_receive
# returns 1 when no answer came within SECONDS (it may still come).
SESS_SENT=
sess_send() {
	[ -n "${SGWC_SESSION_PID:-}" ] || fail "sess: call session_start first"
	echo "$*" >&"${SGWC_SESSION[1]}" || fail "the session client is gone (sending '$*')"
	SESS_SENT=$*
}
sess_receive() {
	IFS= read -r -t "$1" SESS_REPLY <&"${SGWC_SESSION[0]}" || return 1
	note "$SESS_SENT -> ${SESS_REPLY:0:200}"
}

# sess_expect REGEX COMMAND...: the answer must match REGEX (bash =~).
sess_expect() {
	local want=$1
	shift
	sess "$@"
	[[ "$SESS_REPLY" =~ $want ]] || fail "'$*' answered '$SESS_REPLY', expected /$want/"
}

# sess_open NAME NODE [INITIATOR]: a session through NODE's portal whose
# pending unit attentions (the new nexus's 29/xx) are consumed.
sess_open() {
	sess_expect '^ok' open "$1" "$(node_url "$2")" "${3:-iqn.2026-11.org.sangw:$1}"
	sess_expect '^ok' clear-ua "$1"
}

# pr_raw_of REPLY: the raw=HEX of a PR IN answer (for byte comparisons).
pr_raw_of() {
	sed -n 's/.* raw=\([0-9a-f]*\).*/\1/p' <<<"$1"
}

# --- the cluster -----------------------------------------------------------------

# cluster_up N: switch, client namespace, N node namespaces each with its
# corosync; returns when every node is quorate with N members.
cluster_up() {
	local n=$1 i dir
	[[ "$n" =~ ^[1-9]$ ]] && [ "$n" -le "$SGWC_MAX_NODES" ] ||
		fail "cluster_up: N must be 1..$SGWC_MAX_NODES, not '$n'"
	[ "$CLUSTER_N" -eq 0 ] || fail "cluster_up: a cluster of $CLUSTER_N nodes is already up"
	cluster_need_tools
	_sgwc_lock
	cluster_cleanup_stale
	CLUSTER_N=$n
	_sgwc_make_switch
	_sgwc_add_host "$SGWC_CLIENT_NS" sgwc-bc sgwc-vc "$SGWC_CLIENT_ADDR"
	for ((i = 1; i <= n; i++)); do
		dir=$(node_dir "$i")
		mkdir -p "$dir/run" "$dir/lib" "$dir/state" || fail "cannot create $dir"
		_sgwc_add_host "$(node_ns "$i")" "$(node_bridge_veth "$i")" \
			"$(node_inner_veth "$i")" "$(node_addr "$i")"
		_sgwc_write_corosync_conf "$i" "$n"
	done
	for ((i = 1; i <= n; i++)); do
		node_start_corosync "$i"
	done
	wait_nodes_quorate "$n" $(seq 1 "$n")
}

# cluster_up_shared_lu N [SANGWD ARGS...]: N corosync nodes and, on each,
# sangwd exporting one 64 MiB LU ($SHARED_LU_SPEC) as LUN 0 of
# $TARGET_IQN: one disk, N paths. The LU is a file ($SHARED_LU), or with
# SGWC_BACKING=rbd one RBD image on a Ceph cluster in namespace sgwc-ceph
# on the bridge (tests/ceph/lib.sh), which every node reaches over the
# network as gateways do; each node's LU is open before this returns.
cluster_up_shared_lu() {
	local n=$1 i
	shift
	cluster_up "$n"
	shared_lu_make
	for ((i = 1; i <= n; i++)); do
		node_start_sangwd "$i" --target "$TARGET_IQN" --lun "$SHARED_LU_SPEC" "$@"
	done
	for ((i = 1; i <= n; i++)); do
		node_wait_lus_ready "$i"
	done
}

# shared_lu_make: the shared LU's backing (see cluster_up_shared_lu), after
# cluster_up; sets SHARED_LU_SPEC.
shared_lu_make() {
	if [ "${SGWC_BACKING:-file}" = rbd ]; then
		ceph_need_tools
		cluster_ceph_up
		rbd_image_create shared 64M || fail "cannot create the shared rbd image"
		SHARED_LU=
		SHARED_LU_SPEC="rbd:rbd/shared,conf=$CEPH_CONF"
	else
		SHARED_LU=$TEST_DIR/shared-lu.img
		make_sparse_file "$SHARED_LU" 64M
		SHARED_LU_SPEC="file:$SHARED_LU"
	fi
}

# node_wait_lus_ready I: node I's LUs are open (rbd LUs open in the
# background and answer NOT READY until then).
node_wait_lus_ready() {
	wait_lus_ready_via "$START_TIMEOUT" node_gwcli "$1"
}

# node_start_sangwd I ARGS...: sangwd -f in node I, listening on
# 192.0.2.I:CLUSTER_PORT (unless ARGS has --config, which then names the
# portal), with --cluster corosync unless ARGS has --cluster, state and
# management socket in the node's folder, log in NODE_DIR/sangwd.log.
# Returns once it listens; the PID is in NODE_SANGWD_PIDS[I].
node_start_sangwd() {
	local i=$1 dir args a have_config='' have_cluster='' pid n listeners
	shift
	_sgwc_check_node "$i"
	need_program "$SANGWD"
	dir=$(node_dir "$i")
	pid=${NODE_SANGWD_PIDS[$i]:-}
	[ -z "$pid" ] || pid_gone "$pid" || fail "node $i: sangwd $pid is still running"
	for a in "$@"; do
		case $a in
		--config | --config=* | -c) have_config=1 ;;
		--cluster | --cluster=*) have_cluster=1 ;;
		esac
	done
	args=(-f --state-dir "$dir/state" --mgmt-socket "$dir/mgmt.sock")
	[ -n "${SANGWD_LOG_LEVEL-debug}" ] && args+=(--log-level "${SANGWD_LOG_LEVEL-debug}")
	[ -z "$have_config" ] && args+=(--listen "$(node_portal "$i")")
	[ -z "$have_cluster" ] && args+=(--cluster corosync)
	rm -f "$dir/mgmt.sock"
	echo "=== $(date +%T.%N) start: $SANGWD ${args[*]} $*" >>"$dir/sangwd.log"
	node_spawn "$i" "$dir/sangwd.log" "$SANGWD" "${args[@]}" "$@"
	pid=$SGWC_LAST_PID
	NODE_SANGWD_PIDS[$i]=$pid
	for ((n = 0; n < START_TIMEOUT * 10; n++)); do
		if pid_gone "$pid"; then
			wait "$pid"
			local rc=$?
			NODE_SANGWD_PIDS[$i]=
			fail "node $i: sangwd exited with status $rc during start-up"
		fi
		listeners=$(ip netns exec "$(node_ns "$i")" ss -Hltnp "sport = :$CLUSTER_PORT" 2>/dev/null)
		if grep -q "pid=$pid," <<<"$listeners"; then
			note "node $i: sangwd $pid listening on $(node_portal "$i")"
			return 0
		fi
		sleep 0.1
	done
	fail "node $i: sangwd did not listen on $(node_portal "$i") within $START_TIMEOUT s"
}

# node_stop_sangwd I: SIGTERM, and require exit status 0.
node_stop_sangwd() {
	local i=$1 pid rc
	_sgwc_check_node "$i"
	pid=${NODE_SANGWD_PIDS[$i]:-}
	[ -n "$pid" ] || fail "node_stop_sangwd: sangwd is not running on node $i"
	kill -TERM "$pid" 2>/dev/null
	if ! wait_pid_exit "$pid" "$STOP_TIMEOUT"; then
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		NODE_SANGWD_PIDS[$i]=
		fail "node $i: sangwd did not exit within $STOP_TIMEOUT s of SIGTERM"
	fi
	wait "$pid"
	rc=$?
	NODE_SANGWD_PIDS[$i]=
	[ $rc -eq 0 ] || fail "node $i: sangwd exited with status $rc after SIGTERM, expected 0"
	note "node $i: sangwd stopped cleanly"
}

# node_gwcli I ARGS...: gwcli against node I's management socket.
node_gwcli() {
	_sgwc_check_node "$1"
	timeout "${CLIENT_TIMEOUT:-60}" "$GWCLI" --socket "$(node_dir "$1")/mgmt.sock" "${@:2}"
}

# _sgwc_kill_wait PID SIGNAL: send SIGNAL and reap the process.
_sgwc_kill_wait() {
	[ -n "$1" ] || return 0
	kill "-$2" "$1" 2>/dev/null || { wait "$1" 2>/dev/null; return 0; }
	wait_pid_exit "$1" 10 || kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	return 0
}

# node_kill_sangwd I [SIGNAL] / node_kill_corosync I [SIGNAL]: one process
# of node I (default SIGKILL), reaped before returning.
node_kill_sangwd() {
	_sgwc_check_node "$1"
	_sgwc_kill_wait "${NODE_SANGWD_PIDS[$1]:-}" "${2:-KILL}"
	NODE_SANGWD_PIDS[$1]=
}
node_kill_corosync() {
	_sgwc_check_node "$1"
	_sgwc_kill_wait "${COROSYNC_PIDS[$1]:-}" "${2:-KILL}"
	COROSYNC_PIDS[$1]=
}

# node_kill I [SIGNAL]: the node dies: SIGNAL (default SIGKILL) to its
# sangwd and its corosync at once; both reaped before returning.
node_kill() {
	local i=$1 sig=${2:-KILL} p
	_sgwc_check_node "$i"
	# The braces keep bash's "Killed" job notice out of the test's stderr.
	{
		for p in "${NODE_SANGWD_PIDS[$i]:-}" "${COROSYNC_PIDS[$i]:-}"; do
			[ -n "$p" ] && kill "-$sig" "$p"
		done
		node_kill_sangwd "$i" "$sig"
		node_kill_corosync "$i" "$sig"
	} 2>/dev/null
	note "node $i killed (SIG$sig)"
}

# cluster_down: end every process we started (by PID), delete the
# namespaces, veths and bridge, remove the node folders. Safe to call
# twice and after a half-finished cluster_up; runs on exit anyway.
cluster_down() {
	local i pid link ns hook
	[ -n "$SGWC_OWNED" ] || return 0
	# sangwd first (it may want to leave its group while corosync still
	# runs), then corosync and whatever else was spawned.
	{
		for ((i = 1; i <= SGWC_MAX_NODES; i++)); do
			pid=${NODE_SANGWD_PIDS[$i]:-}
			[ -n "$pid" ] && kill -TERM "$pid"
		done
		for ((i = 1; i <= SGWC_MAX_NODES; i++)); do
			_sgwc_end_pid "${NODE_SANGWD_PIDS[$i]:-}" 10
		done
		for pid in "${SGWC_SPAWNED_PIDS[@]}"; do
			kill -TERM "$pid"
		done
		for pid in "${SGWC_SPAWNED_PIDS[@]}"; do
			_sgwc_end_pid "$pid" 10
		done
	} 2>/dev/null
	NODE_SANGWD_PIDS=()
	COROSYNC_PIDS=()
	SGWC_SPAWNED_PIDS=()
	# Other harnesses' hosts on the bridge (a Ceph namespace) go after the
	# nodes' processes, their clients, and before the bridge.
	for hook in "${SGWC_DOWN_HOOKS[@]}"; do
		"$hook"
	done
	# Deleting a veth end deletes its peer; the namespaces go last.
	for link in sgwc-bc $(for ((i = 1; i <= SGWC_MAX_NODES; i++)); do node_bridge_veth "$i"; done) "$SGWC_BRIDGE"; do
		ip -n "$SGWC_SWITCH_NS" link show "$link" >/dev/null 2>&1 &&
			ip -n "$SGWC_SWITCH_NS" link del "$link"
	done
	for ns in $(for ((i = 1; i <= SGWC_MAX_NODES; i++)); do node_ns "$i"; done) \
		"$SGWC_CLIENT_NS" "$SGWC_SWITCH_NS"; do
		_sgwc_our_namespaces | grep -qx "$ns" && ip netns del "$ns"
	done
	if [ "$CLUSTER_N" -gt 0 ] && [ "${SANGW_KEEP_TMP:-0}" != 1 ]; then
		rm -rf "$CLUSTER_DIR"
	fi
	[ "$CLUSTER_N" -gt 0 ] && note "cluster down"
	CLUSTER_N=0
	return 0
}

# Our names exactly: "sgwc-" followed by anything, and the bridge
# "sgwcbr<digits>". Other harnesses' names that merely start with "sgwc"
# (sgwcx1, sgwcxbr, ...) are not ours and are never touched.
SGWC_NAME_REGEX='^(sgwc-.+|sgwcbr[0-9]+)$'
_sgwc_our_namespaces() {
	ip netns list 2>/dev/null | awk '{ print $1 }' | grep -E "$SGWC_NAME_REGEX"
}
_sgwc_our_links() {
	ip -o link show 2>/dev/null | awk -F': ' '{ print $2 }' | sed 's/@.*//' |
		grep -E "$SGWC_NAME_REGEX"
}

# cluster_leftovers: print every namespace and link of ours (named
# sgwc-* or sgwcbrN); nothing when the machine is clean.
cluster_leftovers() {
	_sgwc_our_namespaces | sed 's/^/netns /'
	_sgwc_our_links | sed 's/^/link /'
	return 0
}

# cluster_cleanup_stale: delete our namespaces and links left by a run
# that was killed before its cleanup. Processes still in such a namespace
# are not ours to end: they are reported and left alone.
# A namespace of ours that still holds processes is most likely a live
# cluster of an older copy of this harness (whose lock was its own lib.sh,
# not the machine-wide file): wait up to SGWC_FOREIGN_WAIT seconds (180)
# for it to end before deleting anything.
_sgwc_namespaces_busy() {
	local ns
	for ns in $(_sgwc_our_namespaces); do
		[ -n "$(ip netns pids "$ns" 2>/dev/null)" ] && return 0
	done
	return 1
}
cluster_cleanup_stale() {
	local ns pids link t0=$SECONDS
	_sgwc_lock
	if _sgwc_namespaces_busy; then
		note "sgwc namespaces with processes exist (another copy of the harness running?): waiting up to ${SGWC_FOREIGN_WAIT:-180} s"
		_sgwc_namespaces_idle() { ! _sgwc_namespaces_busy; }
		wait_until "${SGWC_FOREIGN_WAIT:-180}" _sgwc_namespaces_idle
		note "waited $((SECONDS - t0)) s for them"
	fi
	for ns in $(_sgwc_our_namespaces); do
		pids=$(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ')
		[ -n "$pids" ] && note "warning: stale namespace $ns still holds processes $pids(left running)"
		note "removing stale namespace $ns"
		ip netns del "$ns"
	done
	for link in $(_sgwc_our_links); do
		note "removing stale link $link"
		ip link del "$link" 2>/dev/null
	done
	return 0
}

# On exit, take the cluster down first, then tests/lib.sh's cleanup (which
# gives the verdict check and removes TEST_DIR) with the original status.
_sgwc_exit() {
	local rc=$?
	cluster_down
	(exit "$rc")
	cleanup
}
trap _sgwc_exit EXIT

# RBD-backed scenarios (SGWC_BACKING=rbd, cluster_ceph_up).
# shellcheck source=../ceph/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../ceph/lib.sh"
