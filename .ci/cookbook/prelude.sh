# What the Redox cookbook defines before a recipe's build script, mirrored for
# `.ci/redox.sh recipe` (see docs/redox.md, "The cookbook's environment"). Source read: the
# redox repository at 81bc5bf19a6d2a8fb5c36ee972b2fec2b8a7af38 (2026-08-21),
# src/cook/script.rs (BUILD_PRESCRIPT, SHARED_PRESCRIPT) and src/cook/cook_build.rs.
#
# The cookbook feeds `bash -e` this prelude, the recipe's script and the postlude on standard
# input, in ${COOKBOOK_BUILD}. Variables and functions keep the cookbook's names and effects;
# the Cargo helpers are mirrored in full, the C build helpers (configure, cmake, meson,
# python) stop with an error, since no recipe checked here uses them.

# --- search paths and build directories
export PATH="${COOKBOOK_ROOT}/bin:${PATH}"
if [ -n "${COOKBOOK_TOOLCHAIN}" ]; then
    export PATH="${COOKBOOK_TOOLCHAIN}/bin:${PATH}"
    export LD_LIBRARY_PATH="${COOKBOOK_TOOLCHAIN}/lib:${LD_LIBRARY_PATH}"
fi
export CARGO_TARGET_DIR="${COOKBOOK_BUILD}/target"

# --- C flags: the sysroot's headers and static libraries
export CPPFLAGS="${CPPFLAGS:+$CPPFLAGS }-I${COOKBOOK_SYSROOT}/include"
USER_LDFLAGS="${LDFLAGS:+$LDFLAGS }"
export LDFLAGS="${USER_LDFLAGS}-L${COOKBOOK_SYSROOT}/lib --static"

