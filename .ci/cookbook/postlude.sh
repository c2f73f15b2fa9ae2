# --- after the recipe's script: what the Redox cookbook does to the stage (src/cook/script.rs,
# BUILD_POSTSCRIPT, at the commit named in prelude.sh).

# Strip the executables, and the debug information of everything under lib/.
for dir in "${COOKBOOK_STAGE}/bin" "${COOKBOOK_STAGE}/usr/bin" "${COOKBOOK_STAGE}/libexec" \
    "${COOKBOOK_STAGE}/usr/libexec"; do
    if [ -d "${dir}" ] && [ -z "${COOKBOOK_NOSTRIP}" ]; then
        find "${dir}" -type f -exec "${GNU_TARGET}-strip" -v {} ';'
    fi
done
for dir in "${COOKBOOK_STAGE}/lib" "${COOKBOOK_STAGE}/usr/lib"; do
    if [ -d "${dir}" ]; then
        find "${dir}" -type f -name '*.la' -exec rm -fv {} ';'
        if [ -z "${COOKBOOK_NOSTRIP}" ]; then
            find "${dir}" -type f -exec "${GNU_TARGET}-strip" --strip-debug -v {} ';'
        fi
    fi
done

# cargo install's records.
for file in .crates.toml .crates2.json; do
    if [ -f "${COOKBOOK_STAGE}/${file}" ]; then
        rm -v "${COOKBOOK_STAGE}/${file}"
    fi
done

# The package name in AppStream metadata.
for dir in "${COOKBOOK_STAGE}/share/metainfo" "${COOKBOOK_STAGE}/usr/share/metainfo"; do
    if [ -d "${dir}" ]; then
        find "${dir}" -type f -name '*.xml' \
            -exec sed -i 's|</component>|<pkgname>'"${COOKBOOK_NAME}"'</pkgname></component>|g' {} ';'
    fi
done
