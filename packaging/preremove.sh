#!/bin/sh
# scandrop preremove: stop and disable the unit when the package goes away
# (.deb: remove; .rpm: 0 = erase), not on upgrade.
set -e
case "$1" in
remove | 0)
	if command -v systemctl >/dev/null 2>&1; then
		if [ -d /run/systemd/system ]; then
			systemctl stop scandrop.service || true
		fi
		systemctl disable scandrop.service || true
	fi
	;;
esac
exit 0
