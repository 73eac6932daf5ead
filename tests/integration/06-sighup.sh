#!/bin/bash
# SIGHUP reloads the configuration: a target added to the file becomes
# discoverable and usable, while a session on the unchanged target keeps
# reading without a single error.
. "$(dirname "$0")/../lib.sh"
need_program "$TESTCLIENT"

T2=iqn.2026-11.org.sangw:t2
write_config() {
	# $1: "with-t2" to add the second target
	{
		cat <<JSON
{
  "portals": ["$PORTAL"],
  "targets": [
    { "iqn": "$TARGET_IQN",
      "luns": [ { "lun": 0, "backstore": "file", "path": "$TEST_DIR/lu0.img", "size": "32M" } ],
      "acls": [ { "initiator": "$INIT1_IQN" } ] }
JSON
		if [ "$1" = with-t2 ]; then
			cat <<JSON
    ,
    { "iqn": "$T2",
      "luns": [ { "lun": 0, "backstore": "file", "path": "$TEST_DIR/lu1.img", "size": "32M" } ],
      "acls": [ { "initiator": "$INIT1_IQN" } ] }
JSON
		fi
		echo '  ]'
		echo '}'
	} >"$TEST_DIR/sangw.json.new"
	mv "$TEST_DIR/sangw.json.new" "$TEST_DIR/sangw.json"
}

write_config
start_sangwd --config "$TEST_DIR/sangw.json"
must testclient discover "$(portal_url)" --initiator "$INIT1_IQN" --expect "$TARGET_IQN" --expect-absent "$T2"

# A session on the first target reads for the whole test.
"$TESTCLIENT" read-loop "$(iscsi_url "$TARGET_IQN" 0)" 10 --initiator "$INIT1_IQN" \
	>"$TEST_DIR/loop.out" 2>&1 &
LOOP_PID=$!
track_pid $LOOP_PID
wait_for_line "$TEST_DIR/loop.out" '^READY' 20 || fail "reader did not log in: $(cat "$TEST_DIR/loop.out")"

write_config with-t2
reload_sangwd
t2_listed() {
	testclient discover "$(portal_url)" --initiator "$INIT1_IQN" --expect "$T2" >/dev/null 2>&1
}
wait_until 20 t2_listed || fail "$T2 not discoverable 20 s after SIGHUP"
must testclient write-read "$(iscsi_url "$T2" 0)" 0 32 --initiator "$INIT1_IQN"
pid_gone $LOOP_PID && fail "the reader on $TARGET_IQN ended early: $(cat "$TEST_DIR/loop.out")"

wait_pid_exit $LOOP_PID 30 || fail "the reader did not finish"
wait $LOOP_PID
rc=$?
[ $rc -eq 0 ] || fail "the session on $TARGET_IQN was disturbed by the reload: $(cat "$TEST_DIR/loop.out")"
note "reader: $(grep '^reads' "$TEST_DIR/loop.out")"
assert_alive
stop_sangwd
pass
