#!/bin/sh
# Installs, upgrades and purges a scandrop .deb in a throwaway root: an
# overlay over this machine's / in a private mount namespace (run it under
# `unshare --mount --propagation private`), so that nothing it does reaches
# the machine. Prints "ok: ..." per check; exits non-zero at the first failure.
#   deb-roundtrip.sh SCANDROP.deb WORKDIR
set -eu
deb=$1 w=$2
fail() { echo "FAIL: $*"; exit 1; }
ok() { echo "ok: $*"; }

mount -t tmpfs tmpfs "$w"
mkdir "$w/upper" "$w/work" "$w/root"
mount -t overlay overlay -o "lowerdir=/,upperdir=$w/upper,workdir=$w/work" "$w/root"
mount --bind /proc "$w/root/proc"
mount --bind /dev "$w/root/dev"
# No systemd runs in the throwaway root: the scripts must not need one.
mount -t tmpfs tmpfs "$w/root/run"
cp "$deb" "$w/root/tmp/scandrop.deb"
inroot() { chroot "$w/root" "$@"; }

! inroot getent passwd scandrop >/dev/null || fail "a scandrop user exists before the install"
inroot dpkg -i /tmp/scandrop.deb >"$w/install.log" 2>&1 || { cat "$w/install.log"; fail "dpkg -i"; }
ok "dpkg -i"
grep -q 'systemctl start scandrop' "$w/install.log" || fail "postinst did not say how to start it"
pw=$(inroot getent passwd scandrop) || fail "no scandrop user after install"
case $pw in *:/var/lib/scandrop:*nologin) ok "system user: $pw" ;; *) fail "scandrop user: $pw" ;; esac
uid=$(echo "$pw" | cut -d: -f3)
[ "$uid" -lt 1000 ] || fail "scandrop uid $uid is not a system uid"
[ "$(inroot stat -c '%a %U %G %s' /etc/scandrop/env)" = "600 root root 0" ] || fail "/etc/scandrop/env: $(inroot stat -c '%a %U %G %s' /etc/scandrop/env)"
ok "/etc/scandrop/env 600 root:root, empty (the unit's ConditionFileNotEmpty holds it back)"
[ "$(inroot stat -c '%a %U' /var/lib/scandrop)" = "750 scandrop" ] || fail "/var/lib/scandrop: $(inroot stat -c '%a %U' /var/lib/scandrop)"
ok "/var/lib/scandrop 750 scandrop"
[ "$(inroot stat -c '%a %U' /usr/bin/scandrop)" = "755 root" ] || fail "/usr/bin/scandrop: $(inroot stat -c '%a %U' /usr/bin/scandrop)"
inroot /usr/bin/scandrop version | grep -q '^scandrop ' || fail "installed scandrop version"
ok "/usr/bin/scandrop runs: $(inroot /usr/bin/scandrop version)"
if inroot sh -c 'command -v systemctl' >/dev/null; then
	[ -L "$w/root/etc/systemd/system/multi-user.target.wants/scandrop.service" ] || fail "the unit is not enabled"
	ok "enabled: $(readlink "$w/root/etc/systemd/system/multi-user.target.wants/scandrop.service")"
else
	echo "skip: enabled check: no systemctl in this root"
fi
inroot dpkg-query -W -f='${Conffiles}\n' scandrop | grep -q '/etc/scandrop/config.yaml' || fail "config.yaml is not a conffile"
ok "conffile /etc/scandrop/config.yaml"

# An upgrade keeps the operator's config and secrets, and does not enable again.
echo "# edited by the operator" >>"$w/root/etc/scandrop/config.yaml"
echo "REALSEE_APP_SECRET=x" >"$w/root/etc/scandrop/env"
rm -f "$w/root/etc/systemd/system/multi-user.target.wants/scandrop.service" # the operator disabled it
inroot dpkg -i /tmp/scandrop.deb >"$w/upgrade.log" 2>&1 || { cat "$w/upgrade.log"; fail "dpkg -i (again)"; }
tail -n1 "$w/root/etc/scandrop/config.yaml" | grep -q 'edited by the operator' || fail "the reinstall replaced the edited config.yaml"
grep -q REALSEE_APP_SECRET "$w/root/etc/scandrop/env" || fail "the reinstall replaced the secrets"
[ ! -e "$w/root/etc/systemd/system/multi-user.target.wants/scandrop.service" ] || fail "the reinstall enabled a unit the operator had disabled"
ok "reinstall keeps the edited config.yaml, the secrets, and a disabled unit disabled"

inroot dpkg --purge scandrop >"$w/purge.log" 2>&1 || { cat "$w/purge.log"; fail "dpkg --purge"; }
! inroot getent passwd scandrop >/dev/null || fail "the scandrop user survived the purge"
! inroot getent group scandrop >/dev/null || fail "the scandrop group survived the purge"
for p in /etc/scandrop /var/lib/scandrop /usr/bin/scandrop /usr/lib/systemd/system/scandrop.service /etc/systemd/system/multi-user.target.wants/scandrop.service; do
	[ ! -e "$w/root$p" ] && [ ! -L "$w/root$p" ] || fail "$p survived the purge"
done
ok "purge removed the user, the group, /etc/scandrop, /var/lib/scandrop, the binary and the unit"
