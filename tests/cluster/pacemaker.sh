#!/bin/bash
# sangwd under pacemaker (issue 12): three nodes, each with corosync and
# pacemakerd in its own network and mount namespace (its own /run,
# /var/lib/corosync, /var/lib/pacemaker, /var/log/pacemaker), pacemaker on
# the same corosync as sangwd's own CPG group. The resource is
# ocf:sangw:sangwd (tools/ocf/sangwd) as a promotable clone, configured
# with crmsh as docs/pacemaker.md shows. Two LUs with the "preferred"
# ALUA policy (LUN 0 others Active/Non-optimized, LUN 1 others Standby).
# Checks, with an initiator's REPORT TARGET PORT GROUPS through each node:
#  - pacemaker starts sangwd everywhere and promotes one node P: exactly one
#    Active/Optimized group per LU, P's;
#  - `crm node standby P`: another node Q is promoted; RTPG through every
#    serving node shows Q Active/Optimized (P's group Unavailable while it
#    is down) and each nexus gets ASYMMETRIC ACCESS STATE CHANGED (2A/06);
#    `crm node online P`: P serves again, unpromoted, and RTPG through P
#    shows the same groups;
#  - kill -9 of sangwd on an unpromoted node: pacemaker's monitor finds it,
#    restarts it, and it rejoins (every node sees three members; RTPG
#    through it shows Q Active/Optimized).
# The timings go to stderr ("timing: ..."); docs/pacemaker.md quotes them.
TEST_NAME=cluster-pacemaker
. "$(dirname "$0")/lib.sh"
need_program "$CLUSTER_CLIENT"
need_program pacemakerd crm crm_mon crm_attribute
AGENT=$SRC_TOP/tools/ocf/sangwd
IQN=$TARGET_IQN

PCMK_PIDS=()         # pacemakerd per node
PCMK_CHILD_PIDS=()   # its daemons, ended by PID if pacemakerd could not

# pcmk_wrap: the node's pacemaker directories over the system's, in the
# mount namespace node_exec/node_spawn give each command; our agent is the
# only OCF provider there (resource.d/sangw/sangwd).
# shellcheck disable=SC2016
PCMK_WRAP='d=$1; shift; mount --bind "$d/hosts" /etc/hosts && mount --bind "$d/pcmk-lib" /var/lib/pacemaker && mount --bind "$d/pcmk-log" /var/log/pacemaker && mount --bind "$d/ocf" /usr/lib/ocf/resource.d && exec "$@"'
pcmk_exec() { # I CMD...
	local i=$1
	shift
	node_exec "$i" sh -c "$PCMK_WRAP" sh "$(node_dir "$i")" "$@"
}
node_name() { node_ns "$1"; }   # corosync.conf's nodelist names the nodes

