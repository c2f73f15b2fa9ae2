#!/usr/bin/env bash
# Compile checks for x86_64-unknown-redox (see docs/redox.md, "What is checked here").
#
#   .ci/redox.sh check      inotifyd and its crates: cargo check, then clippy -D warnings
#   .ci/redox.sh redoxfs    redoxfs 0.9.1 from crates.io + recipes/redoxfs/inotify.patch
#   .ci/redox.sh recipe     recipe.toml's build script in the cookbook's environment (host target)
#   .ci/redox.sh clients    notify and inotify from crates.io + patches/*.patch, checked for Redox
#   .ci/redox.sh redoxfs-tree   only prepares target/redoxfs/{orig,patched} (to edit the patch)
#   .ci/redox.sh redoxfs-diff   writes recipes/redoxfs/inotify.patch from those two trees
#
# Linking Redox executables needs relibc's libc.a, which no package registry ships, so
# `check` (type checking, borrow checking, lints) is as far as a build goes here.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TARGET=x86_64-unknown-redox
# std is built from source (-Z build-std) with Debian's rustc and its std sources.
REDOX_RUSTC=/usr/bin/rustc
REDOX_CLIPPY_DRIVER=/usr/bin/clippy-driver
# One target dir for both checks: std and shared dependencies are built once.
REDOX_TARGET_DIR=${REDOX_TARGET_DIR:-$ROOT/target/redox}
# Every workspace crate runs on Redox except the host rig (the in-process kernel, HostFs,
# the demo) and the host tools that drive the Linux kernel's inotify as the oracle.
HOST_ONLY_PACKAGES=(inotify-bench inotify-conformance inotify-host)
# Checked on their own: the C library is no_std on Redox with its own panic handler, and a
# workspace-wide build unifies features that bring std into its dependencies (redox-scheme
# turns on redox_syscall's std), which would make two panic handlers.
STANDALONE_PACKAGES=(inotify-capi)
REDOXFS_VERSION=0.9.1
REDOXFS_WORK=$ROOT/target/redoxfs
INOTIFYD_GIT=https://gitlab.redox-os.org/redox-os/inotifyd.git
# The Rust crates programs use for inotify (inotify first, then notify), each patched with
# patches/<name>-<version>.patch.
CLIENT_CRATES=(inotify-0.11.5 notify-8.2.2)
CLIENTS_WORK=$ROOT/target/clients

log() { printf 'redox: %s\n' "$*" >&2; }

