# shellcheck shell=bash
# Helpers for tests that need a Ceph cluster: a throw-away micro cluster
# (tests/ceph/micro-cluster: one monitor, one memstore OSD, pool rbd, no
# authentication) under $TEST_DIR, stopped on exit however the test ends.
# Source it after tests/lib.sh or tests/cluster/lib.sh (it sources
# tests/lib.sh itself when neither was):
#
#   . "$(dirname "$0")/../lib.sh"
#   . "$(dirname "$0")/../ceph/lib.sh"
#   ceph_need_tools
#   ceph_up                              # cluster on 127.0.0.1, CEPH_CONF set
#   rbd_image_create disk1 64M
#   start_sangwd --target "$TARGET_IQN" --lun "rbd:rbd/disk1,conf=$CEPH_CONF"
#   rbd_cmd info disk1
#   pass                                 # sangwd, then the cluster, stop on exit
#
# In a cluster scenario (tests/cluster/lib.sh), after `cluster_up N`:
#
#   cluster_ceph_up                      # namespace sgwc-ceph, 192.0.2.250:6789
#   node_exec 1 rbd -m "$CEPH_MON" ls    # any node reaches it (CEPH_CONF is exported)
#
# Functions whose state must be remembered (ceph_up, cluster_ceph_up) must
# run in the test's own shell, not in $(...).
#
# Variables after ceph_up / cluster_ceph_up (the last cluster started):
#   CEPH_CONF   the cluster's ceph.conf, exported: every ceph tool and
#               librados started by the test finds the cluster through it,
#               in any namespace (with -m too: without a conf they work
#               but warn about the missing conf and keyring). Beware: a
#               ceph tool run in the root namespace for a cluster_ceph_up
#               cluster would try 192.0.2.250 through the machine's eth0;
#               use rbd_cmd/ceph_cmd, which run in the cluster's namespace
#   CEPH_MON    ADDR:PORT of the monitor (for -m and librados mon_host)
#   CEPH_DIR    the cluster's folder (logs in $CEPH_DIR/log)
#   CEPH_NETNS  the namespace the daemons run in (empty for ceph_up)
#   CEPH_START_SECONDS  how long the start took
# Environment:
#   SANGW_CEPH_PORT_RANGE  monitor ports ceph_up picks from (6700-6789;
#                          not 6800-7300, the OSDs' range)
#   CEPH_CLI_TIMEOUT       seconds for one rbd_cmd (60)

# Sourced once only: tests/cluster/lib.sh sources it too, and a second
# copy would chain its exit handler to itself.
[ -n "${CEPH_LIB_LOADED:-}" ] && return 0
CEPH_LIB_LOADED=1
CEPH_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [ -z "${TEST_DIR:-}" ]; then
	# shellcheck source=../lib.sh
	. "$CEPH_LIB_DIR/../lib.sh"
fi
MICRO_CLUSTER=$CEPH_LIB_DIR/micro-cluster

CEPH_DIR=
CEPH_CONF=
CEPH_MON=
CEPH_NETNS=
CEPH_START_SECONDS=
CEPH_CLUSTER_DIRS=()       # every cluster started, stopped by ceph_down
CEPH_NS=sgwc-ceph          # cluster_ceph_up's namespace and its veth
CEPH_NS_BRIDGE_VETH=sgwc-bceph
CEPH_NS_INNER_VETH=sgwc-vceph
CEPH_NS_ADDR=192.0.2.250
CEPH_NS_OWNED=

# --- prerequisites -------------------------------------------------------------

