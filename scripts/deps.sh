# Installs what touchpoint needs on Debian/Ubuntu when it is missing.
# Sourced by scripts/run.sh and scripts/test.sh.

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

apt_updated=
apt_install() {
    if [ -z "$apt_updated" ]; then
        as_root apt-get update -qq
        apt_updated=1
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

have_clickhouse() {
    command -v clickhouse-server >/dev/null || command -v clickhouse >/dev/null ||
        [ -x /usr/sbin/clickhouse-server ] || [ -x /usr/bin/clickhouse ]
}

ensure_cargo() {
    command -v cargo >/dev/null && return
    echo "cargo is missing: install Rust from https://rustup.rs and run this again" >&2
    exit 1
}

ensure_clickhouse() {
    have_clickhouse && return
    echo "installing clickhouse-server (Debian package)..." >&2
    apt_install clickhouse-server
}

# A PyPI package for the tests, by its module and package names, when missing.
ensure_pypi() {
    command -v python3 >/dev/null || apt_install python3 python3-pip
    python3 -c "import $1" 2>/dev/null && return
    echo "installing $2 (PyPI)..." >&2
    python3 -m pip install -q "$2" 2>/dev/null ||
        python3 -m pip install -q --break-system-packages "$2"
}

# chdb: a current ClickHouse release in-process, to check migrations in the
# production dialect (the Debian server is 18.16).
ensure_chdb() { ensure_pypi chdb chdb-core; }

# PyPI's holidays: tests/it/calendar.rs checks the shipped production calendar against it.
ensure_holidays() { ensure_pypi holidays holidays; }

# PyPI's aiosmtpd: the real SMTP server the notification tests send letters to.
ensure_aiosmtpd() { ensure_pypi aiosmtpd aiosmtpd; }

# The widget's browser tests: Debian's Chromium and its driver (never a browser
# downloaded at run time).
ensure_chromium() {
    command -v chromedriver >/dev/null && [ -x /usr/bin/chromium ] && return
    echo "installing chromium and chromium-driver (Debian packages)..." >&2
    apt_install chromium chromium-driver
}

# axe-core, the accessibility checker the browser tests inject into pages.
AXE_VERSION=4.10.3
ensure_axe() {
    local dir=target/axe-core
    [ -f "$dir/package/axe.min.js" ] && grep -q "axe v$AXE_VERSION" "$dir/package/axe.min.js" && return
    command -v npm >/dev/null || apt_install npm
    echo "fetching axe-core $AXE_VERSION (npm registry)..." >&2
    rm -rf "$dir" && mkdir -p "$dir"
    (cd "$dir" && npm pack --silent "axe-core@$AXE_VERSION" >/dev/null && tar xzf "axe-core-$AXE_VERSION.tgz")
}

# ZooKeeper (Debian package, Java): the replicated cluster of tests/it/cluster.
ensure_zookeeper() {
    [ -f /usr/share/java/zookeeper.jar ] && command -v java >/dev/null && return
    echo "installing zookeeper (Debian package)..." >&2
    apt_install zookeeper
}

# poppler-utils' pdftotext: an independent reader of the report's PDF in
# tests/it/recommendations.rs (Debian package).
ensure_poppler() {
    command -v pdftotext >/dev/null && return
    echo "installing poppler-utils (Debian package)..." >&2
    apt_install poppler-utils
}

# wrk: the lean load generator of the capture benchmark (Debian package).
ensure_wrk() {
    command -v wrk >/dev/null && return
    echo "installing wrk (Debian package)..." >&2
    apt_install wrk
}

# esbuild: minifies the widget (scripts/build-widget.sh); the tests check the
# served scripts against its output (Debian package).
ensure_esbuild() {
    command -v esbuild >/dev/null && return
    echo "installing esbuild (Debian package)..." >&2
    apt_install esbuild
}
