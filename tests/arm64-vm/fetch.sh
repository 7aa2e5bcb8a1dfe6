# shellcheck shell=bash disable=SC2034 # A64_* are set for the sourcing script
# Debian arm64 packages for tests/arm64-vm/run.sh and guests/linux-arm64/build.sh:
# the stock arm64 kernel (Image + modules) and static arm64 busybox, downloaded
# with `apt-get download` and unpacked with `dpkg-deb -x` into a cache, never
# installed (busybox-static:arm64 conflicts with the amd64 busybox-static).
#
# Sourced, not run. The sourcing script defines die MESSAGE (exits) and
# info MESSAGE (progress on stderr) and then calls, in this order:
#
#   a64_host_setup PKG...      add dpkg's arm64 architecture if needed, and
#                              apt-get install the PKGs that are missing
#   a64_lock                   take the cache lock (flock; concurrent runs)
#   a64_kernel                 sets A64_KPKG (linux-image-6.1.0-NN-arm64),
#                              A64_KVER, A64_KDIR, A64_IMAGE (uncompressed Image)
#   a64_busybox                sets A64_BUSYBOX (static arm64 busybox) and
#                              A64_BUSYBOX_VERSION
#   a64_modules DIR MOD...     DIR/*.ko: MODs and their dependencies, built-in
#                              ones left out, load order in DIR/order
#   a64_unlock
#
# Cache: $A64_CACHE = ${TIDE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tide}/arm64-vm:
#   resolved-<metapackage>   the kernel package last resolved (later runs call
#                            no apt at all; A64_REFRESH=1 resolves again)
#   resolved-busybox         the busybox-static:arm64 version last downloaded
#   <kernel package>/        Image, config, kernel.deb (the modules stay in the
#                            .deb until a64_modules needs them)
#   busybox-<version>/busybox
#
# Knobs: TIDE_ARM64_VM_KERNEL_PACKAGE (metapackage to follow, default
# linux-image-arm64, i.e. bookworm's 6.1; linux-image-6.12-arm64 also works),
# A64_REFRESH=1 (ask apt again which kernel and busybox are current).

A64_CACHE=${TIDE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tide}/arm64-vm
A64_META=${TIDE_ARM64_VM_KERNEL_PACKAGE:-linux-image-arm64}
A64_REFRESH=${A64_REFRESH:-0}
# Bumped when the layout of a kernel's cache directory changes.
A64_KERNEL_FORMAT=1

# a64_installed PKG: dpkg says PKG (maybe PKG:arch) is installed.
a64_installed() {
	dpkg-query -W -f='${Status}\n' "$1" 2>/dev/null | grep -q 'install ok installed'
}

a64_apt_update() {
	apt-get update -q >/dev/null 2>&1 || apt-get update -q >&2 || true
}

