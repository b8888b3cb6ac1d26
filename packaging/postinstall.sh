#!/bin/sh
# scandrop postinstall, for the .deb (configure [OLD-VERSION]) and the .rpm
# (1 = install, 2 = upgrade). Creates the scandrop system user and the empty
# root-only secrets file; enables the unit on a first install but does not
# start it: it starts once /etc/scandrop/env holds the secrets.
set -e

first=no
case "$1" in
configure) [ -z "$2" ] && first=yes ;;
1) first=yes ;;
2) ;;
*) exit 0 ;;
esac

if ! getent passwd scandrop >/dev/null 2>&1; then
	nologin=/usr/sbin/nologin
	[ -x "$nologin" ] || nologin=/sbin/nologin
	if command -v useradd >/dev/null 2>&1; then
		getent group scandrop >/dev/null 2>&1 || groupadd --system scandrop
		useradd --system --gid scandrop --home-dir /var/lib/scandrop --no-create-home \
			--shell "$nologin" --comment "scandrop daemon" scandrop
	else
		addgroup --system scandrop >/dev/null
		adduser --system --ingroup scandrop --home /var/lib/scandrop --no-create-home \
			--shell "$nologin" --gecos "scandrop daemon" scandrop >/dev/null
	fi
fi

install -d -m 0750 -o scandrop -g scandrop /var/lib/scandrop
install -d -m 0755 /etc/scandrop
if [ ! -e /etc/scandrop/env ]; then
	# Root-only: systemd reads it before dropping to the scandrop user, so
	# the daemon never needs to read, or gets to rewrite, its own secrets.
	install -m 0600 -o root -g root /dev/null /etc/scandrop/env
fi

if command -v systemctl >/dev/null 2>&1; then
	if [ -d /run/systemd/system ]; then
		systemctl daemon-reload || true
	fi
	if [ "$first" = yes ]; then
		systemctl enable scandrop.service || true
		echo "scandrop: edit /etc/scandrop/config.yaml, put the secrets in /etc/scandrop/env, then: systemctl start scandrop"
	elif [ -d /run/systemd/system ]; then
		systemctl try-restart scandrop.service || true
	fi
fi
exit 0
