#!/usr/bin/env bash
# check-packages.sh DIST_DIR: checks the deb and rpm of each architecture in
# DIST_DIR (as `make release-snapshot` leaves them). For each architecture:
#   - the deb and the rpm install the same files (absolute paths, directories
#     aside); any difference fails with the diff;
#   - the binary is /usr/local/bin/add2tkectl, mode 0755, built for that
#     architecture;
#   - the Ansible collection's tree is intact: every file of packaging/ansible
#     is at its own path under the collection directory;
#   - the deb's Architecture and the rpm's arch name the architecture.
set -euo pipefail

dist=${1:?usage: check-packages.sh DIST_DIR (run make release-snapshot first)}
root=$(cd "$(dirname "$0")/.." && pwd)
collection=/usr/share/ansible/collections/ansible_collections/add2tke/node
bin=/usr/local/bin/add2tkectl
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fail=0
bad() { echo "check-packages: $*" >&2; fail=1; }

# The collection's files, from the source tree the packages were built from.
(cd "$root/packaging/ansible" && find . -type f | sed "s|^\.|$collection|") | sort >"$work/collection"
[ -s "$work/collection" ] || { echo "check-packages: no files under $root/packaging/ansible" >&2; exit 1; }
for f in roles/add2tkectl/tasks/main.yml roles/add2tkectl/defaults/main.yml galaxy.yml; do
	grep -qx "$collection/$f" "$work/collection" || { echo "check-packages: packaging/ansible/$f is missing from the source tree" >&2; exit 1; }
done

# deb_files DEB: "MODE PATH" per non-directory entry, PATH absolute.
deb_files() {
	dpkg-deb --fsys-tarfile "$1" | tar -tvf - | awk '$1 !~ /^d/ { p = $6; sub(/^\.?\/?/, "/", p); print $1, p }' | sort -k2
}
# rpm_files RPM: the same for an rpm.
rpm_files() {
	rpm -qp --qf '[%{FILEMODES:perms} %{FILENAMES}\n]' "$1" | awk '$1 !~ /^d/' | sort -k2
}
# elf_machine FILE: the ELF e_machine field (62 x86-64, 183 aarch64).
elf_machine() { od -An -tu2 -j18 -N2 "$1" | tr -d ' '; }

declare -A rpm_arch=([amd64]=x86_64 [arm64]=aarch64)
declare -A elf=([amd64]=62 [arm64]=183)

for arch in amd64 arm64; do
	failed_before=$fail fail=0
	debs=("$dist"/add2tkectl_*_linux_"$arch".deb)
	rpms=("$dist"/add2tkectl_*_linux_"$arch".rpm)
	if [ ! -f "${debs[0]}" ] || [ ! -f "${rpms[0]}" ] || [ ${#debs[@]} -ne 1 ] || [ ${#rpms[@]} -ne 1 ]; then
		bad "$arch: want one deb and one rpm in $dist, have: ${debs[*]} ${rpms[*]} (make release-snapshot builds them)"
		continue
	fi
	deb=${debs[0]} rpm=${rpms[0]}

	deb_files "$deb" >"$work/$arch.deb.modes"
	rpm_files "$rpm" >"$work/$arch.rpm.modes"
	awk '{ print $2 }' "$work/$arch.deb.modes" >"$work/$arch.deb"
	awk '{ print $2 }' "$work/$arch.rpm.modes" >"$work/$arch.rpm"
	if ! diff -u --label "$(basename "$deb")" --label "$(basename "$rpm")" "$work/$arch.deb" "$work/$arch.rpm"; then
		bad "$arch: the deb and the rpm do not list the same files (diff above)"
	fi

	for pkg in deb rpm; do
		mode=$(awk -v p="$bin" '$2 == p { print $1 }' "$work/$arch.$pkg.modes")
		[ "$mode" = "-rwxr-xr-x" ] || bad "$arch $pkg: $bin has mode '${mode:-<absent>}', want -rwxr-xr-x (0755)"
		missing=$(comm -23 "$work/collection" "$work/$arch.$pkg")
		[ -z "$missing" ] || bad "$arch $pkg: collection files missing or moved:"$'\n'"$missing"
	done

	got=$(dpkg-deb -f "$deb" Architecture)
	[ "$got" = "$arch" ] || bad "$arch: $(basename "$deb") has Architecture '$got', want $arch"
	got=$(rpm -qp --qf '%{ARCH}' "$rpm")
	[ "$got" = "${rpm_arch[$arch]}" ] || bad "$arch: $(basename "$rpm") has arch '$got', want ${rpm_arch[$arch]}"

	dpkg-deb --fsys-tarfile "$deb" | tar -xOf - ".$bin" >"$work/$arch.bin"
	got=$(elf_machine "$work/$arch.bin")
	[ "$got" = "${elf[$arch]}" ] || bad "$arch: $bin in the deb is ELF machine '$got', want ${elf[$arch]}"

	[ $fail -ne 0 ] || echo "check-packages: $arch ok: $(wc -l <"$work/$arch.deb") files in $(basename "$deb") and $(basename "$rpm")"
	fail=$((fail | failed_before))
done
exit $fail