pcmk_start() { # I
	local i=$1 d j
	d=$(node_dir "$i")
	mkdir -p "$d/pcmk-lib/cib" "$d/pcmk-lib/pengine" "$d/pcmk-lib/blackbox" "$d/pcmk-lib/cores" \
		"$d/pcmk-log" "$d/ocf/sangw"
	chown -R hacluster:haclient "$d/pcmk-lib" "$d/pcmk-log"
	chmod 750 "$d/pcmk-lib"/*
	chmod 770 "$d/pcmk-log"
	ln -sf "$AGENT" "$d/ocf/sangw/sangwd"
	# The node names resolve (crmsh checks that a node it puts in standby
	# answers); the machine's /etc/hosts is left alone.
	{
		echo "127.0.0.1 localhost"
		for ((j = 1; j <= CLUSTER_N; j++)); do
			echo "$(node_addr "$j") $(node_name "$j")"
		done
	} >"$d/hosts"
	# Each node's own sangwd configuration, where the agent is told to
	# look (/run is the node's).
	cp "$TEST_DIR/sangw.json" "$d/run/sangw.json"
	node_spawn "$i" "$d/pacemakerd.out" env PCMK_logfile=/var/log/pacemaker/pacemaker.log \
		sh -c "$PCMK_WRAP" sh "$d" pacemakerd
	PCMK_PIDS[$i]=$SGWC_LAST_PID
	note "node $i: pacemakerd $SGWC_LAST_PID started"
}

# Pacemaker stops its resources when pacemakerd gets SIGTERM; whatever
# is left (a daemon, a detached sangwd) is ended by PID.
pcmk_down() {
	local i pid
	for i in "${!PCMK_PIDS[@]}"; do
		for pid in $(pgrep -P "${PCMK_PIDS[$i]}" 2>/dev/null); do
			PCMK_CHILD_PIDS+=("$pid")
		done
		kill -TERM "${PCMK_PIDS[$i]}" 2>/dev/null
	done
	for i in "${!PCMK_PIDS[@]}"; do
		wait_until 60 pid_gone "${PCMK_PIDS[$i]}" || kill -KILL "${PCMK_PIDS[$i]}" 2>/dev/null
	done
	for pid in "${PCMK_CHILD_PIDS[@]}"; do
		kill -KILL "$pid" 2>/dev/null
	done
	for ((i = 1; i <= CLUSTER_N; i++)); do
		pid=$(cat "$(node_dir "$i")/run/sangw/sangwd.pid" 2>/dev/null) && kill -KILL "$pid" 2>/dev/null
	done
	PCMK_PIDS=()
	return 0
}
SGWC_DOWN_HOOKS+=(pcmk_down)

cluster_up 3
make_sparse_file "$TEST_DIR/lu0.img" 64M
make_sparse_file "$TEST_DIR/lu1.img" 64M
cat >"$TEST_DIR/sangw.json" <<JSON
{
  "targets": [
    {"iqn": "$IQN", "demo_mode": true,
     "luns": [{"lun": 0, "backstore": "file", "path": "$TEST_DIR/lu0.img",
               "alua": {"policy": "preferred", "preferred_node": 1, "others": "active-non-optimized"}},
              {"lun": 1, "backstore": "file", "path": "$TEST_DIR/lu1.img",
               "alua": {"policy": "preferred", "preferred_node": 1, "others": "standby"}}]}
  ]
}
JSON
t0=$SECONDS
for i in 1 2 3; do
	pcmk_start "$i"
done
# All three pacemakers online (the DC elected, the nodes joined).
pcmk_online() {
	local out
	out=$(pcmk_exec 1 crm_mon -1 2>/dev/null) || return 1
	grep -q "Online: \[ $(node_name 1) $(node_name 2) $(node_name 3) \]" <<<"$out"
}
wait_until 90 pcmk_online || fail "pacemaker did not see three online nodes: $(pcmk_exec 1 crm_mon -1 2>&1 | head -20)"
note "timing: pacemaker on three nodes online in $((SECONDS - t0)) s"

# The configuration docs/pacemaker.md shows (paths are the test's).
t0=$SECONDS
pcmk_exec 1 crm configure property stonith-enabled=false >&2 || fail "crm configure property failed"
pcmk_exec 1 crm configure primitive sangw ocf:sangw:sangwd \
	params binary="$SANGWD" gwcli="$GWCLI" config=/run/sangw.json \
	state_dir=/run/sangw/state options="--log-level debug" \
	op start timeout=60s op stop timeout=60s \
	op monitor interval=3s role=Promoted timeout=10s \
	op monitor interval=4s role=Unpromoted timeout=10s >&2 || fail "crm configure primitive failed"
pcmk_exec 1 crm configure clone sangw-clone sangw \
	meta promotable=true promoted-max=1 clone-max=3 interleave=true >&2 || fail "crm configure clone failed"

# role_of I: node I's answer to gwcli role ("node 2 promoted; promoted node: 2 ...").
role_of() {
	timeout 5 "$GWCLI" --socket "$(node_dir "$1")/run/sangw/sangwd.sock" role 2>/dev/null
}
# promoted_everywhere [NODE...]: every NODE (default 1 2 3) serves and
# they agree on one promoted node, other than $NOT_PROMOTED; PROMOTED is
# set to it.
PROMOTED=
NOT_PROMOTED=
promoted_everywhere() {
	local i out p='' nodes=${*:-1 2 3}
	for i in $nodes; do
		out=$(role_of "$i") || return 1
		[[ "$out" == *"; serving" ]] || return 1
		out=${out#*promoted node: }
		out=${out%% *}
		[ "$out" != 0 ] && [ "$out" != "$NOT_PROMOTED" ] || return 1
		[ -z "$p" ] || [ "$p" = "$out" ] || return 1
		p=$out
	done
	PROMOTED=$p
}
wait_until 120 promoted_everywhere || fail "no node promoted everywhere: $(for i in 1 2 3; do role_of $i; done) $(pcmk_exec 1 crm_mon -1 2>&1 | tail -15)"
P=$PROMOTED
note "timing: sangwd started on three nodes and node $P promoted $((SECONDS - t0)) s after the configuration"
pcmk_exec 1 crm_mon -1 >&2

# groups_for P LUN1?: the RTPG answer expected with node P promoted:
# "1:ao,2:an,3:an" for LUN 0 (others Active/Non-optimized), sb for LUN 1;
# DOWN is a node whose group is Unavailable.
groups_for() {
	local p=$1 others=$2 down=${3:-} i s out=''
	for i in 1 2 3; do
		if [ "$i" = "$p" ]; then s=ao; elif [ "$i" = "$down" ]; then s=un; else s=$others; fi
		out+="${out:+,}$i:$s"
	done
	echo "$out"
}

session_start
# rtpg_until SESSION GROUPS: RTPG through SESSION reports GROUPS within
# CLUSTER_TIMEOUT seconds; unit attentions on the way are consumed and
# remembered in UA_SEEN_<SESSION>.
declare -A UA_SEEN
rtpg_until() {
	local s=$1 want=$2 deadline=$((SECONDS + CLUSTER_TIMEOUT))
	while :; do
		sess rtpg "$s"
		[ "$SESS_REPLY" = "ok groups=$want" ] && return 0
		[ "$SESS_REPLY" = "check 6/2a/06" ] && UA_SEEN[$s]=1
		[ $SECONDS -ge $deadline ] && fail "RTPG through session $s: '$SESS_REPLY', expected groups=$want"
		[[ "$SESS_REPLY" == "check 6/"* ]] || sleep 0.2
	done
}
# One nexus per node and LU: A1 = node 1 LUN 0, B1 = node 1 LUN 1, ...
for i in 1 2 3; do
	sess_expect '^ok' open "A$i" "$(node_url "$i" "$IQN" 0)" "iqn.2026-11.org.sangw:a$i"
	sess_expect '^ok' open "B$i" "$(node_url "$i" "$IQN" 1)" "iqn.2026-11.org.sangw:b$i"
done
for i in 1 2 3; do
	rtpg_until "A$i" "$(groups_for "$P" an)"
	rtpg_until "B$i" "$(groups_for "$P" sb)"
done
note "RTPG through nodes 1-3: LUN 0 $(groups_for "$P" an), LUN 1 $(groups_for "$P" sb)"
UA_SEEN=()

# Standby of the promoted node: another is promoted, seen through every node.
t0=$SECONDS
NOT_PROMOTED=$P
pcmk_exec 1 crm node standby "$(node_name "$P")" >&2 || fail "crm node standby failed"
survivors=$(for i in 1 2 3; do [ "$i" != "$P" ] && echo "$i"; done)
# shellcheck disable=SC2086
wait_until 90 promoted_everywhere $survivors || fail "no node promoted after standby of node $P: $(pcmk_exec 1 crm_mon -1 2>&1 | tail -15)"
Q=$PROMOTED
NOT_PROMOTED=
t_promoted=$((SECONDS - t0))
for i in $survivors; do
	rtpg_until "A$i" "$(groups_for "$Q" an "$P")"
	rtpg_until "B$i" "$(groups_for "$Q" sb "$P")"
	[ -n "${UA_SEEN[A$i]:-}" ] || fail "the nexus through node $i (LUN 0) got no 2A/06 for the move"
	[ -n "${UA_SEEN[B$i]:-}" ] || fail "the nexus through node $i (LUN 1) got no 2A/06 for the move"
done
note "timing: standby of node $P -> node $Q promoted in $t_promoted s, RTPG through nodes $(echo $survivors) shows it (with 2A/06) after $((SECONDS - t0)) s"
out=$(pcmk_exec 1 crm_mon -1 2>&1)
grep -Eq "Promoted(: \[)? $(node_name "$Q")" <<<"$out" || fail "crm_mon does not show node $Q promoted: $out"
role_of "$P" >/dev/null && fail "sangwd still answers on node $P in standby"

# Back online: node P serves again, unpromoted; RTPG through it shows Q.
t0=$SECONDS
pcmk_exec 1 crm node online "$(node_name "$P")" >&2 || fail "crm node online failed"
wait_until 90 promoted_everywhere 1 2 3 || fail "node $P did not rejoin: $(role_of "$P")"
[ "$PROMOTED" = "$Q" ] || fail "the promoted node moved from $Q to $PROMOTED when node $P came back"
note "timing: node $P online again and serving in $((SECONDS - t0)) s"
sess_expect '^ok' open "C$P" "$(node_url "$P" "$IQN" 0)" "iqn.2026-11.org.sangw:c$P"
for i in 1 2 3; do
	s=A$i; [ "$i" = "$P" ] && s=C$P
	rtpg_until "$s" "$(groups_for "$Q" an)"
done
note "RTPG through nodes 1-3 after node $P's return: $(groups_for "$Q" an)"

# kill -9 of an unpromoted node's sangwd: pacemaker restarts it, it rejoins.
K=$(for i in 1 2 3; do [ "$i" != "$Q" ] && echo "$i"; done | head -1)
pidfile=$(node_dir "$K")/run/sangw/sangwd.pid
old=$(cat "$pidfile") || fail "no pid file on node $K"
t0=$SECONDS
kill -KILL "$old" || fail "cannot kill sangwd $old on node $K"
note "node $K: sangwd $old killed (SIGKILL)"
restarted() {
	local pid
	pid=$(cat "$pidfile" 2>/dev/null) && [ "$pid" != "$old" ] && kill -0 "$pid" 2>/dev/null
}
wait_until 60 restarted || fail "pacemaker did not restart sangwd on node $K: $(pcmk_exec 1 crm_mon -1 2>&1 | tail -15)"
t_restart=$((SECONDS - t0))
wait_until 60 promoted_everywhere 1 2 3 || fail "node $K did not rejoin: $(role_of "$K")"
members=$(timeout 5 "$GWCLI" --socket "$(node_dir "$K")/run/sangw/sangwd.sock" --json role)
[[ "$members" == *'"members":[1,2,3]'* ]] || fail "node $K's members after the restart: $members"
note "timing: kill -9 on node $K -> restarted by pacemaker in $t_restart s, serving again in $((SECONDS - t0)) s"
sess_expect '^ok' open "D$K" "$(node_url "$K" "$IQN" 0)" "iqn.2026-11.org.sangw:d$K"
rtpg_until "D$K" "$(groups_for "$Q" an)"
out=$(pcmk_exec 1 crm_mon -1 2>&1)
grep -Eq "Promoted(: \[)? $(node_name "$Q")" <<<"$out" || fail "crm_mon after the restart: $out"
grep -q "Failed Resource Actions" <<<"$out" && note "pacemaker recorded the kill: $(sed -n '/Failed Resource Actions/,$p' <<<"$out" | tr '\n' ' ')"
pcmk_exec 1 crm_mon -1 --include=failcounts >&2

# The initiator logs out first: sangwd would wait for its sessions.
kill -TERM "$SGWC_SESSION_PID" 2>/dev/null
t0=$SECONDS
pcmk_down
note "timing: pacemaker stopped on three nodes in $((SECONDS - t0)) s"
pass
