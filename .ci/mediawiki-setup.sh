#!/usr/bin/env bash
# Installs Debian's MediaWiki 1.39 and PHP 8.2 (CLI + CGI) for the real-MediaWiki tests.
#
# Idempotent: when everything is already installed it checks and exits in well under a second.
# No web-server daemon is installed or started: `mediawiki` depends on `apache2 | httpd`, and an
# empty local package that `Provides: httpd` satisfies it, so apache2 is never pulled in. A
# policy-rc.d that denies service starts is in place during the install as a second guard, and
# the script fails if anything listens on port 80 afterwards. The tests serve each throwaway
# wiki with `php -S` on a loopback port (see tests/mediawiki_harness.py).
#
# Usage: bash .ci/mediawiki-setup.sh      (as root, or with sudo available)
set -euo pipefail

PACKAGES=(php8.2-cgi mediawiki php-cli php-sqlite3 php-intl php-mbstring php-xml)
DUMMY_NAME=scraper-ci-httpd-provider

is_installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

all_installed() {
    local p
    for p in "${PACKAGES[@]}"; do
        is_installed "$p" || return 1
    done
    [ -f /usr/share/mediawiki/maintenance/install.php ] && command -v php >/dev/null
}

if all_installed; then
    echo "mediawiki-setup: MediaWiki and PHP already installed ($(php -r 'echo PHP_VERSION;'))"
    exit 0
fi

SUDO=""
if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
        SUDO="sudo -n"
    else
        echo "mediawiki-setup: need root (or password-less sudo) to install packages" >&2
        exit 1
    fi
fi
if ! command -v apt-get >/dev/null; then
    echo "mediawiki-setup: apt-get not found; this script supports Debian 12 (bookworm) only" >&2
    exit 1
fi

work=$(mktemp -d)
chmod 755 "$work"  # apt reads the local .deb as the _apt user
policy_created=0
cleanup() {
    if [ "$policy_created" = 1 ]; then $SUDO rm -f /usr/sbin/policy-rc.d; fi
    rm -rf "$work"
}
trap cleanup EXIT

# Deny service starts during the install unless a policy is already in place (Docker images
# ship one that exits 101; keep it as it is).
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > "$work/policy-rc.d"
    $SUDO install -m 0755 "$work/policy-rc.d" /usr/sbin/policy-rc.d
    policy_created=1
fi

# An empty package providing `httpd`, so that apt does not choose apache2 for `mediawiki`.
if ! is_installed "$DUMMY_NAME"; then
    mkdir -p "$work/pkg/DEBIAN"
    cat > "$work/pkg/DEBIAN/control" <<EOF
Package: $DUMMY_NAME
Version: 1.0
Section: misc
Priority: optional
Architecture: all
Provides: httpd
Maintainer: scraper CI <ci@localhost>
Description: empty package satisfying httpd for MediaWiki served by php -S in tests
EOF
    dpkg-deb --build --root-owner-group "$work/pkg" "$work/$DUMMY_NAME.deb" >/dev/null
fi

export DEBIAN_FRONTEND=noninteractive
# Another apt run (e.g. a parallel job) may hold the dpkg lock: wait for it instead of failing.
APT=($SUDO apt-get -o DPkg::Lock::Timeout=900 -y -qq)
"${APT[@]}" update
if [ -f "$work/$DUMMY_NAME.deb" ]; then
    "${APT[@]}" install "$work/$DUMMY_NAME.deb" >/dev/null
fi
# php8.2-cgi first: otherwise apt satisfies `php` with the Apache module (libapache2-mod-php).
"${APT[@]}" install --no-install-recommends "${PACKAGES[@]}" >/dev/null

if is_installed apache2 || is_installed apache2-bin; then
    echo "mediawiki-setup: warning: apache2 is installed (it was not started by this script)" >&2
fi
if command -v ss >/dev/null && ss -ltnH 'sport = :80' | grep -q .; then
    echo "mediawiki-setup: something listens on port 80 after the install; refusing" >&2
    ss -ltnp 'sport = :80' >&2 || true
    exit 1
fi
all_installed
echo "mediawiki-setup: installed MediaWiki $(dpkg-query -W -f='${Version}' mediawiki)" \
     "with PHP $(php -r 'echo PHP_VERSION;')"
