#!/bin/bash
# sangwd.service's READY=1 means "serving" in a cluster too (issue 12):
# node 1's sangwd (--cluster corosync) starts while its corosync has no
# quorum (nodes 2 and 3's corosync are down). It listens, but sends no
# READY=1, only STATUS= "waiting for quorum"; once nodes 2 and 3 are back
# and the partition is quorate, READY=1 follows with STATUS= "serving". When
# quorum is lost again, STATUS= says so. The notification socket is a
# datagram socket this test reads, as systemd's own.
TEST_NAME=cluster-systemd-ready
. "$(dirname "$0")/lib.sh"
need_program python3
ldd "$SANGWD" | grep -q 'libsystemd\.so' || skip "built without libsystemd: no notifications"

cluster_up 3
node_kill_corosync 2
node_kill_corosync 3
wait_nodes_inquorate 1

NOTES=$TEST_DIR/notes.log
SOCK=$TEST_DIR/notify.sock
python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
out = open(sys.argv[2], "a", buffering=1)
while True:
    out.write(s.recv(4096).decode().replace("\n", "|") + "\n")
' "$SOCK" "$NOTES" &
track_pid $!
wait_until 10 test -S "$SOCK" || fail "the notification listener did not start"

export NOTIFY_SOCKET=$SOCK
node_start_sangwd 1 --target "$TARGET_IQN" --lun null,size=16M
unset NOTIFY_SOCKET
wait_for_line "$NOTES" '^STATUS=node 1: waiting for quorum' 10 ||
	fail "no 'waiting for quorum' STATUS from an inquorate node: $(cat "$NOTES")"
sleep 3
grep -q '^READY=1' "$NOTES" && fail "READY=1 without quorum: $(cat "$NOTES")"

t0=$SECONDS
node_start_corosync 2
node_start_corosync 3
wait_nodes_quorate 3 1 2 3
t_quorum=$((SECONDS - t0))
wait_for_line "$NOTES" '^READY=1\|STATUS=node 1 serving' 30 ||
	fail "no READY=1 once quorate: $(tail -5 "$NOTES")"
note "timing: corosync 2 and 3 started -> quorate in $t_quorum s, READY=1 after $((SECONDS - t0)) s"

node_kill_corosync 2
node_kill_corosync 3
wait_nodes_inquorate 1
wait_until 30 sh -c "sed -n '/^READY=1/,\$p' '$NOTES' | grep -q '^STATUS=node 1: waiting for quorum'" ||
	fail "STATUS did not say so when quorum was lost: $(tail -5 "$NOTES")"
node_stop_sangwd 1
wait_for_line "$NOTES" '^STOPPING=1' 5 || fail "no STOPPING=1: $(tail -3 "$NOTES")"
pass
