#!/bin/bash
# Copies PROGRAM... and every shared library they load into ROOT, a tree that
# the runtime stage lays over its base image: each library at its canonical
# path (merged /usr: /lib/x/libz.so.1 goes to /usr/lib/x/libz.so.1, symlinks
# followed), with an ld.so.conf.d entry for the directories used. Libraries
# whose bytes the base already has (BASE_SUMS: sha256 of each) are left out,
# since the runtime stage starts from that same base.
#   copy-runtime-closure.sh ROOT BASE_SUMS PROGRAM...
set -euo pipefail
root=$1 base_sums=$2
shift 2

ldd_output=$(ldd "$@")
if grep -q 'not found' <<<"$ldd_output"; then
  grep 'not found' <<<"$ldd_output" >&2
  exit 1
fi
# "libx.so.1 => /path/libx.so.1 (0x...)", and the loader as "/path/ld.so (0x...)".
libraries=$(awk '$2 == "=>" && $3 ~ "^/" {print $3} $1 ~ "^/" && $2 ~ "^[(]0x" {print $1}' \
  <<<"$ldd_output" | sort -u)

copied=0 skipped=0
declare -A directories
for library in $libraries; do
  if grep -qxF "$(sha256sum <"$library" | cut -d' ' -f1)" "$base_sums"; then
    skipped=$((skipped + 1))
    continue
  fi
  directory=$(realpath "$(dirname "$library")")
  mkdir -p "$root$directory"
  cp -L "$library" "$root$directory/"
  directories[$directory]=1
  copied=$((copied + 1))
done
mkdir -p "$root/etc/ld.so.conf.d"
printf '%s\n' "${!directories[@]}" | sort >"$root/etc/ld.so.conf.d/roiserve.conf"
cp --parents "$@" "$root/"
echo "copy-runtime-closure: $copied libraries copied ($(du -sm "$root" | cut -f1) MB with the programs)," \
  "$skipped already in the base"
