#!/usr/bin/env bash
# The release: fully static binaries for amd64, arm64, s390x and ppc64le,
# built with Debian 12's cross compilers against its multiarch -dev packages,
# each smoke-tested under qemu-user (`--version`, `resolve`); the amd64 one
# also completes a provider call against an API server named by host name
# (test/apistub TestAPIServerByHostName, when Go is installed and we are
# root); a .deb and an .rpm per architecture from CPack; SHA256SUMS.
#
#   scripts/release.sh [--install] [--out DIR] [--jobs N] [ARCH...]
#
# ARCH: amd64 arm64 s390x ppc64le (default: all four). --install (root)
# apt-get installs the native tools: the cross compilers, qemu-user-static
# and the host's -dev packages; without it they must be there already.
# Artifacts land in DIR (default dist/), the builds in build-release/.
#
# The target's libraries (OpenSSL, yaml-cpp, c-ares: their static archives
# and arch-specific headers) are fetched with `apt-get download` and
# unpacked into build-release/root-ARCH, not installed: libyaml-cpp-dev is
# not Multi-Arch: same, so installing it for another architecture would
# remove the host's. Boost, nlohmann-json and toml++ are header-only and
# the same on every architecture: the host's are linked into that root.
#
# apt runs with a state of its own under build-release/apt-NAME (lists, the
# architectures to index, no package cache on disk): the script never adds
# a foreign architecture to dpkg nor touches /var/lib/apt/lists, so a
# mirror whose index of one architecture is out of sync fails only that
# architecture's fetch, not the system's next `apt-get update`.
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD

install=0
out=dist
jobs=2
arches=()
while [ $# -gt 0 ]; do
  case "$1" in
    --install) install=1 ;;
    --out) out=$2; shift ;;
    --jobs) jobs=$2; shift ;;
    amd64|arm64|s390x|ppc64le) arches+=("$1") ;;
    *) echo "usage: $0 [--install] [--out DIR] [--jobs N] [amd64|arm64|s390x|ppc64le...]" >&2
       exit 2 ;;
  esac
  shift
done
[ ${#arches[@]} -gt 0 ] || arches=(amd64 arm64 s390x ppc64le)

# release arch -> Debian arch, GNU triplet, qemu-user binary, RPM arch
debarch() { case $1 in ppc64le) echo ppc64el ;; *) echo "$1" ;; esac; }
triplet() {
  case $1 in
    amd64) echo x86_64-linux-gnu ;; arm64) echo aarch64-linux-gnu ;;
    s390x) echo s390x-linux-gnu ;; ppc64le) echo powerpc64le-linux-gnu ;;
  esac
}
qemu() {
  case $1 in
    amd64) echo qemu-x86_64-static ;; arm64) echo qemu-aarch64-static ;;
    s390x) echo qemu-s390x-static ;; ppc64le) echo qemu-ppc64le-static ;;
  esac
}
rpmarch() {
  case $1 in amd64) echo x86_64 ;; arm64) echo aarch64 ;; *) echo "$1" ;; esac
}
# The target's -dev packages whose static archives we link.
target_debs=(libssl-dev libyaml-cpp-dev libc-ares-dev)
# Host packages for every build (header-only libraries, tools).
host_debs=(cmake ninja-build g++ pkg-config libssl-dev nlohmann-json3-dev
  libtomlplusplus-dev libyaml-cpp-dev libboost-dev libc-ares-dev
  qemu-user-static dpkg-dev rpm file)

