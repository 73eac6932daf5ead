#!/bin/bash
# 28-kill-verified.sh with the two logged LUs on rbd images of the
# throw-away Ceph cluster (tests/ceph/lib.sh; skipped without Ceph).
TEST_NAME=28-kill-verified-rbd SANGW_KILL_BACKING=rbd exec "$(dirname "$0")/28-kill-verified.sh"
