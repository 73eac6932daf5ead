#!/bin/bash
# gwcli's interactive shell, driven through a pseudo-terminal as a user
# types into it (python3's pty module): TAB completes a command word, a path
# component (cd /tar<TAB> -> /targets/), an IQN, a LUN and an option; cd, pwd
# and ls show the tree; a relative "create" in /targets/IQN/luns adds an LU
# that the one-shot "gwcli --json ls" then shows; a command sangwd refuses
# prints its error and the shell goes on; exit; the history file holds the
# commands and a second shell recalls them with the Up arrow; Ctrl-C drops
# the line being typed, Ctrl-D leaves. Without a terminal, gwcli without a
# command still prints its usage and exits 2.
# (The pty driver: tests/gwcli_pty.py.)
#
# (The shell: tools/gwcli/shell.c, docs/gwcli.8 SHELL.)
. "$(dirname "$0")/../lib.sh"
need_program "$GWCLI" python3

OTHER=iqn.2026-11.org.sangw:other
start_sangwd --target "$TARGET_IQN" --lun null,size=64M --lun "file:$TEST_DIR/lu1.img,size=16M"
wait_mgmt_socket
must gwcli acl create "$TARGET_IQN" "$INIT1_IQN"
must gwcli target create "$OTHER"
must gwcli lun create "$OTHER" null,size=16M --lun 7

note "no terminal: usage and exit status 2, as before"
out=$("$GWCLI" --socket "$MGMT_SOCK" </dev/null 2>&1)
rc=$?
[ $rc -eq 2 ] || fail "gwcli without a command and without a terminal exited $rc, expected 2: $out"
grep -q '^Usage: gwcli' <<<"$out" || fail "gwcli without a terminal does not print its usage: $out"
grep -q 'interactive shell' <<<"$("$GWCLI" --help)" || fail "gwcli --help does not mention the shell"

HOME_DIR=$TEST_DIR/home
mkdir -p "$HOME_DIR"
cat >"$TEST_DIR/drive.py" <<'EOF'
# The steps; the pty driver is tests/gwcli_pty.py.
import json, os, subprocess, sys
from gwcli_pty import Shell, fail, note

gwcli, sock, home, target, other, init1, portal = sys.argv[1:8]

sh = Shell([gwcli, '--socket', sock], home)
sh.expect("gwcli shell: 'help' lists")
sh.prompt('/')

note('TAB completes a command word')
sh.type('vers\t')
sh.expect('version ')
sh.type('\n')
sh.expect('sangwd ')
sh.expect('(management API')
sh.prompt('/')

note('TAB completes a path component, then lists the choices')
sh.type('cd /tar\t')
sh.expect('cd /targets/')
sh.settle()
sh.type('\t')           # two targets: what they share, then the list
sh.expect('iqn.2026-11.org.sangw:')
sh.settle()
sh.type('\t')
sh.expect('other/')
if (target.rsplit(':', 1)[1] + '/') not in sh.screen()[sh.pos - 200:]:
    fail('the list of targets does not show %s:\n%s' % (target, sh.screen()[-800:]))
sh.prompt('/')
sh.type('t1/\n')
sh.prompt('/targets/' + target)

note('pwd and ls')
sh.type('pwd\n')
sh.expect('\n/targets/%s\n' % target)
sh.prompt('/targets/' + target)
sh.type('ls\n')
for shown in ('/targets/' + target, 'luns/  [2 LUNs]', '0  null,size=64M  64 MiB', '1  file:',
              'acls/  [1 ACL]', init1 + '  [no chap, 0 sessions, sees every LUN]',
              'portals/', portal + '  [node 1]'):
    sh.expect(shown)
sh.prompt('/targets/' + target)
sh.type('ls /nodes\n')
sh.expect('/nodes  [1 node; quorate')
sh.expect(', up, quorate, ready, version ')
sh.expect('(this node)')
sh.expect(portal)
sh.expect('sessions/  [0 sessions]')
sh.prompt('/targets/' + target)
sh.type('status\n')     # a one-shot command as it is
sh.expect('NODE  NAME')
sh.prompt('/targets/' + target)

