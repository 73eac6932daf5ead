# gwcli's interactive shell driven through a pseudo-terminal, as a user
# types into it; assertions are on the screen, the text the user reads.
# Used by tests/integration/20-gwcli-shell.sh and tests/cluster/gwcli-shell.sh:
#
#   sys.path.insert(0, TESTS_DIR); from gwcli_pty import Shell, fail, note
#   sh = Shell([gwcli, '--socket', sock], home)
#   sh.prompt('/'); sh.type('cd /tar\t'); sh.expect('cd /targets/')
#
# fail() prints "FAIL: why" and exits 1; the calling test turns that line
# into its verdict.
import fcntl
import os
import pty
import re
import select
import struct
import sys
import termios
import time

# Escape sequences, carriage returns, bells and backspaces are how libedit
# draws; what is left is the text on the screen.
DRAWING = re.compile(r'\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][0-9A-Za-z]|\x1b[=>]|\r|\x07|\x08')
NAME = os.environ.get('TEST_NAME', 'gwcli-shell')


def fail(why):
    print('FAIL: ' + why)
    sys.exit(1)


def note(what):
    print('[%s] %s' % (NAME, what), file=sys.stderr)


class Shell:
    def __init__(self, argv, home):
        env = dict(os.environ, HOME=home, TERM='xterm')
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.execve(argv[0], argv, env)
        # Wide enough that long prompts do not wrap.
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack('HHHH', 50, 250, 0, 0))
        self.raw, self.pos = b'', 0

    def pump(self, seconds):
        end = time.time() + seconds
        while time.time() < end:
            ready, _, _ = select.select([self.fd], [], [], max(0, end - time.time()))
            if not ready:
                return
            try:
                data = os.read(self.fd, 65536)
            except OSError:
                return
            if not data:
                return
            self.raw += data

    def screen(self):
        return DRAWING.sub('', self.raw.decode('utf-8', 'replace'))

    def type(self, keys):
        os.write(self.fd, keys.encode())

    def expect(self, text, seconds=20):
        """Wait until text (literal) shows after what was matched before;
        return how many seconds that took."""
        start = time.time()
        while True:
            at = self.screen().find(text, self.pos)
            if at >= 0:
                self.pos = at + len(text)
                return time.time() - start
            if time.time() - start >= seconds:
                fail('the shell did not show %r within %d s; the screen ends with:\n%s' %
                     (text, seconds, self.screen()[-1500:]))
            self.pump(0.1)

    def prompt(self, path, seconds=20):
        return self.expect('gwcli %s> ' % path, seconds)

    def settle(self):
        """Let the shell draw what it has to, then look only after that."""
        self.pump(0.3)
        self.pos = len(self.screen())

    def finish(self, seconds=20):
        """The shell's exit status once it has ended."""
        end = time.time() + seconds
        while time.time() < end:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                return os.waitstatus_to_exitcode(status)
            self.pump(0.1)
        os.kill(self.pid, 9)
        os.waitpid(self.pid, 0)
        fail('the shell did not end; the screen ends with:\n' + self.screen()[-1500:])
