#!/usr/bin/env bash
# The --help texts and the man pages name the same long options: every option that
# `ipsec-mountd --help`, `ipsec --help` or `ipsec COMMAND --help` defines is documented in the
# matching part of the man page, and every option the man page gives an entry (.TP/.TQ tag) is
# one the program has. The parts: ipsec-mountd(8) OPTIONS; ipsec(8) OPTIONS; for each command,
# the ipsec(8) subsections whose title names `ipsec COMMAND`. Every page also renders without a
# warning (man, groff -ww). Needs no root: nothing is started.
source "$(dirname "$0")/lib.sh"
SRC=${IPSECFS_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
[ -x "$IPSEC" ] && [ -x "$MOUNTD" ] || die "binaries not found in IPSECFS_BIN=$IPSECFS_BIN"
command -v groff >/dev/null && command -v man >/dev/null || skip "no groff or man"

# help_options CMD…: the long options `CMD --help` defines (Boost's table: "  --name …" or
# "  -h [ --help ] …") or shows in its usage lines.
help_options() {
    "$@" --help | awk '
        function emit(s, all) {
            while (match(s, /--[A-Za-z0-9][A-Za-z0-9_-]*/)) {
                print substr(s, RSTART, RLENGTH)
                if (!all) return
                s = substr(s, RSTART + RLENGTH)
            }
        }
        /^  (-[A-Za-z0-9] \[ )?--[A-Za-z0-9]/ { emit($0, 0); next }
        /^usage:/ || /^ +ipsec[ -]/ { emit($0, 1) }' | sort -u
}

# man_options FILE tags|all SELECTOR: the long options of FILE, on .TP/.TQ tag lines only or
# anywhere, in the section `SH:NAME` or in every subsection whose title names `ipsec COMMAND`
# (`SS:COMMAND`).
man_options() {
    awk -v mode="$2" -v sel="$3" '
        function clean(s) {
            gsub(/\\-/, "-", s)
            gsub(/\\f[BIRP]/, "", s)
            gsub(/"/, "", s)
            return s
        }
        function emit(s) {
            s = clean(s)
            while (match(s, /--[A-Za-z0-9][A-Za-z0-9_-]*/)) {
                print substr(s, RSTART, RLENGTH)
                s = substr(s, RSTART + RLENGTH)
            }
        }
        BEGIN { kind = substr(sel, 1, 2); name = substr(sel, 4) }
        /^\.SH/ { sh = clean(substr($0, 5)); ss = ""; tag = 0; next }
        /^\.SS/ { ss = " " clean(substr($0, 5)) " "; gsub(/,/, " ", ss); tag = 0; next }
        /^\.(TP|TQ)/ { tag = 1; next }
        /^\.\\"/ { next }
        {
            inside = kind == "SH" ? sh == name : index(ss, " ipsec " name " ") > 0
            if (inside && (mode == "all" || tag)) emit($0)
            tag = 0
        }' "$1" | sort -u
}

failures=0
# compare WHAT HELP_FILE MAN_FILE SELECTOR
compare() {
    local what=$1 help=$2 page=$3 selector=$4 missing stale
    man_options "$page" all "$selector" >"$WORK/man-all"
    man_options "$page" tags "$selector" >"$WORK/man-tags"
    missing=$(comm -23 "$help" "$WORK/man-all" | tr '\n' ' ')
    stale=$(comm -13 "$help" "$WORK/man-tags" | tr '\n' ' ')
    if [ -n "$missing" ]; then
        echo "FAIL: $what --help has options $(basename "$page") ($selector) does not document: $missing" >&2
        failures=$((failures + 1))
    fi
    if [ -n "$stale" ]; then
        echo "FAIL: $(basename "$page") ($selector) documents options $what does not have: $stale" >&2
        failures=$((failures + 1))
    fi
    [ -n "$missing$stale" ] || pass "$what: $(wc -l <"$help") options, --help and $(basename "$page") agree"
}

help_options "$MOUNTD" >"$WORK/help"
[ "$(wc -l <"$WORK/help")" -ge 10 ] || die "ipsec-mountd --help: too few options: $(cat "$WORK/help")"
compare ipsec-mountd "$WORK/help" "$SRC/man/ipsec-mountd.8" SH:OPTIONS

help_options "$IPSEC" >"$WORK/help"
compare ipsec "$WORK/help" "$SRC/man/ipsec.8" SH:OPTIONS

# The commands, as `ipsec --help` names them: "ipsec [--control SOCK] spi|eroute|… [options]".
mapfile -t commands < <("$IPSEC" --help | awk '
    { sub(/^usage:/, "") }
    $1 == "ipsec" {
        w = ($2 ~ /^\[/) ? $4 : $2
        if (w ~ /^[a-z]/) { n = split(w, c, "|"); for (i = 1; i <= n; i++) print c[i] }
    }')
printf '%s\n' "${commands[@]}" | grep -qx spi || die "ipsec --help names no commands: $("$IPSEC" --help)"
for c in "${commands[@]}"; do
    grep -q "^\.SS .*ipsec $c\b" "$SRC/man/ipsec.8" || {
        echo "FAIL: ipsec(8) has no subsection for ipsec $c" >&2
        failures=$((failures + 1))
        continue
    }
    help_options "$IPSEC" "$c" >"$WORK/help"
    compare "ipsec $c" "$WORK/help" "$SRC/man/ipsec.8" "SS:$c"
done

# Every page renders without a warning.
for page in "$SRC"/man/*.[1-8]; do
    MANWIDTH=80 man -l "$page" >/dev/null 2>"$WORK/err" || true
    groff -ww -z -man "$page" 2>>"$WORK/err" || true
    if [ -s "$WORK/err" ]; then
        echo "FAIL: $(basename "$page") renders with warnings: $(cat "$WORK/err")" >&2
        failures=$((failures + 1))
    else
        pass "$(basename "$page") renders without warnings"
    fi
done

[ "$failures" -eq 0 ] || die "$failures differences between the --help texts and the man pages"