# Copies the C flags into the per-target names the cc crate reads.
# Like the cookbook's, it leaves `target` set (the target with `_` for `-`).
reexport_flags() {
    target=${TARGET//-/_}
    export "CFLAGS_${target}=${CFLAGS:+$CFLAGS }${CPPFLAGS}"
    export "CXXFLAGS_${target}=${CXXFLAGS:+$CXXFLAGS }${CPPFLAGS}"
    export "LDFLAGS_${target}=${LDFLAGS}"
}

if [ "${TARGET}" != "${COOKBOOK_HOST_TARGET}" ]; then
    export PKG_CONFIG_ALLOW_CROSS=1
    export PKG_CONFIG_PATH=
    export PKG_CONFIG_LIBDIR="${COOKBOOK_SYSROOT}/lib/pkgconfig"
    export PKG_CONFIG_SYSROOT_DIR="${COOKBOOK_SYSROOT}"
fi

# --- Cargo: release builds, untracked installs (COOKBOOK_DEBUG, COOKBOOK_OFFLINE adjust them)
build_type=release
install_flags=--no-track
build_flags=--release
if [ -n "${COOKBOOK_DEBUG}" ]; then
    install_flags+=" --debug"
    build_flags=
    build_type=debug
    export CPPFLAGS="${CPPFLAGS} -g"
fi
if [ -n "${COOKBOOK_OFFLINE}" ]; then
    build_flags+=" --offline"
    install_flags+=" --offline"
fi

reexport_flags

COOKBOOK_CARGO="${COOKBOOK_REDOXER}"
COOKBOOK_CARGO_FLAGS=(--locked)

# `cargo install` of the crate at ${COOKBOOK_SOURCE}[/${COOKBOOK_CARGO_PATH}] into
# ${COOKBOOK_STAGE}/usr, with install_flags, COOKBOOK_CARGO_FLAGS and the arguments.
# shellcheck disable=SC2086 # install_flags is split on purpose, as in the cookbook
cookbook_cargo() {
    "${COOKBOOK_CARGO}" install \
        --path "${COOKBOOK_SOURCE}${COOKBOOK_CARGO_PATH:+/$COOKBOOK_CARGO_PATH}" \
        --root "${COOKBOOK_STAGE}/usr" \
        -j "${COOKBOOK_MAKE_JOBS}" ${install_flags} \
        ${COOKBOOK_CARGO_FLAGS[@]} "$@"
}

# `cargo build` of one binary (bin_name, bin_flags, bin_dir), copied to
# /usr/bin/${bin_final_name} (default: <recipe>_<binary>).
# shellcheck disable=SC2086
cookbook_cargo_build() {
    recipe="${recipe:-$(basename "${COOKBOOK_RECIPE}")}"
    bin_dir="${bin_dir:-.}"
    bin_flags="${bin_flags:-}"
    bin_name="${bin_name:-$(basename "${COOKBOOK_CARGO_PATH}")}"
    bin_final_name="${bin_final_name:-${recipe}_${bin_name//_/-}}"
    mkdir -pv "${COOKBOOK_STAGE}/usr/bin"
    "${COOKBOOK_CARGO}" build \
        --manifest-path "${COOKBOOK_SOURCE}${COOKBOOK_CARGO_PATH:+/$COOKBOOK_CARGO_PATH}/Cargo.toml" \
        ${bin_flags} ${build_flags} -j "${COOKBOOK_MAKE_JOBS}" ${COOKBOOK_CARGO_FLAGS[@]}
    cp -v "target/${TARGET}/${build_type}/${bin_dir}/${bin_name}" \
        "${COOKBOOK_STAGE}/usr/bin/${bin_final_name}"
    unset bin_name bin_flags bin_dir bin_final_name
}

# Each example as /usr/bin/<recipe>_<example>.
cookbook_cargo_examples() {
    recipe="$(basename "${COOKBOOK_RECIPE}")"
    local example
    for example in "$@"; do
        bin_dir=examples bin_name="${example}" bin_flags="--example ${example}" cookbook_cargo_build
    done
}

# Each package's binary as /usr/bin/<package>.
cookbook_cargo_packages() {
    recipe="$(basename "${COOKBOOK_RECIPE}")"
    mkdir -pv "${COOKBOOK_STAGE}/usr/bin"
    local package
    for package in "$@"; do
        bin_name="${package}" bin_flags="--package ${package}" bin_final_name="${package//_/-}" \
            cookbook_cargo_build
    done
}

# Each package's binary as /usr/bin/<recipe>_<package>.
cookbook_cargo_packages_prefixed() {
    recipe="$(basename "${COOKBOOK_RECIPE}")"
    mkdir -pv "${COOKBOOK_STAGE}/usr/bin"
    local package
    for package in "$@"; do
        bin_name="${package}" bin_flags="--package ${package}" cookbook_cargo_build
    done
}

# --- C build systems: the cookbook's variables, helpers that refuse to run here
COOKBOOK_AUTORECONF="autoreconf"
COOKBOOK_CONFIGURE="${COOKBOOK_SOURCE}/configure"
COOKBOOK_CONFIGURE_FLAGS=(--host="${GNU_TARGET}" --prefix=/usr --disable-shared --enable-static)
COOKBOOK_MAKE_FLAGS=()
COOKBOOK_MAKE="make"
COOKBOOK_CMAKE="cmake"
COOKBOOK_NINJA="ninja"
COOKBOOK_CMAKE_FLAGS=(-DBUILD_SHARED_LIBS=False -DENABLE_SHARED=False -DENABLE_STATIC=True)
COOKBOOK_MESON="meson"
COOKBOOK_MESON_FLAGS=(--buildtype release --wrap-mode nofallback -Ddefault_library=static
    -Dprefix=/usr)
COOKBOOK_PYTHON="${COOKBOOK_TOOLCHAIN}/bin/python3"
COOKBOOK_PYTHON_V="python3.12"
COOKBOOK_PYTHON_PIP_FLAGS=(--ignore-installed --no-index --no-build-isolation)

not_mirrored() {
    echo "cookbook: $1 is not mirrored by this check (it covers Cargo recipes)" >&2
    return 1
}
cookbook_configure() { not_mirrored cookbook_configure; }
cookbook_cmake() { not_mirrored cookbook_cmake; }
generate_cookbook_cmake_file() { not_mirrored generate_cookbook_cmake_file; }
cookbook_meson() { not_mirrored cookbook_meson; }
cookbook_python() { not_mirrored cookbook_python; }
PYTHON_INIT() { not_mirrored PYTHON_INIT; }
autotools_recursive_regenerate() { not_mirrored autotools_recursive_regenerate; }
GNU_CONFIG_GET() { not_mirrored GNU_CONFIG_GET; }

# Dynamic linking (x86_64 and aarch64): shared-library flags for the build systems, Rust
# linked against the sysroot's libraries.
DYNAMIC_INIT() {
    case "${TARGET}" in
    i586-unknown-redox | riscv64gc-unknown-redox) return ;;
    esac
    COOKBOOK_CONFIGURE_FLAGS=(--host="${GNU_TARGET}" --prefix=/usr --enable-shared
        --disable-static)
    COOKBOOK_CMAKE_FLAGS=(-DBUILD_SHARED_LIBS=True -DENABLE_SHARED=True -DENABLE_STATIC=False)
    COOKBOOK_MESON_FLAGS=(--buildtype release --wrap-mode nofallback -Ddefault_library=shared
        -Dprefix=/usr)
    export LDFLAGS="${USER_LDFLAGS}-Wl,-rpath-link,${COOKBOOK_SYSROOT}/lib -L${COOKBOOK_SYSROOT}/lib -Wl,--export-dynamic"
    export RUSTFLAGS="-C target-feature=-crt-static -L native=${COOKBOOK_SYSROOT}/lib -C link-arg=-Wl,-rpath-link,${COOKBOOK_SYSROOT}/lib"
    export COOKBOOK_DYNAMIC=1
    reexport_flags
}

# Both shared and static libraries.
DYNAMIC_STATIC_INIT() {
    DYNAMIC_INIT
    if [ "${COOKBOOK_DYNAMIC}" = 1 ]; then
        COOKBOOK_CONFIGURE_FLAGS=(--host="${GNU_TARGET}" --prefix=/usr --enable-shared
            --enable-static)
        COOKBOOK_CMAKE_FLAGS=(-DBUILD_SHARED_LIBS=True -DENABLE_SHARED=True -DENABLE_STATIC=True)
        COOKBOOK_MESON_FLAGS=(--buildtype release --wrap-mode nofallback -Ddefault_library=both
            -Dprefix=/usr)
    fi
}

# --- the recipe's script follows
