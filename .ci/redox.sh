#!/usr/bin/env bash
# Compile checks for x86_64-unknown-redox (see docs/redox.md, "What is checked here").
#
#   .ci/redox.sh check      inotifyd and its crates: cargo check, then clippy -D warnings
#   .ci/redox.sh redoxfs    redoxfs 0.9.1 from crates.io + recipes/redoxfs/inotify.patch
#   .ci/redox.sh recipe     recipe.toml's build script, run with the host as the target
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
    local manifest
    manifest=$(cd "$fetch" && "$CARGO_BIN" metadata --format-version 1 \
        | grep -o "\"manifest_path\":\"[^\"]*/redoxfs-$REDOXFS_VERSION/Cargo.toml\"" | head -n1 \
        | sed -e 's/^"manifest_path":"//' -e 's/"$//')
    [ -n "$manifest" ] || { log "redoxfs $REDOXFS_VERSION not found after cargo fetch"; exit 1; }
    dirname "$manifest"
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

# Runs recipe.toml's build script the way the cookbook would, with the host standing in for
# Redox: COOKBOOK_CARGO is cargo with the host target added (the cookbook's redoxer adds
# x86_64-unknown-redox), and the stage must end up with every file the package promises.
# The source is the committed tree (`git archive HEAD`), as the cookbook fetches it, so a
# stale committed Cargo.lock fails here as it would there.
check_recipe() {
    local work=$ROOT/target/recipe
    rm -rf "$work/stage" "$work/script.sh" "$work/source"
    mkdir -p "$work/stage" "$work/build" "$work/source"
    local source=$ROOT
    if git -C "$ROOT" rev-parse --verify -q HEAD >/dev/null 2>&1; then
        git -C "$ROOT" archive HEAD | tar -x -C "$work/source"
        source=$work/source
        log "source: the committed tree ($(git -C "$ROOT" rev-parse --short HEAD))"
    else
        log "source: the working tree (not a git checkout)"
    fi
    # The script is the TOML multi-line string after `script = """`.
    sed -n '/^script = """$/,/^"""$/p' "$source/recipe.toml" | sed '1d;$d' >"$work/script.sh"
    [ -s "$work/script.sh" ] || { log "no build script found in recipe.toml"; exit 1; }
    local host
    host=$(rustc -vV | sed -n 's/^host: //p')
    cat >"$work/cargo" <<'EOF'
#!/usr/bin/env bash
# Stands in for the cookbook's redoxer: cargo with the target added.
sub=$1
shift
exec cargo "$sub" --target "$TARGET" "$@"
EOF
    chmod +x "$work/cargo"
    log "running recipe.toml's script (host target $host)"
    (cd "$work/build" &&
        COOKBOOK_CARGO=$work/cargo COOKBOOK_SOURCE=$source COOKBOOK_STAGE=$work/stage \
            COOKBOOK_BUILD=$work/build TARGET=$host CARGO_TARGET_DIR=$work/build/target \
            bash -euo pipefail "$work/script.sh")
    local f missing=0
    for f in usr/bin/inotifyd usr/bin/inotifywait usr/bin/inotifywatch usr/bin/inotify-smoke \
        usr/lib/libinotify_capi.a usr/include/sys/inotify.h \
        usr/lib/init.d/05_inotifyd.service; do
        if [ ! -s "$work/stage/$f" ]; then
            log "missing from the stage: /$f"
            missing=1
        fi
    done
    [ "$missing" = 0 ] || exit 1
    log "check-recipe: OK ($(cd "$work/stage" && find . -type f | wc -l) files staged)"
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
redoxfs-tree) prepare_redoxfs ;;
redoxfs-diff) diff_redoxfs ;;
*)
    echo "usage: $0 check|redoxfs|recipe|redoxfs-tree|redoxfs-diff" >&2
    exit 2
    ;;
esac