a64_host_setup() {
	local pkg missing=()
	if ! dpkg --print-foreign-architectures | grep -qx arm64; then
		[ "$(id -u)" = 0 ] || die "dpkg has no arm64 architecture (run: dpkg --add-architecture arm64 && apt-get update)"
		info "adding dpkg's arm64 architecture (for arm64 packages)"
		dpkg --add-architecture arm64
		a64_apt_update
	fi
	for pkg in "$@"; do
		a64_installed "$pkg" || missing+=("$pkg")
	done
	[ ${#missing[@]} -gt 0 ] || return 0
	[ "$(id -u)" = 0 ] || die "missing packages: ${missing[*]} (install them: apt-get install ${missing[*]})"
	info "installing ${missing[*]}"
	if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null 2>&1; then
		a64_apt_update
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >&2 ||
			die "apt-get install ${missing[*]} failed"
	fi
}

a64_lock() {
	mkdir -p "$A64_CACHE"
	exec 9>"$A64_CACHE/.lock"
	flock 9
}

a64_unlock() {
	flock -u 9
	exec 9>&-
}

# a64_download DIR PKG:arm64[=VERSION]: the .deb, downloaded into DIR.
a64_download() {
	local dir=$1 pkg=$2 try
	for try in 1 2; do
		if (cd "$dir" && apt-get download -q -o APT::Sandbox::User="$(id -un)" "$pkg" \
			>/dev/null 2>"$dir/apt.err"); then
			rm -f "$dir/apt.err"
			return 0
		fi
		[ "$try" = 2 ] || a64_apt_update
	done
	cat "$dir/apt.err" >&2
	die "apt-get download $pkg failed"
}

# The kernel package that $A64_META currently depends on.
a64_resolve_kernel() {
	local pkg try
	for try in 1 2; do
		pkg=$(apt-cache depends "$A64_META:arm64" 2>/dev/null |
			awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { sub(/:arm64$/, "", $2); print $2; exit }')
		if [ -n "$pkg" ] || [ "$try" = 2 ]; then
			break
		fi
		a64_apt_update
	done
	[ -n "$pkg" ] || die "cannot resolve Debian's arm64 kernel package (apt-cache depends $A64_META:arm64)"
	echo "$pkg"
}

a64_fetch_kernel() {
	local pkg=$1 dir=$2 kver=${1#linux-image-} tmp
	tmp=$(mktemp -d "$A64_CACHE/fetch.XXXXXX")
	info "downloading $pkg:arm64 (one-time)"
	a64_download "$tmp" "$pkg:arm64"
	mv "$tmp"/*.deb "$tmp/kernel.deb"
	mkdir -p "$tmp/x" "$tmp/out"
	dpkg-deb --fsys-tarfile "$tmp/kernel.deb" |
		tar -x -C "$tmp/x" "./boot/vmlinuz-$kver" "./boot/config-$kver" ||
		{ rm -rf "$tmp"; die "$pkg has no /boot/vmlinuz-$kver"; }
	# Debian's arm64 vmlinuz is an uncompressed Image (no EFI zboot); check.
	if [ "$(od -An -tx1 -j56 -N4 "$tmp/x/boot/vmlinuz-$kver" | tr -d ' ')" != 41524d64 ]; then
		rm -rf "$tmp"
		die "$pkg: /boot/vmlinuz-$kver is not an uncompressed arm64 Image (no ARM\\x64 magic)"
	fi
	mv "$tmp/x/boot/vmlinuz-$kver" "$tmp/out/Image"
	mv "$tmp/x/boot/config-$kver" "$tmp/out/config"
	mv "$tmp/kernel.deb" "$tmp/out/kernel.deb"
	echo "$kver" >"$tmp/out/kver"
	echo "$A64_KERNEL_FORMAT" >"$tmp/out/format"
	rm -rf "$dir"
	mv "$tmp/out" "$dir"
	rm -rf "$tmp"
}

# Kernels that no resolved-* file names any more (Debian moved on).
a64_remove_unused_kernels() {
	local dir
	for dir in "$A64_CACHE"/linux-image-*; do
		[ -d "$dir" ] || continue
		if ! cat "$A64_CACHE"/resolved-linux-* 2>/dev/null | grep -qxF -- "${dir##*/}"; then
			info "removing the unused cached kernel ${dir##*/}"
			rm -rf "$dir"
		fi
	done
}

a64_kernel() {
	local resolved=$A64_CACHE/resolved-$A64_META
	if [ "$A64_REFRESH" = 1 ] || [ ! -s "$resolved" ]; then
		a64_resolve_kernel >"$resolved.tmp"
		mv "$resolved.tmp" "$resolved"
		a64_remove_unused_kernels
	fi
	A64_KPKG=$(cat "$resolved")
	A64_KDIR=$A64_CACHE/$A64_KPKG
	[ "$(cat "$A64_KDIR/format" 2>/dev/null)" = "$A64_KERNEL_FORMAT" ] ||
		a64_fetch_kernel "$A64_KPKG" "$A64_KDIR"
	A64_KVER=$(cat "$A64_KDIR/kver")
	A64_IMAGE=$A64_KDIR/Image
}

a64_busybox() {
	local resolved=$A64_CACHE/resolved-busybox tmp version
	if [ "$A64_REFRESH" = 1 ] || [ ! -s "$resolved" ] ||
		[ ! -x "$A64_CACHE/busybox-$(cat "$resolved")/busybox" ]; then
		tmp=$(mktemp -d "$A64_CACHE/fetch.XXXXXX")
		info "downloading busybox-static:arm64"
		a64_download "$tmp" busybox-static:arm64
		version=$(dpkg-deb -f "$tmp"/*.deb Version)
		version=${version#*:} # no epoch in a directory name
		dpkg-deb -x "$tmp"/*.deb "$tmp/x"
		[ -x "$tmp/x/bin/busybox" ] || { rm -rf "$tmp"; die "busybox-static:arm64 has no /bin/busybox"; }
		rm -rf "$A64_CACHE/busybox-$version"
		mkdir -p "$A64_CACHE/busybox-$version"
		mv "$tmp/x/bin/busybox" "$A64_CACHE/busybox-$version/busybox"
		rm -rf "$tmp"
		if [ -s "$resolved" ] && [ "$(cat "$resolved")" != "$version" ]; then
			rm -rf "$A64_CACHE/busybox-$(cat "$resolved")"
		fi
		echo "$version" >"$resolved"
	fi
	A64_BUSYBOX_VERSION=$(cat "$resolved")
	A64_BUSYBOX=$A64_CACHE/busybox-$A64_BUSYBOX_VERSION/busybox
}

# a64_modules DIR MODULE...: DIR/*.ko and DIR/order (file names, load order)
# for MODULEs and their dependencies, from the kernel's .deb; DIR/wanted
# records the request, so a second call with the same list does nothing.
# Modules built into the kernel are left out (modprobe says "builtin").
a64_modules() {
	local dir=$1 tmp line ko name
	shift
	if [ "$(cat "$dir/wanted" 2>/dev/null)" = "$A64_KPKG $*" ]; then
		return 0
	fi
	tmp=$(mktemp -d "$A64_CACHE/modules.XXXXXX")
	mkdir -p "$tmp/x" "$tmp/out"
	dpkg-deb --fsys-tarfile "$A64_KDIR/kernel.deb" |
		tar -x -C "$tmp/x" --wildcards "./lib/modules/$A64_KVER/*" ||
		{ rm -rf "$tmp"; die "cannot unpack the modules of $A64_KPKG"; }
	depmod -b "$tmp/x" "$A64_KVER" || { rm -rf "$tmp"; die "depmod failed for $A64_KPKG"; }
	if ! modprobe -d "$tmp/x" -S "$A64_KVER" --show-depends -a "$@" \
		>"$tmp/deps" 2>"$tmp/modprobe.err"; then
		cat "$tmp/modprobe.err" >&2
		rm -rf "$tmp"
		die "modprobe --show-depends $* failed for $A64_KPKG"
	fi
	: >"$tmp/out/order"
	while read -r line; do
		case "$line" in
		insmod\ *) ko=${line#insmod } ;;
		*) continue ;; # "builtin NAME"
		esac
		ko=${ko%% *}
		name=$(basename "$ko")
		name=${name%%.ko*}.ko
		grep -qxF "$name" "$tmp/out/order" && continue # listed twice (9pnet)
		case "$ko" in
		*.ko.xz) xz -dc "$ko" >"$tmp/out/$name" ;;
		*.ko.zst) zstd -qdc "$ko" >"$tmp/out/$name" ;;
		*.ko.gz) gzip -dc "$ko" >"$tmp/out/$name" ;;
		*) cp "$ko" "$tmp/out/$name" ;;
		esac
		echo "$name" >>"$tmp/out/order"
	done <"$tmp/deps"
	echo "$A64_KPKG $*" >"$tmp/out/wanted"
	rm -rf "$dir"
	mkdir -p "$(dirname "$dir")"
	mv "$tmp/out" "$dir"
	rm -rf "$tmp"
}
