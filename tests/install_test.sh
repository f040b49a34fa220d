#!/usr/bin/env bash
# install_test.sh - installs a build of jobexec into a temporary prefix and
# builds examples/quickstart.c against the installed copy, the ways a user
# would: with find_package(jobexec) in CMake, and with pkg-config, against
# the shared library and against the static one.  Runs each program.
#
#   install_test.sh BUILD_DIR SOURCE_DIR
#
# Environment: CMAKE (default cmake), CC (default cc), PKG_CONFIG (default
# pkg-config), EXTRA_CFLAGS (flags the library was built with that its
# users need too, such as -fsanitize=address).
set -euo pipefail

build=${1:?usage: install_test.sh BUILD_DIR SOURCE_DIR}
src=${2:?usage: install_test.sh BUILD_DIR SOURCE_DIR}
cmake=${CMAKE:-cmake}
cc=${CC:-cc}
pkg_config=${PKG_CONFIG:-pkg-config}
read -r -a extra <<<"${EXTRA_CFLAGS:-}"
example=$src/examples/quickstart.c

work=$(mktemp -d "${TMPDIR:-/tmp}/jobexec-install.XXXXXX")
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix

step() { printf '\n== %s\n' "$*"; }

# Runs a quick-start binary and checks what it prints.
run_quickstart() {
    local out
    out=$(LD_LIBRARY_PATH="$libdir" "$1")
    printf '%s\n' "$out"
    grep -q 'COMPLETED' <<<"$out"
}

step "install into $prefix"
"$cmake" --install "$build" --prefix "$prefix" >"$work/install.log"
# GNUInstallDirs may choose lib, lib64 or lib/<multiarch>.
pcfile=$(find "$prefix" -name jobexec.pc -print -quit)
configfile=$(find "$prefix" -name jobexecConfig.cmake -print -quit)
[[ -n $pcfile && -n $configfile ]] || {
    echo "jobexec.pc or jobexecConfig.cmake was not installed" >&2
    cat "$work/install.log" >&2
    exit 1
}
libdir=$(dirname "$(dirname "$pcfile")")
for f in "$prefix/include/jobconfig.h" "$libdir/libjobexec.a" \
         "$libdir/libjobexec.so" "$prefix/bin/jobexec"; do
    [[ -e $f ]] || { echo "missing after install: $f" >&2; exit 1; }
done
# Nothing that belongs to the build tree may leak into the installed files.
if grep -l "$build" "$pcfile" "$(dirname "$configfile")"/*.cmake; then
    echo "the files above name the build directory $build" >&2
    exit 1
fi

step "CMake: find_package(jobexec CONFIG REQUIRED)"
mkdir -p "$work/consumer"
cat >"$work/consumer/CMakeLists.txt" <<EOF
cmake_minimum_required(VERSION 3.18)
project(consumer LANGUAGES C)
find_package(jobexec 0.1 CONFIG REQUIRED)
add_executable(quickstart "$example")
target_link_libraries(quickstart PRIVATE jobexec::jobexec)
add_executable(quickstart_static "$example")
target_link_libraries(quickstart_static PRIVATE jobexec::jobexec_static)
EOF
flags="${EXTRA_CFLAGS:-}"
"$cmake" -S "$work/consumer" -B "$work/consumer/build" \
    -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_COMPILER="$cc" \
    -DCMAKE_C_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="$flags" \
    >"$work/consumer.log" || { cat "$work/consumer.log" >&2; exit 1; }
"$cmake" --build "$work/consumer/build" >>"$work/consumer.log" ||
    { cat "$work/consumer.log" >&2; exit 1; }
run_quickstart "$work/consumer/build/quickstart"
run_quickstart "$work/consumer/build/quickstart_static"

export PKG_CONFIG_PATH=$libdir/pkgconfig
step "pkg-config: $("$pkg_config" --cflags --libs jobexec)"
# shellcheck disable=SC2046 # pkg-config output is meant to be split
"$cc" "${extra[@]}" -o "$work/qs_pc" "$example" \
    $("$pkg_config" --cflags --libs jobexec)
run_quickstart "$work/qs_pc"

# A linker picks libjobexec.so over libjobexec.a when it finds both, so the
# static link uses a copy of the prefix without the shared library, as a
# distribution that ships only the .a would be.
step "pkg-config --static: $("$pkg_config" --static --cflags --libs jobexec)"
cp -a "$prefix" "$work/static"
rm -f "$work/static/${libdir#"$prefix"/}"/libjobexec.so*
static_pc=$work/static/${libdir#"$prefix"/}/pkgconfig
# shellcheck disable=SC2046
"$cc" "${extra[@]}" -o "$work/qs_static" "$example" \
    $(PKG_CONFIG_PATH=$static_pc "$pkg_config" --static --cflags --libs jobexec)
if readelf -d "$work/qs_static" | grep -q 'NEEDED.*libjobexec'; then
    echo "qs_static still needs libjobexec.so" >&2
    exit 1
fi
run_quickstart "$work/qs_static"

step "installed CLI"
LD_LIBRARY_PATH="$libdir" "$prefix/bin/jobexec" --version

echo
echo "install test passed"
