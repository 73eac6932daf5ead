#!/bin/bash
# Fencing: a node the cluster gave up on lands no write on the shared RBD
# image after the others moved on (docs/cluster.md "Fencing").
# Three nodes export one RBD image. A client writes generation-stamped
# blocks through node 1; node 1 is stopped with a write in flight (held in
# its socket to the OSD: its route to Ceph is cut first); the survivors
# fence it (Ceph blocklist) and take over; the client rewrites every block
# with newer generations through node 2; node 1's route comes back (the
# kernel sends the held write) and node 1 resumes. Every block read through nodes 1, 2 and 3 must carry the newer
# generation once node 1 has rejoined, and node 1 must acknowledge nothing
# meanwhile. The same with node 1's link cut instead of a stop.
# With SGWC_FENCING=off (sangwd --fencing off) the stale write lands and
# this test fails: that is what fencing prevents.
TEST_NAME=cluster-fencing
SGWC_BACKING=rbd
. "$(dirname "$0")/lib.sh"
need_program "$CLUSTER_CLIENT"
blocks=509         # prime: any 509 consecutive generations stamp every block

cluster_up 3
shared_lu_make
# Writes held in node 1's librbd must wait for Ceph, not time out, however
# long the scenario takes: the OSD operation timeout is raised.
SHARED_LU_SPEC+=",timeout=600"
for i in 1 2 3; do
	node_start_sangwd "$i" --target "$TARGET_IQN" --lun "$SHARED_LU_SPEC" \
		--fencing "${SGWC_FENCING:-on}"
done
for i in 1 2 3; do
	node_wait_lus_ready "$i"
done
ceph_addr=${CEPH_MON%:*}

# fence_state VIA NODE: node NODE's fencing state as node VIA reports it.
fence_state() {
	node_gwcli "$1" --json fencing 2>/dev/null |
		python3 -c 'import json,sys
n=int(sys.argv[1])
for e in json.load(sys.stdin)["fencing"]["nodes"]:
    if e["node"]==n: print(e["state"], e.get("fenced_clients",""))' "$2" 2>/dev/null
}
node_fenced() { case $(fence_state "$1" "$2") in fenced*) return 0 ;; esac; return 1; }
node_back() { case $(fence_state "$1" "$2") in none*) return 0 ;; esac; return 1; }
# write_stuck LOG: the writer's last line is a write sent and not answered,
# and it stays so across a second (a write takes milliseconds here).
write_stuck() {
	local last
	last=$(tail -n 1 "$1")
	case $last in sent\ *) ;; *) return 1 ;; esac
	sleep 1
	[ "$(tail -n 1 "$1")" = "$last" ]
}

scenario() { # HOW: freeze | cut
	local how=$1 log1=$TEST_DIR/$1-writes-1 log2=$TEST_DIR/$1-writes-2 writer stuck out i
	local pid1=${NODE_SANGWD_PIDS[1]} fenced addr

	note "--- node 1 $([ "$how" = freeze ] && echo "frozen (SIGSTOP)" || echo "cut off (link down)") with a write in flight"
	client_spawn "$log1" "$CLUSTER_CLIENT" --timeout 600 write-log "$(node_url 1)" "$blocks"
	writer=$SGWC_LAST_PID
	wait_for_line "$log1" '^READY$' 30 || fail "the writer did not start: $(tail -3 "$log1")"
	enough_acked() { [ "$(grep -c '^acked ' "$log1")" -ge 100 ]; }
	wait_until 60 enough_acked || fail "fewer than 100 writes acknowledged: $(tail -3 "$log1")"
	if [ "$how" = freeze ]; then
		ip -n "$(node_ns 1)" route add blackhole "$ceph_addr/32" || fail "cannot cut node 1 from Ceph"
	else
		node_link 1 down
	fi
	wait_until 30 write_stuck "$log1" || fail "no write got stuck in node 1: $(tail -3 "$log1")"
	stuck=$(tail -n 1 "$log1")
	note "in flight through node 1: $stuck"
	if [ "$how" = freeze ]; then
		kill -STOP "$pid1" || fail "cannot stop node 1's sangwd"
		note "node 1 frozen"
	fi

	# The survivors notice, fence node 1 in Ceph, then take over.
	wait_until 60 node_fenced 2 1 || fail "node 2 does not report node 1 fenced: $(fence_state 2 1)"
	fenced=$(fence_state 2 1 | cut -d' ' -f2-)
	note "node 1 fenced; refused clients: $fenced"
	if [ "${SGWC_FENCING:-on}" = on ]; then
		out=$(ceph_cmd osd blocklist ls 2>&1)
		for addr in $fenced; do
			grep -qF "$addr" <<<"$out" || fail "Ceph's blocklist lacks node 1's client $addr: $out"
		done
	fi
	node_wait_lus_ready 2
	node_wait_lus_ready 3

	note "the client rewrites every block through node 2"
	client_exec "$CLUSTER_CLIENT" --first-gen 1000000 --writes "$blocks" write-log \
		"$(node_url 2)" "$blocks" >"$log2" 2>&1 ||
		fail "write-log through node 2: $(tail -3 "$log2")"
	[ "$(grep -c '^acked ' "$log2")" -eq "$blocks" ] ||
		fail "node 2 acknowledged $(grep -c '^acked ' "$log2") of $blocks writes: $(tail -3 "$log2")"

	if [ "$how" = freeze ]; then
		# The kernel sends the held write as soon as the route is back,
		# frozen process or not: it reaches the OSD after node 2's.
		ip -n "$(node_ns 1)" route del blackhole "$ceph_addr/32"
		note "node 1's route to Ceph is back"
		kill -CONT "$pid1" || fail "cannot resume node 1's sangwd"
		note "node 1 resumed"
	else
		node_link 1 up
	fi
	# The held write ends: refused (blocklisted), or GOOD when it had
	# reached the OSD before the cut and only its answer was held (it then
	# landed before node 2's writes, which the reads below check).
	writer_done() { pid_gone "$writer"; }
	wait_until 120 writer_done || fail "the write held in node 1 never ended"
	note "writer through node 1: $(grep -x "acked ${stuck#sent }" "$log1" || true) $(grep '^stopped' "$log1")"

	# Node 1 rejoins with new Ceph clients; by then its old ones are shut
	# down, so nothing of theirs can land any more.
	wait_until 120 node_back 2 1 || fail "node 1 did not come back: $(fence_state 2 1)"
	node_wait_lus_ready 1
	grep -q "this node was fenced" "$(node_dir 1)/sangwd.log" ||
		fail "node 1 never learnt that it was fenced"
	# Its old clients are gone: node 1 takes them off Ceph's blocklist.
	if [ "${SGWC_FENCING:-on}" = on ]; then
		unlisted() { ! ceph_cmd osd blocklist ls 2>/dev/null | grep -qF "$1"; }
		for addr in $fenced; do
			wait_until 30 unlisted "$addr" || fail "node 1's old client $addr stays blocklisted"
		done
		note "node 1's old clients are off the blocklist"
	fi
	for i in 1 2 3; do
		out=$(client_exec "$CLUSTER_CLIENT" check-log "$(node_url "$i")" "$log2" 2>&1) ||
			fail "a block written through node 2 was overwritten by node 1's held write (read through node $i): $out"
		note "node $i: $out"
	done
}

scenario freeze
scenario cut
pass
