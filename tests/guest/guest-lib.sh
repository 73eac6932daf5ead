# Helpers for a script that tests/guest/lib.sh runs inside the guest:
#   . /host/.guest/lib.sh
host_signal() { # NAME [TEXT]: the host's guest_wait_for NAME returns
	printf '%s\n' "${2:-}" >"/host/to-host/.$1" && mv "/host/to-host/.$1" "/host/to-host/$1"
}
host_wait() { # NAME SECONDS: wait for the host's guest_signal NAME; 1 at the deadline
	local deadline=$((SECONDS + $2))
	while [ ! -f "/host/to-guest/$1" ]; do
		[ $SECONDS -lt "$deadline" ] || return 1
		sleep 0.2
	done
	HOST_SIGNAL_TEXT=$(cat "/host/to-guest/$1")
}
gnote() { # MESSAGE: a time-stamped progress line in the output
	echo "[guest $(cut -d' ' -f1 /proc/uptime)] $*"
}
