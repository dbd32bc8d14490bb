#!/usr/bin/env bash
# Builds the .deb and .rpm from a build directory with CPack and checks
# that each installs the binary, the man page, the example kubelet config
# and the gateway's systemd unit (ctest runs it as `packages`). Needs
# dpkg-deb and rpmbuild (Debian packages dpkg and rpm).
set -euo pipefail
build=$(cd "$1" && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
(cd "$build" && cpack -G "DEB;RPM" -B "$out" >"$out/cpack.log" 2>&1) || {
  cat "$out/cpack.log"; exit 1; }
deb=$(ls "$out"/*.deb)
rpm=$(ls "$out"/*.rpm)
want=(
  usr/bin/crio-credential-provider
  usr/share/man/man8/crio-credential-provider.8
  usr/share/doc/crio-credential-provider/credential-provider.yaml
  usr/lib/systemd/system/crio-credential-provider-gateway.service
)
deb_files=$(dpkg -c "$deb" | awk '{print $6}' | sed 's|^\./||')
rpm_files=$(rpm -qpl "$rpm" 2>/dev/null | sed 's|^/||')
fail=0
for f in "${want[@]}"; do
  grep -qx "$f" <<<"$deb_files" || { echo "$(basename "$deb") lacks /$f"; fail=1; }
  grep -qx "$f" <<<"$rpm_files" || { echo "$(basename "$rpm") lacks /$f"; fail=1; }
done
# The binary in the package runs (stripped, same code).
dpkg-deb -x "$deb" "$out/root"
"$out/root/usr/bin/crio-credential-provider" --version | grep -q '^crio-credential-provider ' || {
  echo "the packaged binary does not run"; fail=1; }
# The packaged gateway unit starts the packaged binary.
unit="$out/root/usr/lib/systemd/system/crio-credential-provider-gateway.service"
grep -q '^ExecStart=/usr/bin/crio-credential-provider gateway' "$unit" || {
  echo "the packaged gateway unit does not start /usr/bin/crio-credential-provider"; fail=1; }
echo "$(basename "$deb"): $(wc -l <<<"$deb_files") entries; $(basename "$rpm"): $(wc -l <<<"$rpm_files") files"
echo "--- dpkg -c"; dpkg -c "$deb" | awk '{print $6}'
echo "--- rpm -qpl"; rpm -qpl "$rpm" 2>/dev/null
exit $fail
