#!/bin/bash
# The management socket (docs/management-api.md#transport): root only by
# default (mode 0600); with --mgmt-group GROUP, mode 0660 and that group,
# and members of GROUP (primary or supplementary) may connect. Anyone else
# is refused by sangwd itself (SO_PEERCRED), even when the socket file's
# mode would let them in. Every change is logged with the peer's uid, name
# and pid and what it named, never a secret.
. "$(dirname "$0")/../lib.sh"
need_program setpriv "$GWCLI"
[ "$(id -u)" = 0 ] || skip "needs root (setpriv to another user)"
GROUP=users
GID=$(getent group "$GROUP" | cut -d: -f3)
[ -n "$GID" ] || skip "no group $GROUP on this host"
NOBODY_GROUP=$(id -gn nobody)
# nobody must reach the socket and run gwcli from the build tree.
chmod 0711 "$TEST_DIR"
as_nobody() {   # as_nobody [setpriv options] -- gwcli arguments
	local opts=()
	while [ "$1" != -- ]; do opts+=("$1"); shift; done
	shift
	timeout 30 setpriv --reuid=nobody --regid="$NOBODY_GROUP" "${opts[@]}" \
		"$GWCLI" --socket "$MGMT_SOCK" "$@"
}

note "default: root only"
start_sangwd --target "$TARGET_IQN" --lun null,size=16M
wait_mgmt_socket
[ "$(stat -c %a "$MGMT_SOCK")" = 600 ] || fail "socket mode $(stat -c %a "$MGMT_SOCK"), want 600"
must gwcli version
out=$(as_nobody --clear-groups -- version 2>&1) && fail "nobody could use the socket: $out"
# Past the file mode, sangwd's own check (SO_PEERCRED) still refuses.
chmod 0666 "$MGMT_SOCK"
out=$(as_nobody --clear-groups -- version 2>&1) && fail "nobody got in through a 0666 socket: $out"
grep -q "permission denied" <<<"$out" || fail "no permission-denied answer: $out"
grep -q "mgmt: refused a client of uid 65534" "$SANGWD_LOG" || fail "the refusal was not logged"
stop_sangwd

note "--mgmt-group $GROUP"
start_sangwd --target "$TARGET_IQN" --lun null,size=16M --mgmt-group "$GROUP"
wait_mgmt_socket
[ "$(stat -c %a:%G "$MGMT_SOCK")" = "660:$GROUP" ] ||
	fail "socket $(stat -c %a:%G "$MGMT_SOCK"), want 660:$GROUP"
out=$(as_nobody --clear-groups -- version 2>&1) && fail "nobody outside $GROUP got in: $out"
chmod 0666 "$MGMT_SOCK"
out=$(as_nobody --clear-groups -- version 2>&1) && fail "nobody outside $GROUP got in (0666): $out"
chmod 0660 "$MGMT_SOCK"
# A supplementary member, then a primary one.
out=$(as_nobody --groups="$GID" -- version 2>&1) || fail "a member of $GROUP was refused: $out"
out=$(timeout 30 setpriv --reuid=nobody --regid="$GID" --clear-groups \
	"$GWCLI" --socket "$MGMT_SOCK" param set "$TARGET_IQN" nop_interval 7 2>&1) ||
	fail "a member of $GROUP (primary group) could not change a parameter: $out"
grep -qE "mgmt: change param_set by uid 65534 \(nobody\) pid [0-9]+: target=$TARGET_IQN key=nop_interval value=7" \
	"$SANGWD_LOG" || fail "the change was not logged with who made it"
must gwcli chap set "$TARGET_IQN" chapuser Mgmt-s3cret-quux
grep -qE "mgmt: change chap_set by uid 0 \(root\) pid [0-9]+: target=$TARGET_IQN" "$SANGWD_LOG" ||
	fail "chap_set was not logged"
stop_sangwd
grep -n "Mgmt-s3cret-quux" "$SANGWD_LOG" >&2 && fail "sangwd logged the CHAP secret"

note "an unknown group is refused at start"
"$SANGWD" -f --state-dir "$STATE_DIR" --mgmt-socket "$MGMT_SOCK" --listen "$PORTAL" \
	--mgmt-group no-such-group-sangw >"$TEST_DIR/bad.log" 2>&1 &
pid=$!
track_pid "$pid"
wait_pid_exit "$pid" 20 || fail "sangwd with an unknown --mgmt-group kept running"
wait "$pid"
rc=$?
[ "$rc" = 1 ] || fail "sangwd with an unknown --mgmt-group exited $rc, want 1: $(tail -3 "$TEST_DIR/bad.log")"
grep -q 'management group "no-such-group-sangw" does not exist' "$TEST_DIR/bad.log" ||
	fail "no clear error for an unknown group: $(cat "$TEST_DIR/bad.log")"
pass
