#!/bin/bash
# gwcli's view of a node (issue 11) as a user sees it with one sangwd:
# `status` shows the node up and quorate with its LUs and their ALUA state,
# `sessions` lists the node as answering, `top` shows the I/O a benchmark makes
# while it runs, and gwcli never hangs: against a stopped (SIGSTOP) sangwd
# every command gives up after --timeout with a message saying what to do,
# and a missing daemon is an error that says how to fix it. The request
# checks of the management API refuse bad status/sessions members.
. "$(dirname "$0")/../lib.sh"
BENCH=${SANGW_BENCH:-$SANGW_BUILD/sangw-bench}
need_program "$BENCH" python3

start_sangwd --target "$TARGET_IQN" --lun "null,size=256M" --lun "file:$TEST_DIR/lu1.img,size=32M"

out=$(gwcli --json status) || fail "gwcli status failed"
python3 -c '
import json, sys
d = json.loads(sys.argv[1])
assert d["ok"] and d["cluster"] == "none", d
assert len(d["nodes"]) == 1 and d["nodes"][0]["id"] == 1 and d["nodes"][0]["up"] is True, d
assert d["nodes"][0]["ready"] and d["quorum"]["quorate"] and d["quorum"]["missing"] == [], d
assert [l["lun"] for l in d["luns"]] == [0, 1], d
assert all(l["alua"]["1"] == "active-optimized" for l in d["luns"]), d' "$out" ||
	fail "status JSON is not what one ready node shows: $out"
out=$(gwcli status) || fail "gwcli status (text) failed"
grep -q 'quorate, 1 of 1 configured node up' <<<"$out" && grep -q "$TARGET_IQN/1 .*A/O" <<<"$out" ||
	fail "status text: $out"

# top while a benchmark reads: the LU's READ/s is not zero on a screen.
"$BENCH" --quiet --time 6 --qd 4 --rw read "$(iscsi_url "$TARGET_IQN" 0)" >"$TEST_DIR/bench.out" 2>&1 &
bench_pid=$!
track_pid "$bench_pid"
out=$(gwcli top --interval 1 --count 3 </dev/null) || fail "gwcli top failed: $out"
wait "$bench_pid" || fail "sangw-bench failed: $(cat "$TEST_DIR/bench.out")"
note "gwcli top:
$(tail -n 4 <<<"$out")"
awk -v t="$TARGET_IQN" '$1 == 1 && $2 == t && $3 == 0 && $4 > 0 { found = 1 } END { exit !found }' <<<"$out" ||
	fail "top never showed reads on LUN 0 while sangw-bench read: $out"
must_fail gwcli --json top --count 1

# sessions asks every node (here: the one) and says which answered.
out=$(gwcli --json sessions) || fail "gwcli sessions failed"
python3 -c '
import json, sys
d = json.loads(sys.argv[1])
assert d["ok"] and [(n["id"], n["up"]) for n in d["nodes"]] == [(1, True)] and d["sessions"] == [], d' "$out" ||
	fail "sessions JSON: $out"

# Requests the API refuses: unknown members, wrong types.
for req in '{"request":"status","bogus":1}' '{"request":"status","timeout_ms":0}' \
	'{"request":"status","timeout_ms":"2"}' '{"request":"sessions","cluster":"yes"}' \
	'{"request":"stats","cluster":true,"timeout_ms":99999999}'; do
	out=$(python3 - "$MGMT_SOCK" "$req" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(10)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode() + b"\n")
print(s.makefile().readline().strip())
EOF
) || fail "no answer to $req"
	python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["ok"] is False and d["error"], d' "$out" ||
		fail "$req was not refused with an error: $out"
	note "$req -> $out"
done
assert_alive

# A stopped daemon: every command gives up after --timeout, exit 1, and says
# what happened and what to do.
kill -STOP "$SANGWD_PID"
for cmd in status ls "target create iqn.2026-11.org.sangw:late"; do
	start=$(date +%s%N)
	# shellcheck disable=SC2086
	out=$(gwcli --timeout 2 $cmd 2>&1)
	rc=$?
	ms=$(( ($(date +%s%N) - start) / 1000000 ))
	[ $rc -eq 1 ] || { kill -CONT "$SANGWD_PID"; fail "gwcli $cmd against a stopped sangwd exited $rc: $out"; }
	[ "$ms" -lt 4000 ] || { kill -CONT "$SANGWD_PID"; fail "gwcli $cmd took $ms ms with --timeout 2"; }
	grep -q 'no answer from sangwd within 2 s' <<<"$out" && grep -q -- '--timeout SECONDS' <<<"$out" ||
		{ kill -CONT "$SANGWD_PID"; fail "the timeout message does not say what to do: $out"; }
done
note "gwcli against a stopped sangwd: '$(head -n 1 <<<"$out")' after $ms ms"
kill -CONT "$SANGWD_PID"
# The change sent while it was stopped is applied once it runs again (the
# message said it might be).
wait_until 10 eval 'gwcli ls | grep -q "iqn.2026-11.org.sangw:late"' || fail "the late change was lost"
assert_alive

out=$(gwcli --socket "$TEST_DIR/no-such.sock" ls 2>&1) && fail "gwcli with no daemon succeeded"
grep -q 'Is sangwd running' <<<"$out" || fail "no hint when the socket is missing: $out"
stop_sangwd
pass