ceph_need_tools() {
	local p missing=()
	for p in ceph-mon ceph-osd ceph-common; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
			missing+=("$p")
	done
	if [ ${#missing[@]} -gt 0 ]; then
		[ "$(id -u)" = 0 ] || skip "${missing[*]} not installed (and not root to install them)"
		note "installing ${missing[*]}"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2 ||
			{ DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 &&
			  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2; } ||
			fail "cannot install ${missing[*]}"
	fi
	need_program ceph-mon ceph-osd ceph rbd monmaptool uuidgen numfmt timeout ss
}

# --- one cluster -------------------------------------------------------------------

# Load DIR/env (written by micro-cluster) into CEPH_*; CEPH_CONF is exported.
_ceph_load_env() {
	local CEPH_MON_PID CEPH_OSD_PID
	# shellcheck disable=SC1091
	. "$1/env" || fail "cannot read $1/env"
	export CEPH_CONF
}

# A monitor port nobody listens on, from SANGW_CEPH_PORT_RANGE, starting at
# a random point so concurrent tests rarely pick the same one.
_ceph_pick_port() {
	local range=${SANGW_CEPH_PORT_RANGE:-6700-6789}
	local low=${range%-*} high=${range#*-}
	local span=$((high - low + 1)) i port
	local start=$((RANDOM % span))
	for ((i = 0; i < span; i++)); do
		port=$((low + (start + i) % span))
		if ! ss -Htan "( sport = :$port or dport = :$port )" 2>/dev/null | grep -q .; then
			echo "$port"
			return 0
		fi
	done
	return 1
}

# _ceph_start DIR ARGS...: micro-cluster start DIR ARGS, remembered for
# ceph_down, its variables loaded. Returns 2 when the monitor's port was
# taken (by a concurrent test: pick another), fails the test otherwise.
_ceph_start() {
	local dir=$1 t0=$SECONDS out rc err=$TEST_DIR/ceph-start.err
	shift
	[[ " ${CEPH_CLUSTER_DIRS[*]} " == *" $dir "* ]] || CEPH_CLUSTER_DIRS+=("$dir")
	out=$("$MICRO_CLUSTER" start "$dir" "$@" 2>"$err")
	rc=$?
	cat "$err" >&2
	if [ $rc -ne 0 ] || [ ! -f "$dir/env" ]; then
		grep -q 'something listens on' "$err" && return 2
		fail "no Ceph cluster: $(grep -m1 'no cluster after' "$err" || tail -n 1 "$err")"
	fi
	_ceph_load_env "$dir"
	CEPH_START_SECONDS=$((SECONDS - t0))
	[ "$out" = "$CEPH_CONF" ] || fail "micro-cluster printed '$out', expected $CEPH_CONF"
	note "ceph cluster up at $CEPH_MON${CEPH_NETNS:+ in $CEPH_NETNS} (${CEPH_START_SECONDS} s)"
}

# ceph_up [micro-cluster start options]: a cluster in $TEST_DIR/ceph on
# 127.0.0.1 and a free port (unless --port is given).
ceph_up() {
	local a have_port='' port
	[ -z "$CEPH_DIR" ] || [ "$CEPH_DIR" != "$TEST_DIR/ceph" ] ||
		fail "ceph_up: the cluster in $CEPH_DIR is up already"
	for a in "$@"; do
		[ "$a" = --port ] && have_port=1
	done
	if [ -n "$have_port" ]; then
		_ceph_start "$TEST_DIR/ceph" "$@" || fail "no Ceph cluster: its port is taken"
		return 0
	fi
	for _ in 1 2 3; do
		port=$(_ceph_pick_port) || fail "no free port in ${SANGW_CEPH_PORT_RANGE:-6700-6789}"
		_ceph_start "$TEST_DIR/ceph" --port "$port" "$@" && return 0
		note "port $port was taken meanwhile: another one"
	done
	fail "no Ceph cluster: 3 ports taken under us"
}

# _ceph_stop DIR: stop one cluster (micro-cluster stop, which ends the
# daemons by PID), and say so if a daemon survived.
_ceph_stop() {
	local dir=$1 pid
	# The env's names stay local: the last cluster's CEPH_* are not touched.
	local CEPH_DIR CEPH_CONF CEPH_MON CEPH_NETNS CEPH_MON_PID='' CEPH_OSD_PID=''
	[ -f "$dir/env" ] || return 0
	# shellcheck disable=SC1091
	. "$dir/env"
	"$MICRO_CLUSTER" stop "$dir" >&2 || note "warning: micro-cluster stop $dir failed"
	for pid in $CEPH_MON_PID $CEPH_OSD_PID; do
		_ceph_pid_alive "$pid" && note "warning: ceph daemon $pid still runs after stop"
	done
	return 0
}

# A zombie (exited, not yet reaped by init) counts as gone.
_ceph_pid_alive() {
	[ -n "$1" ] && kill -0 "$1" 2>/dev/null &&
		[ "$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" != Z ]
}

# ceph_down: stop every cluster this test started (the namespace of
# cluster_ceph_up goes too). Safe to call twice; runs on exit anyway.
ceph_down() {
	local dir
	[ -n "$CEPH_NS_OWNED" ] && cluster_ceph_down
	for dir in "${CEPH_CLUSTER_DIRS[@]}"; do
		_ceph_stop "$dir"
	done
	CEPH_CLUSTER_DIRS=()
	CEPH_DIR='' CEPH_CONF='' CEPH_MON='' CEPH_NETNS=''
	return 0
}

# ceph_pids: the PIDs of ceph daemons still running on our clusters' confs
# (empty when all are gone), for tests that check the teardown.
ceph_pids() {
	local pid cmdline
	for pid in $(pgrep -x 'ceph-(mon|osd)'); do
		_ceph_pid_alive "$pid" || continue
		cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)
		[[ "$cmdline" == *"$TEST_DIR/"* ]] && echo "$pid"
	done
	return 0
}

# --- clients -----------------------------------------------------------------------

# rbd_cmd ARGS... / ceph_cmd ARGS...: rbd or ceph on the last cluster
# started, bounded in time. With a cluster in a namespace they run in that
# namespace: from the root namespace, 192.0.2.x would go out through the
# machine's own eth0.
_ceph_tool() {
	local tool=$1
	shift
	[ -n "$CEPH_CONF" ] || fail "$tool: no cluster (ceph_up first)"
	if [ -n "$CEPH_NETNS" ]; then
		ip netns exec "$CEPH_NETNS" timeout -k 5 "${CEPH_CLI_TIMEOUT:-60}" \
			"$tool" -c "$CEPH_CONF" -m "$CEPH_MON" "$@"
	else
		timeout -k 5 "${CEPH_CLI_TIMEOUT:-60}" "$tool" -c "$CEPH_CONF" -m "$CEPH_MON" "$@"
	fi
}
rbd_cmd() { _ceph_tool rbd "$@"; }
ceph_cmd() { _ceph_tool ceph "$@"; }

# rbd_image_create NAME SIZE: an image in pool rbd (NAME may be POOL/NAME)
# that several clients may open at once: --image-shared (layering and
# deep-flatten, no exclusive-lock, object-map or fast-diff).
rbd_image_create() {
	local out
	out=$(rbd_cmd create --size "$2" --image-shared "$1" 2>&1) ||
		fail "rbd create $1 ($2): $out"
	note "rbd image $1 ($2) created"
}

# --- a cluster on the test bridge of tests/cluster/lib.sh --------------------------

# ceph_fault_cycle [COMMAND...]: the last cluster's monitor restarts, then
# its OSD stops (COMMAND runs while it is down) and comes back.
ceph_fault_cycle() {
	note "the monitor restarts under load"
	"$MICRO_CLUSTER" restart-mon "$CEPH_DIR" >&2 || fail "cannot restart the monitor"
	note "the OSD stops under load, then comes back"
	"$MICRO_CLUSTER" stop-osd "$CEPH_DIR" >&2 || fail "cannot stop the OSD"
	[ $# -eq 0 ] || "$@"
	"$MICRO_CLUSTER" start-osd "$CEPH_DIR" >&2 || fail "cannot start the OSD again"
}

# cluster_ceph_up [micro-cluster start options]: after cluster_up, the
# namespace sgwc-ceph on the bridge (veth sgwc-bceph / sgwc-vceph,
# 192.0.2.250/24, lo up, no IPv6) with a micro cluster on
# 192.0.2.250:6789 in $TEST_DIR/cluster-ceph. cluster_down (and so the
# exit) removes it again, after the nodes' sangwd have ended.
cluster_ceph_up() {
	declare -F _sgwc_add_host >/dev/null ||
		fail "cluster_ceph_up needs tests/cluster/lib.sh (and cluster_up)"
	[ "${CLUSTER_N:-0}" -gt 0 ] || fail "cluster_ceph_up: call cluster_up first"
	[ -z "$CEPH_NS_OWNED" ] || fail "cluster_ceph_up: $CEPH_NS is up already"
	CEPH_NS_OWNED=1
	_sgwc_add_host "$CEPH_NS" "$CEPH_NS_BRIDGE_VETH" "$CEPH_NS_INNER_VETH" "$CEPH_NS_ADDR"
	_ceph_start "$TEST_DIR/cluster-ceph" --netns "$CEPH_NS" --addr "$CEPH_NS_ADDR" \
		--port 6789 "$@" || fail "no Ceph cluster: 6789 is taken in $CEPH_NS"
}

# cluster_ceph_down: that cluster and its namespace go. A hook of
# cluster_down (which calls it after ending the nodes' processes) and of
# ceph_down.
cluster_ceph_down() {
	local dir=$TEST_DIR/cluster-ceph d keep=()
	[ -n "$CEPH_NS_OWNED" ] || return 0
	_ceph_stop "$dir"
	for d in "${CEPH_CLUSTER_DIRS[@]}"; do
		[ "$d" = "$dir" ] || keep+=("$d")
	done
	CEPH_CLUSTER_DIRS=("${keep[@]}")
	[ "$CEPH_DIR" = "$dir" ] && CEPH_DIR='' CEPH_CONF='' CEPH_MON='' CEPH_NETNS=''
	# Processes still in the namespace (not ours to end) keep it alive
	# after its name goes: say so, then remove the name anyway.
	if [ -n "$(ip netns pids "$CEPH_NS" 2>/dev/null)" ]; then
		note "warning: $CEPH_NS still holds processes $(ip netns pids "$CEPH_NS" | tr '\n' ' ')"
	fi
	ip -n "${SGWC_SWITCH_NS:-sgwc-sw}" link del "$CEPH_NS_BRIDGE_VETH" 2>/dev/null
	ip netns list 2>/dev/null | awk '{ print $1 }' | grep -qx "$CEPH_NS" && ip netns del "$CEPH_NS"
	CEPH_NS_OWNED=
	note "ceph namespace $CEPH_NS down"
	return 0
}

# cluster_down runs its hooks after ending the nodes' processes and before
# deleting the links: the nodes' sangwd (librbd clients) go before the
# cluster they write to, the ceph veth before the bridge.
if declare -p SGWC_DOWN_HOOKS >/dev/null 2>&1; then
	SGWC_DOWN_HOOKS+=(cluster_ceph_down)
fi

# --- exit ------------------------------------------------------------------------------

# On exit, the cluster's users end before the cluster: a sangwd whose rbd
# LU lost its cluster hangs in its final flush until killed. So first the
# cluster scenario's nodes (cluster_down, which also takes down sgwc-ceph),
# then tests/lib.sh's sangwd and background processes (what its cleanup
# would do a moment later), then our clusters; then the exit handler that
# was there before (tests/lib.sh's or tests/cluster/lib.sh's), with the
# original exit status.
_ceph_prev_exit=$(trap -p EXIT | sed -n "s/^trap -- '\(.*\)' EXIT\$/\1/p")
_ceph_exit() {
	local rc=$?
	if [ ${#CEPH_CLUSTER_DIRS[@]} -gt 0 ] || [ -n "$CEPH_NS_OWNED" ]; then
		declare -F cluster_down >/dev/null && cluster_down
		declare -F end_test_processes >/dev/null && end_test_processes
		ceph_down
	fi
	(exit "$rc")
	eval "${_ceph_prev_exit:-exit $rc}"
}
trap _ceph_exit EXIT
