# Sourced by tests/guest/build and tests/kvm-sandbox: kernel-module helpers
# that work from a Debian kernel unpacked anywhere, without modprobe.  They
# read the kernel's own modules.dep and modules.builtin (see depmod(8) and
# modules.dep(5)); bash only.

# kmod_resolve MODDIR NAME...
# Prints the module files (paths relative to MODDIR, as modules.dep spells
# them) that must be insmod-ed, one per line, each after the modules it
# depends on and none twice.  NAMEs use either '-' or '_'.  Names built into
# the kernel (modules.builtin) are skipped.  Fails on an unknown name.
kmod_resolve() {
    local moddir=$1 line file name
    shift
    local -A mod_file=() mod_deps=() builtin=() seen=()
    while IFS= read -r line; do
        file=${line%%:*}
        name=${file##*/}
        name=${name%%.ko*}
        mod_file[${name//-/_}]=$file
        mod_deps[$file]=${line#*:}
    done <"$moddir/modules.dep" || return 1
    if [ -r "$moddir/modules.builtin" ]; then
        while IFS= read -r file; do
            name=${file##*/}
            name=${name%%.ko*}
            builtin[${name//-/_}]=1
        done <"$moddir/modules.builtin"
    fi
    for name in "$@"; do
        name=${name//-/_}
        if [ -n "${mod_file[$name]:-}" ]; then
            _kmod_visit "${mod_file[$name]}"
        elif [ -z "${builtin[$name]:-}" ]; then
            echo "kmod_resolve: no module $name in $moddir" >&2
            return 1
        fi
    done
}

# Depth-first walk for kmod_resolve: dependencies first.  modules.dep lists
# a module's dependencies so that the last one is loaded first.
_kmod_visit() {
    local f=$1 i
    [ -n "${seen[$f]:-}" ] && return 0
    seen[$f]=1
    local -a deps
    read -r -a deps <<<"${mod_deps[$f]}"
    for ((i = ${#deps[@]} - 1; i >= 0; i--)); do
        _kmod_visit "${deps[i]}"
    done
    printf '%s\n' "$f"
}

# kmod_plain_name FILE: the file name of FILE without directory and without
# a compression suffix (foo/bar.ko.xz -> bar.ko).
kmod_plain_name() {
    local n=${1##*/}
    printf '%s\n' "${n%.ko*}.ko"
}

# kmod_extract SRC DST: copies module SRC to DST, decompressing the formats
# Debian kernels ship (.ko, .ko.xz, .ko.zst, .ko.gz), so that busybox insmod
# needs no decompressor.
kmod_extract() {
    case $1 in
        *.ko) cp -- "$1" "$2" ;;
        *.ko.xz) xz -dc -- "$1" >"$2" ;;
        *.ko.zst) zstd -qdc -- "$1" >"$2" ;;
        *.ko.gz) gzip -dc -- "$1" >"$2" ;;
        *) echo "kmod_extract: unknown module format: $1" >&2; return 1 ;;
    esac
}

# kmod_stage MODDIR DESTDIR NAME...: resolves NAMEs, puts the plain .ko files
# into DESTDIR and writes DESTDIR/load.list (their names in load order).
kmod_stage() {
    local moddir=$1 dest=$2 f n list
    shift 2
    list=$(kmod_resolve "$moddir" "$@") || return 1
    mkdir -p "$dest" || return 1
    : >"$dest/load.list" || return 1
    while IFS= read -r f; do
        [ -n "$f" ] || continue
        n=$(kmod_plain_name "$f")
        kmod_extract "$moddir/$f" "$dest/$n" || return 1
        printf '%s\n' "$n" >>"$dest/load.list"
    done <<<"$list"
}
