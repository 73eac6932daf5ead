#!/bin/bash
# gwcli's interactive shell on a 3-node cluster, through a pseudo-terminal
# (tests/gwcli_pty.py): /nodes lists every node (TAB too) with its state and
# the quorum, and node 2's session under /nodes/2/sessions; a relative LU
# create in node 1's shell reaches node 3; node 2's portals are refused from
# node 1 with the advice to run gwcli there; with node 2 killed, a new
# shell on node 1 opens and its ls /nodes (asking again) answers within
# gwcli's timeout, node 2 shown down (or not answering) and its sessions
# unknown.
TEST_NAME=cluster-gwcli-shell
. "$(dirname "$0")/lib.sh"
need_program "$GWCLI" python3

INIT=iqn.2026-11.org.sangw:shell-init
cluster_up_shared_lu 3
session_start
sess_open s2 2 "$INIT"

HOME_DIR=$TEST_DIR/home
mkdir -p "$HOME_DIR"

# shell_steps STEPS: run the steps below against node 1 (the pty driver's
# "FAIL: ..." line becomes the verdict).
shell_steps() {
	local out rc
	out=$(PYTHONPATH=$TESTS_DIR TEST_NAME=$TEST_NAME timeout 120 python3 "$TEST_DIR/steps.py" "$1" "$GWCLI" \
		"$(node_dir 1)/mgmt.sock" "$(node_dir 3)/mgmt.sock" "$HOME_DIR" "$TARGET_IQN" "$INIT")
	rc=$?
	[ $rc -eq 0 ] && [ "$out" = ok ] || fail "${out#FAIL: } (driver exit status $rc)"
}

cat >"$TEST_DIR/steps.py" <<'EOF'
import json, re, subprocess, sys, time
from gwcli_pty import Shell, fail, note

steps, gwcli, sock1, sock3, home, target, init = sys.argv[1:8]
sh = Shell([gwcli, '--socket', sock1], home)
opened = sh.prompt('/')         # the shell asks for the tree first

if steps == 'all-up':
    note('TAB lists the nodes; ls /nodes shows each with the quorum')
    sh.type('cd /nodes/\t')
    sh.expect('1/  2/  3/')
    sh.settle()
    sh.type('\x01\x0b')
    sh.type('ls /nodes\n')
    sh.expect('/nodes  [3 nodes; quorate: present 1, 2, 3; 2 of 3 needed]')
    for i in (1, 2, 3):
        sh.expect('%d/  [sgwc-n%d ' % (i, i))
        sh.expect(', up, quorate, ready, version ')
        if i == 2:
            sh.expect('sessions/  [1 session]')
            sh.expect(init + ',i,')
            sh.expect('-> ' + target)
    sh.prompt('/')

    note("another node's portals: refused with advice")
    sh.type('cd /nodes/2/portals\n')
    sh.prompt('/nodes/2/portals')
    sh.type('create 203.0.113.2:3270\n')
    sh.expect('portals belong to each node and this gwcli talks to node 1')
    sh.prompt('/nodes/2/portals')

    note("a relative create in node 1's shell reaches node 3")
    sh.type('cd /targets/%s/luns\n' % target)
    sh.type('create null,size=8M\n')
    sh.expect('LUN 1 created in ' + target)
    sh.prompt('/targets/%s/luns' % target)
    deadline = time.time() + 10
    while True:
        listing = json.loads(subprocess.run([gwcli, '--socket', sock3, '--json', 'ls'], capture_output=True,
                                            text=True, check=True).stdout)
        luns = [t for t in listing['targets'] if t['iqn'] == target][0]['luns']
        if any(lu['lun'] == 1 for lu in luns):
            break
        if time.time() > deadline:
            fail('node 3 does not have the LU created in the shell on node 1: %s' % luns)
        time.sleep(0.2)
elif steps == 'node2-dead':
    note('node 2 killed: the shell opens and ls /nodes answers in time and shows it')
    if opened > 10:
        fail('the shell took %.1f s to open with node 2 dead (timeout 10 s)' % opened)
    note('the shell opened in %.1f s with node 2 dead' % opened)
    sh.pump(2.1)                  # the copy is now old: ls asks again
    start = time.time()
    sh.type('ls /nodes\n')
    sh.expect('2/  [sgwc-n2 ')
    took = time.time() - start
    shown = sh.screen()[sh.pos:sh.pos + 200]
    if not re.match(r'[0-9.]*, (down|not answering)\]', shown):
        fail('node 2 is not shown down: %r' % shown)
    sh.expect('sessions/  [unknown: node ')
    sh.prompt('/')
    if took > 10:
        fail('ls /nodes took %.1f s with node 2 dead (timeout 10 s)' % took)
    note('ls /nodes with node 2 dead: %.1f s' % took)
    sh.type('cd /nodes/\t')       # from the shell's copy: no waiting
    sh.expect('1/  2/  3/', 2)
    sh.settle()
    sh.type('\x01\x0b')
sh.type('exit\n')
if sh.finish() != 0:
    fail('exit did not end the shell with status 0')
print('ok')
EOF

shell_steps all-up
node_kill 2
shell_steps node2-dead
pass