version=$(sed -n 's/^project(crio-credential-provider VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
work=$src/build-release
mkdir -p "$work" "$out"
out=$(cd "$out" && pwd)
host_arch=$(dpkg --print-architecture)

# Sets apt_opts: apt options for a private state named $1 indexing the
# Debian architecture $2 (apt adds the native one), and runs its update.
# A failed index is reported and skipped: what is missing shows where a
# package is fetched.
apt_opts=()
private_apt() {
  local dir=$work/apt-$1
  mkdir -p "$dir/lists/partial"
  apt_opts=(-o "Dir::State::Lists=$dir/lists" -o Dir::Cache::pkgcache=
    -o Dir::Cache::srcpkgcache= -o "APT::Architectures=$2")
  apt-get -qq "${apt_opts[@]}" update >"$dir/update.log" 2>&1 || {
    grep '^E:' "$dir/update.log" >&2
    echo "apt-get update ($2, $dir) reported errors; going on with the indexes it got" >&2
  }
}

if [ $install = 1 ]; then
  pkgs=("${host_debs[@]}")
  for a in "${arches[@]}"; do
    [ "$a" = amd64 ] || pkgs+=("g++-$(triplet "$a")")
  done
  private_apt host "$host_arch"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    -o DPkg::Lock::Timeout=600 "${apt_opts[@]}" "${pkgs[@]}" >/dev/null
fi

# A root holding the target's libraries and headers, and a CMake toolchain
# file that finds only those (and the cross compiler's own libc).
libs=()
make_root() {
  local a=$1 t root debs deb pkg ver host_ver
  t=$(triplet "$a")
  root=$work/root-$a
  debs=$work/debs-$a
  rm -rf "$root" "$debs"
  mkdir -p "$root/usr/include" "$root/usr/share/cmake" "$debs"
  private_apt "$a" "$(debarch "$a")"
  (cd "$debs" && apt-get download -qq "${apt_opts[@]}" "${target_debs[@]/%/:$(debarch "$a")}")
  libs=()
  for deb in "$debs"/*.deb; do
    dpkg-deb -x "$deb" "$root"
    # Say where a target links another version than the host's build:
    # Debian 12's security suite carries no s390x, and an index that
    # failed to update leaves its architecture at the point release.
    pkg=$(dpkg-deb -f "$deb" Package)
    ver=$(dpkg-deb -f "$deb" Version)
    host_ver=$(dpkg-query -W -f '${Version}' "$pkg:$host_arch" 2>/dev/null || true)
    libs+=("$pkg $ver")
    [ "$ver" = "$host_ver" ] ||
      echo "warning: $a links $pkg $ver, the $host_arch build $pkg ${host_ver:-(not installed)}" >&2
  done
  for d in boost nlohmann toml++; do ln -s "/usr/include/$d" "$root/usr/include/$d"; done
  ln -s /usr/share/cmake/nlohmann_json "$root/usr/share/cmake/nlohmann_json"
  cat >"$work/toolchain-$a.cmake" <<EOF
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR ${t%%-*})
set(CMAKE_CXX_COMPILER $t-g++)
set(CMAKE_LIBRARY_ARCHITECTURE $t)
set(CMAKE_FIND_ROOT_PATH $root /usr/$t)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
# OpenSSL's configuration.h sits in the multiarch include directory.
set(CMAKE_CXX_STANDARD_INCLUDE_DIRECTORIES $root/usr/include/$t)
EOF
}

# A registries.conf for the smoke test: Docker Hub through one mirror.
smoke_conf=$work/smoke-registries.conf
cat >"$smoke_conf" <<'EOF'
unqualified-search-registries = ["docker.io"]
[[registry]]
prefix = "docker.io"
location = "docker.io"
[[registry.mirror]]
location = "mirror.example.com/hub"
EOF

results=()
for a in "${arches[@]}"; do
  t=$(triplet "$a")
  build=$work/build-$a
  echo "== $a: building ($t)"
  args=(-S "$src" -B "$build" -G Ninja -DSTATIC=ON -DCMAKE_BUILD_TYPE=Release
    -DGO_TESTS=OFF -DUNIT_TESTS=OFF)
  if [ "$a" != amd64 ]; then
    make_root "$a"
    args+=(-DCMAKE_TOOLCHAIN_FILE="$work/toolchain-$a.cmake")
  fi
  nice -n 10 cmake "${args[@]}" >"$work/cmake-$a.log"
  nice -n 10 cmake --build "$build" -j "$jobs" --target crio-credential-provider \
    >"$work/build-$a.log" 2>&1 || { tail -30 "$work/build-$a.log"; exit 1; }
  bin=$out/crio-credential-provider-$version-linux-$a
  strip_tool="strip"
  [ "$a" = amd64 ] || strip_tool=$t-strip
  "$strip_tool" -o "$bin" "$build/crio-credential-provider"
  file -b "$bin" | grep -q 'statically linked' || { echo "$bin is not static: $(file -b "$bin")"; exit 1; }

  echo "== $a: smoke test under $(qemu "$a")"
  q=$(qemu "$a")
  got=$("$q" "$bin" --version)
  [ "$got" = "crio-credential-provider $version" ] || { echo "$a --version: $got"; exit 1; }
  got=$("$q" "$bin" resolve --registries-conf "$smoke_conf" \
    --registries-conf-dir "$work/none.d" nginx:1.27)
  grep -q 'mirror.example.com/hub/library/nginx' <<<"$got" || {
    echo "$a resolve did not find the mirror:"; echo "$got"; exit 1; }

  echo "== $a: .deb and .rpm"
  (cd "$build" && cpack -G "DEB;RPM" -B "$work/pkg-$a" \
    -D CPACK_DEBIAN_PACKAGE_ARCHITECTURE="$(debarch "$a")" \
    -D CPACK_RPM_PACKAGE_ARCHITECTURE="$(rpmarch "$a")" >"$work/cpack-$a.log" 2>&1) || {
    tail -30 "$work/cpack-$a.log"; exit 1; }
  cp "$work/pkg-$a"/*.deb "$work/pkg-$a"/*.rpm "$out/"
  rm -rf "$work/pkg-$a/_CPack_Packages"
  results+=("$a: $(stat -c %s "$bin") bytes, --version and resolve OK under $q")
  if [ "$a" != amd64 ]; then
    linked=$(printf '%s, ' "${libs[@]}")
    results+=("  $a links ${linked%, }")
  fi
done

if [[ " ${arches[*]} " == *" amd64 "* ]] && [ "$(id -u)" = 0 ] && command -v go >/dev/null; then
  echo "== amd64: a provider call against an API server named by host name"
  bin=$out/crio-credential-provider-$version-linux-amd64
  (cd test && CRIO_CREDENTIAL_PROVIDER_BIN=$bin CRIO_CREDENTIAL_PROVIDER_STATIC_BIN=$bin \
    go test -count=1 -run 'TestAPIServerByHostName$' ./apistub/)
  results+=("amd64: provider call by host name OK (TestAPIServerByHostName)")
fi

# deploy/Containerfile copies, per TARGETARCH, the one file its COPY
# pattern matches: a second version's binary beside this one would fail the
# image build.
copy_glob=$(sed -n 's|^COPY dist/\([^ ]*\) .*|\1|p' deploy/Containerfile)
[ -n "$copy_glob" ] || { echo "deploy/Containerfile has no COPY dist/..."; exit 1; }
for a in "${arches[@]}"; do
  n=$({ compgen -G "$out/${copy_glob//\$\{TARGETARCH\}/$a}" || true; } | wc -l)
  [ "$n" = 1 ] || {
    echo "deploy/Containerfile's COPY dist/$copy_glob matches $n files in $out for $a:" \
      "keep one version's binaries there"; exit 1; }
done

(cd "$out" && rm -f SHA256SUMS && sha256sum -- * >SHA256SUMS.tmp && mv SHA256SUMS.tmp SHA256SUMS)
echo "== $out"
ls -l "$out"
printf '%s\n' "${results[@]}"