note('a relative create in /targets/IQN/luns')
sh.type('cd luns\n')
sh.prompt('/targets/%s/luns' % target)
sh.type('create null,size=8M --l\t')      # an option name
sh.expect('--lun ')
sh.type('5\n')
sh.expect('LUN 5 created in ' + target)
sh.prompt('/targets/%s/luns' % target)
listing = json.loads(subprocess.run([gwcli, '--socket', sock, '--json', 'ls'], capture_output=True,
                                    text=True, check=True).stdout)
luns = [t for t in listing['targets'] if t['iqn'] == target][0]['luns']
if not any(lu['lun'] == 5 and lu['spec'].startswith('null') for lu in luns):
    fail("'gwcli --json ls' does not show the LU created in the shell: %s" % luns)

note('TAB lists the LUNs, the new one included (the tree was refreshed)')
sh.type('delete \t')
sh.expect('0  1  5')
sh.settle()
sh.type('\x01\x0b')      # Ctrl-A Ctrl-K: clear the line

note('an error from sangwd is printed and the shell goes on')
sh.type('delete 9\n')
sh.expect('gwcli: lun: target %s has no LUN 9' % target)
sh.prompt('/targets/%s/luns' % target)
sh.type('cd -\n')
sh.prompt('/targets/' + target)
sh.type('cd ..\n')
sh.prompt('/targets')

note('TAB completes an IQN and a LUN in a one-shot command')
sh.type('lun resize iqn.2026-11.org.sangw:o\t')
sh.expect('lun resize ' + other + ' ')
sh.settle()
sh.type('\t')
sh.expect('7 ')
sh.type('32M\n')
sh.expect('LUN 7 of %s resized to 32M' % other)
sh.prompt('/targets')
sh.type('ls %s/luns\n' % other)
sh.expect('7  null,size=32M  32 MiB')
sh.prompt('/targets')
sh.type('exit\n')
status = sh.finish()
if status != 0:
    fail('exit ended the shell with status %d' % status)

note('the history file holds the commands')
path = os.path.join(home, '.gwcli_history')
if not os.path.exists(path):
    fail('no history file %s after the shell' % path)
if os.stat(path).st_mode & 0o077:
    fail('the history file %s is readable by others (mode %o)' % (path, os.stat(path).st_mode & 0o777))
# libedit's format: one entry a line, blanks encoded as \040.
entries = [line.replace('\\040', ' ') for line in open(path).read().splitlines()]
for command in ('version', 'cd /targets/' + target + '/', 'create null,size=8M --lun 5', 'delete 9',
                'lun resize %s 7 32M' % other, 'exit'):
    if command not in entries:
        fail('the history file does not hold %r: %s' % (command, entries))

note('a second shell recalls the previous commands with the Up arrow')
sh = Shell([gwcli, '--socket', sock], home)
sh.prompt('/')
sh.settle()
sh.type('\x1b[A')
sh.expect('exit')
sh.settle()
sh.type('\x1b[A')       # the one before: the ls of the other target's LUNs
sh.expect('ls %s/luns' % other)
sh.type('\x01\x0b')
sh.type('cd /targets\n')
sh.prompt('/targets')
sh.type('\x1b[A\x1b[A\x1b[A\n')   # cd /targets, exit, ls ...: run it again
sh.expect('7  null,size=32M  32 MiB')
sh.prompt('/targets')
sh.settle()
sh.type('target delete ' + target + '\x03')   # Ctrl-C drops the line
sh.prompt('/targets')
sh.type('pwd\n')
sh.expect('\n/targets\n')
sh.prompt('/targets')
sh.type('\x04')         # Ctrl-D
status = sh.finish()
if status != 0:
    fail('Ctrl-D ended the shell with status %d' % status)
print('ok')
EOF

note "the shell through a pseudo-terminal"
out=$(PYTHONPATH=$TESTS_DIR TEST_NAME=$TEST_NAME timeout 180 python3 "$TEST_DIR/drive.py" "$GWCLI" "$MGMT_SOCK" \
	"$HOME_DIR" "$TARGET_IQN" "$OTHER" "$INIT1_IQN" "$PORTAL")
rc=$?
[ $rc -eq 0 ] && [ "$out" = ok ] || fail "${out#FAIL: } (driver exit status $rc)"
grep -qF "$TARGET_IQN" <<<"$(gwcli ls)" || fail "$TARGET_IQN is gone: the line dropped with Ctrl-C ran"
assert_alive
stop_sangwd
pass