# Runs a command as root (CI and these machines run as root; sudo elsewhere).
as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# Installs Debian's rustc (the one whose std sources we build for Redox) and clippy, if
# missing. One `apt-get update`, only when something is missing.
ensure_debian_rust() {
    local missing=()
    [ -x "$REDOX_RUSTC" ] || missing+=(rustc-web)
    if [ -x "$REDOX_RUSTC" ]; then
        local sysroot
        sysroot=$("$REDOX_RUSTC" --print sysroot)
        [ -d "$sysroot/lib/rustlib/src/rust/library/std" ] || missing+=(rust-web-src)
    else
        missing+=(rust-web-src)
    fi
    [ -x "$REDOX_CLIPPY_DRIVER" ] || missing+=(rust-web-clippy)
    if [ ${#missing[@]} -gt 0 ]; then
        log "installing ${missing[*]}"
        as_root apt-get update
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
    fi
}

# Sets CARGO_BIN: rustup's nightly cargo (REDOX.md "Toolchains"), installing it with rustup
# if it is missing; Debian's cargo as the last resort (RUSTC_BOOTSTRAP=1 lets it take -Z).
ensure_cargo() {
    # REDOX_CARGO=/path/to/cargo overrides the choice (e.g. /usr/bin/cargo).
    if [ -n "${REDOX_CARGO:-}" ]; then
        CARGO_BIN=$REDOX_CARGO
        return
    fi
    if command -v rustup >/dev/null 2>&1; then
        if ! rustup toolchain list | grep -q '^nightly'; then
            log "installing the nightly toolchain with rustup"
            rustup toolchain install nightly --profile minimal || true
        fi
        if rustup toolchain list | grep -q '^nightly'; then
            CARGO_BIN=$(rustup which --toolchain nightly cargo)
            return
        fi
    fi
    log "no nightly toolchain: using Debian's cargo"
    CARGO_BIN=/usr/bin/cargo
}

setup() {
    ensure_debian_rust
    ensure_cargo
    export RUSTC=$REDOX_RUSTC RUSTC_BOOTSTRAP=1 CARGO_TARGET_DIR=$REDOX_TARGET_DIR
    log "rustc: $("$RUSTC" --version); cargo: $("$CARGO_BIN" --version)"
}

build_std=(-Z build-std=std,panic_abort --target "$TARGET")

check_inotifyd() {
    setup
    local pkgs=(--workspace)
    for p in "${HOST_ONLY_PACKAGES[@]}" "${STANDALONE_PACKAGES[@]}"; do
        pkgs+=(--exclude "$p")
    done
    cd "$ROOT"
    log "cargo check, the workspace without ${HOST_ONLY_PACKAGES[*]} ${STANDALONE_PACKAGES[*]} (--lib --bins --examples)"
    "$CARGO_BIN" check "${build_std[@]}" "${pkgs[@]}" --lib --bins --examples
    # cargo-clippy runs `$CARGO check` with clippy-driver as the workspace wrapper; Debian's
    # clippy-driver matches Debian's rustc, so std built by the check above is reused.
    log "cargo clippy, the same crates, -D warnings"
    CARGO=$CARGO_BIN /usr/bin/cargo-clippy clippy "${build_std[@]}" "${pkgs[@]}" --lib --bins \
        --examples -- -D warnings
    local p
    for p in "${STANDALONE_PACKAGES[@]}"; do
        log "cargo check and clippy -D warnings, $p on its own"
        "$CARGO_BIN" check "${build_std[@]}" -p "$p" --lib
        CARGO=$CARGO_BIN /usr/bin/cargo-clippy clippy "${build_std[@]}" -p "$p" --lib -- -D warnings
    done
    log "check-redox: OK"
}

# Prints the directory of the redoxfs crate fetched from crates.io.
fetch_redoxfs() {
    local fetch=$REDOXFS_WORK/fetch
    mkdir -p "$fetch/src"
    cat >"$fetch/Cargo.toml" <<EOF
[package]
name = "redoxfs-fetch"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
redoxfs = "=$REDOXFS_VERSION"

[workspace]
EOF
    : >"$fetch/src/lib.rs"
    (cd "$fetch" && "$CARGO_BIN" fetch -q)
    crate_dir "$fetch" "redoxfs-$REDOXFS_VERSION"
}

# Copies redoxfs into $1 laid out like its git tree (the published Cargo.toml.orig is the
# repository's Cargo.toml), which is what the cookbook patches.
copy_redoxfs() {
    local src=$1 dst=$2
    rm -rf "$dst"
    mkdir -p "$dst"
    cp -r "$src/." "$dst/"
    cp "$src/Cargo.toml.orig" "$dst/Cargo.toml"
    rm -f "$dst/Cargo.toml.orig" "$dst/.cargo_vcs_info.json" "$dst/.cargo-ok"
}

prepare_redoxfs() {
    setup
    local src
    src=$(fetch_redoxfs)
    log "redoxfs $REDOXFS_VERSION from $src"
    copy_redoxfs "$src" "$REDOXFS_WORK/orig"
    copy_redoxfs "$src" "$REDOXFS_WORK/patched"
    command -v patch >/dev/null 2>&1 || as_root apt-get install -y patch
    log "applying recipes/redoxfs/inotify.patch"
    patch -d "$REDOXFS_WORK/patched" -p1 --forward --fuzz=0 --no-backup-if-mismatch \
        <"$ROOT/recipes/redoxfs/inotify.patch"
}

check_redoxfs() {
    prepare_redoxfs
    local build=$REDOXFS_WORK/build
    rm -rf "$build"
    cp -r "$REDOXFS_WORK/patched" "$build"
    # The recipe takes inotify-abi and inotify-feed from this project's git repository; here
    # they come from this checkout (cargo's [patch] would still clone the repository), and
    # the build is its own workspace.
    local dep from to
    for dep in abi feed; do
        from="inotify-$dep = { git = \"$INOTIFYD_GIT\" }"
        to="inotify-$dep = { path = \"$ROOT/$dep\" }"
        grep -qxF "$from" "$build/Cargo.toml" || {
            log "'$from' not found in the patched Cargo.toml"
            exit 1
        }
        sed -i "s|^$from\$|$to|" "$build/Cargo.toml"
    done
    printf '\n[workspace]\n' >>"$build/Cargo.toml"
    cd "$build"
    log "cargo check redoxfs + inotify patch (--lib --bins)"
    local out=$REDOXFS_WORK/check.log
    "$CARGO_BIN" check "${build_std[@]}" --lib --bins --message-format short 2>&1 | tee "$out"
    # redoxfs 0.9.1 itself checks without warnings, so any warning comes from the patch.
    if grep -E '^src/[^ ]+: warning' "$out"; then
        log "check-redoxfs: the patched redoxfs has warnings"
        exit 1
    fi
    log "check-redoxfs: OK"
}

# Runs recipe.toml's build script as the Redox cookbook runs a custom script, with the host
# standing in for Redox (docs/redox.md, "The cookbook's environment"): `cookbook_redoxer env
# bash -e` in ${COOKBOOK_BUILD}, fed the cookbook's prelude, the script and its postlude on
# standard input, with the variables cook_build.rs sets. .ci/cookbook/ mirrors the prelude
# (install_flags, cookbook_cargo, ...), the postlude (strip, drop cargo's records) and
# cookbook_redoxer (cargo with --target, the compiler variables). The stage must end up with
# every file the package promises. The source is the committed tree (`git archive HEAD`), as
# the cookbook fetches it, so a stale committed Cargo.lock fails here as it would there.
# RECIPE=path checks another recipe file (e.g. an older one).
check_recipe() {
    local work=$ROOT/target/recipe
    local recipe=${RECIPE:-}
    rm -rf "$work/stage.tmp" "$work/script.sh" "$work/source" "$work/build"
    mkdir -p "$work/stage.tmp" "$work/build" "$work/source" "$work/sysroot" "$work/recipe/inotifyd"
    local source=$ROOT ident=local
    if git -C "$ROOT" rev-parse --verify -q HEAD >/dev/null 2>&1; then
        git -C "$ROOT" archive HEAD | tar -x -C "$work/source"
        source=$work/source
        ident=$(git -C "$ROOT" rev-parse HEAD)
        log "source: the committed tree (${ident:0:7})"
    else
        log "source: the working tree (not a git checkout)"
    fi
    recipe=${recipe:-$source/recipe.toml}
    cp "$recipe" "$work/recipe/inotifyd/recipe.toml"
    # The script is the TOML multi-line string after `script = """`.
    sed -n '/^script = """$/,/^"""$/p' "$recipe" | sed '1d;$d' >"$work/script.sh"
    [ -s "$work/script.sh" ] || { log "no build script found in $recipe"; exit 1; }
    local host
    host=$(rustc -vV | sed -n 's/^host: //p')
    log "running $recipe's script as the cookbook does (host target $host)"
    mkdir -p "$work/cookbook/bin"
    log "output in $work/build.log"
    cat "$ROOT/.ci/cookbook/prelude.sh" "$work/script.sh" "$ROOT/.ci/cookbook/postlude.sh" \
        >"$work/full-script.sh"
    (cd "$work/build" &&
        env -u COOKBOOK_DEBUG -u COOKBOOK_OFFLINE -u COOKBOOK_VERBOSE -u COOKBOOK_NOSTRIP \
            -u COOKBOOK_TOOLCHAIN -u CARGO_TARGET_DIR \
            COOKBOOK_REDOXER="$ROOT/.ci/cookbook/cookbook_redoxer" \
            TARGET="$host" \
            COOKBOOK_BUILD="$work/build" \
            COOKBOOK_NAME=inotifyd \
            COOKBOOK_HOST_TARGET="$host" \
            COOKBOOK_RECIPE="$work/recipe/inotifyd" \
            COOKBOOK_ROOT="$work/cookbook" \
            COOKBOOK_STAGE="$work/stage.tmp" \
            COOKBOOK_SOURCE="$source" \
            COOKBOOK_SYSROOT="$work/sysroot" \
            COOKBOOK_MAKE_JOBS="$(nproc)" \
            COOKBOOK_SOURCE_IDENT="git:$ident" \
            COOKBOOK_COMMIT_IDENT="$ident" \
            "$ROOT/.ci/cookbook/cookbook_redoxer" env bash -e <"$work/full-script.sh" \
            >"$work/build.log" 2>&1) || {
        tail -n 40 "$work/build.log" >&2
        log "check-recipe: the script failed (whole output: $work/build.log)"
        exit 1
    }
    local f missing=0
    for f in usr/bin/inotifyd usr/bin/inotifywait usr/bin/inotifywatch usr/bin/inotify-smoke \
        usr/lib/libinotify_capi.a usr/include/sys/inotify.h \
        usr/lib/init.d/05_inotifyd.service \
        usr/bin/inotify-interposer usr/share/inotifyd/inotify-interposer.service; do
        if [ ! -s "$work/stage.tmp/$f" ]; then
            log "missing from the stage: /$f"
            missing=1
        fi
    done
    [ "$missing" = 0 ] || exit 1
    check_interposer_not_enabled "$work/stage.tmp"
    log "check-recipe: OK ($(cd "$work/stage.tmp" && find . -type f | wc -l) files staged)"
}

# The package must not start the interposer: init (base, init/src/main.rs) starts every unit
# file in /usr/lib/init.d and /etc/init.d, and with the patched redoxfs the interposer in
# front of it would only add a forward per request. Its unit is shipped elsewhere and
# enabled by copying it (docs/redox.md). $1: the stage.
check_interposer_not_enabled() {
    local dir unit
    for dir in "$1/usr/lib/init.d" "$1/etc/init.d"; do
        [ -d "$dir" ] || continue
        for unit in "$dir"/*; do
            if grep -q 'inotify-interposer' "$unit"; then
                log "check-recipe: $unit starts the interposer by default"
                exit 1
            fi
        done
    done
}

# Prints the directory cargo fetched crate $2 (name-version) into, for the manifest dir $1.
crate_dir() {
    local manifest
    manifest=$(cd "$1" && "$CARGO_BIN" metadata --format-version 1 \
        | grep -o "\"manifest_path\":\"[^\"]*/$2/Cargo.toml\"" | head -n1 \
        | sed -e 's/^"manifest_path":"//' -e 's/"$//')
    [ -n "$manifest" ] || { log "$2 not found after cargo fetch"; exit 1; }
    dirname "$manifest"
}

# notify and inotify as published on crates.io, patched with patches/<crate>.patch (patch
# --fuzz=0), compile-checked for Redox through a crate that uses notify's inotify backend and
# inotify's tokio stream, and asserts at compile time that notify::RecommendedWatcher is
# notify::INotifyWatcher (docs/clients.md, "Rust programs"). CLIENTS_UNPATCHED=1 skips the
# patches, to see what they fix.
check_clients() {
    setup
    local fetch=$CLIENTS_WORK/fetch check=$CLIENTS_WORK/check crate name
    rm -rf "$CLIENTS_WORK/patched" "$check"
    mkdir -p "$fetch/src" "$check/src" "$CLIENTS_WORK/patched"
    {
        printf '[package]\nname = "clients-fetch"\nversion = "0.0.0"\nedition = "2021"\n'
        printf 'publish = false\n\n[dependencies]\n'
        for crate in "${CLIENT_CRATES[@]}"; do
            printf '%s = "=%s"\n' "${crate%-*}" "${crate##*-}"
        done
        printf '\n[workspace]\n'
    } >"$fetch/Cargo.toml"
    : >"$fetch/src/lib.rs"
    (cd "$fetch" && "$CARGO_BIN" fetch -q)
    command -v patch >/dev/null 2>&1 || as_root apt-get install -y patch
    local patch_section=""
    for crate in "${CLIENT_CRATES[@]}"; do
        name=${crate%-*}
        cp -r "$(crate_dir "$fetch" "$crate")" "$CLIENTS_WORK/patched/$crate"
        if [ -n "${CLIENTS_UNPATCHED:-}" ]; then
            log "$crate from crates.io, unpatched"
        else
            log "$crate from crates.io + patches/$crate.patch"
            patch -d "$CLIENTS_WORK/patched/$crate" -p1 --forward --fuzz=0 \
                --no-backup-if-mismatch <"$ROOT/patches/$crate.patch"
        fi
        patch_section+="$name = { path = \"$CLIENTS_WORK/patched/$crate\" }"$'\n'
    done
    cat >"$check/Cargo.toml" <<EOF
[package]
name = "clients-check"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
notify = "=${CLIENT_CRATES[1]##*-}"
inotify = { version = "=${CLIENT_CRATES[0]##*-}", features = ["stream"] }

[patch.crates-io]
$patch_section
[workspace]
EOF
    cat >"$check/src/lib.rs" <<'EOF'
//! Uses of notify and inotify that must type-check for the target.

/// notify's recommended watcher is its inotify backend.
const _: fn() = || {
    let _: fn(notify::RecommendedWatcher) -> notify::INotifyWatcher = |w| w;
};

/// notify's recommended watcher, as a program makes it.
pub fn watcher() -> notify::Result<notify::RecommendedWatcher> {
    notify::recommended_watcher(|_event: notify::Result<notify::Event>| {})
}

/// inotify's tokio stream (the `stream` feature).
pub fn stream() -> std::io::Result<inotify::EventStream<Vec<u8>>> {
    inotify::Inotify::init()?.into_event_stream(vec![0; 4096])
}
EOF
    # Cargo caps the lints of crates.io dependencies, but not of path dependencies, and
    # inotify has #![deny(warnings)]: its use of AsyncFd::with_interest, deprecated since
    # tokio 1.51.6/1.53.3, would fail the build. The patched crates get --cap-lints warn.
    cat >"$CLIENTS_WORK/rustc-cap-lints" <<'EOF'
#!/bin/sh
# RUSTC_WRAPPER: --cap-lints warn for the patched crates (see check_clients in .ci/redox.sh).
rustc=$1
shift
case " $* " in
*" --crate-name inotify "* | *" --crate-name notify "*) exec "$rustc" "$@" --cap-lints warn ;;
esac
exec "$rustc" "$@"
EOF
    chmod +x "$CLIENTS_WORK/rustc-cap-lints"
    cd "$check"
    log "cargo check: notify (inotify backend) and inotify (stream) for $TARGET"
    local out=$CLIENTS_WORK/check.log status=0
    RUSTC_WRAPPER=$CLIENTS_WORK/rustc-cap-lints \
        "$CARGO_BIN" check "${build_std[@]}" --message-format short >"$out" 2>&1 || status=$?
    grep -v '^ *Compiling \|^ *Checking ' "$out" >&2 || true
    [ "$status" = 0 ] || { log "check-clients: FAILED (whole output: $out)"; exit 1; }
    # No diagnostic may point into a file the patches change.
    local file touched=0
    for crate in "${CLIENT_CRATES[@]}"; do
        for file in $(sed -n 's|^+++ b/\([^[:space:]]*\).*|\1|p' "$ROOT/patches/$crate.patch"); do
            if grep -F "patched/$crate/$file:" "$out" >&2; then
                touched=1
            fi
        done
    done
    [ "$touched" = 0 ] || { log "check-clients: diagnostics in patched files"; exit 1; }
    log "check-clients: OK ($(grep -oE 'Checking (notify|inotify) v[0-9.]+' "$out" \
        | sed 's/Checking //' | sort | paste -sd ' ' -) for $TARGET; RecommendedWatcher = INotifyWatcher)"
}

# Writes the patch from target/redoxfs/{orig,patched} (after editing the patched tree).
diff_redoxfs() {
    cd "$REDOXFS_WORK"
    [ -d orig ] && [ -d patched ] || { log "run '$0 redoxfs-tree' first"; exit 1; }
    rm -rf a b
    cp -r orig a
    cp -r patched b
    rm -f a/Cargo.lock b/Cargo.lock
    # Unified diff, no timestamps, paths a/... b/...
    diff -ruN a b | sed -E 's/^(---|\+\+\+) ([^\t]+)\t.*/\1 \2/' \
        >"$ROOT/recipes/redoxfs/inotify.patch" || true
    rm -rf a b
    log "wrote recipes/redoxfs/inotify.patch"
}

case "${1:-}" in
check) check_inotifyd ;;
redoxfs) check_redoxfs ;;
recipe) check_recipe ;;
clients) check_clients ;;
redoxfs-tree) prepare_redoxfs ;;
redoxfs-diff) diff_redoxfs ;;
*)
    echo "usage: $0 check|redoxfs|recipe|clients|redoxfs-tree|redoxfs-diff" >&2
    exit 2
    ;;
esac
