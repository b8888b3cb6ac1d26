#!/bin/sh
# scandrop postremove. Purge (.deb: purge; .rpm: 0 = erase, rpm's only
# removal) deletes what the package created: the scandrop user and group,
# /var/lib/scandrop, and /etc/scandrop/env. /etc/scandrop goes if it is then
# empty: dpkg removes the conffile config.yaml on purge; rpm keeps a changed
# one as config.yaml.rpmsave. On rpm, secrets the operator wrote (a
# non-empty env) are kept like that, as env.rpmsave.
set -e
case "$1" in
purge) rm -f /etc/scandrop/env ;;
0)
	if [ -s /etc/scandrop/env ]; then
		mv -f /etc/scandrop/env /etc/scandrop/env.rpmsave
	else
		rm -f /etc/scandrop/env
	fi
	;;
*) exit 0 ;;
esac
rm -rf /var/lib/scandrop
rmdir /etc/scandrop 2>/dev/null || true
if getent passwd scandrop >/dev/null 2>&1; then
	userdel scandrop 2>/dev/null || deluser --system scandrop >/dev/null 2>&1 || true
fi
if getent group scandrop >/dev/null 2>&1; then
	groupdel scandrop 2>/dev/null || delgroup --system scandrop >/dev/null 2>&1 || true
fi
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
	systemctl daemon-reload || true
fi
exit 0
