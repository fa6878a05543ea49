#!/usr/bin/env bash
# Fetch the published tables the tests and benchmarks use into data/<name>/, each checked
# against its sha256 (data/<name>/SOURCE.md has the source, commit and licence of each).
#
#   bash data/fetch.sh             download each missing table from raw.githubusercontent.com,
#                                  at its pinned commit
#   bash data/fetch.sh --from DIR  copy them from DIR/<name>/<file> instead (a directory laid
#                                  out like data/, such as the copy CI keeps beside its clone)
#
# A table already present is only checked. Any mismatch is an error (exit 1), and a download
# or copy that does not match is removed, never left in place. Run from anywhere.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
from=""
case "${1-}" in
  "") ;;
  --from)
    [ $# -eq 2 ] || { echo "usage: bash data/fetch.sh [--from DIR]" >&2; exit 2; }
    from="$2"
    [ -d "$from" ] || { echo "fetch.sh: $from is not a directory" >&2; exit 2; } ;;
  *) echo "usage: bash data/fetch.sh [--from DIR]" >&2; exit 2 ;;
esac

# name/file  sha256  repository  commit  path in the repository
tables=(
  "epoch_chinchilla/svg_extracted_data.csv 193478df4e90f040016431996c45682659306840ecdadf83cfb9cd5ca0aa1b30 epoch-research/analyzing-chinchilla 92258837425e1b5f2851d624287f0120583a3d0e data/svg_extracted_data.csv"
  "apple_dmsl_slimpajama/dmsl_llm_slimpajama.csv 9c950a9f96e058318cfcefde5835143525937186163f4c2345b030ef0ea0519f meiqwq/Explaining-Data-Mixing-Scaling-Laws 9f06e7b68c2060dd73d29e862d136dfa0d894dfb data/dmsl_llm_slimpajama.csv"
  "open_athena_isoflops/isoflops.csv cf343ffda3106862e0e73bfc10ed017f683a03e46f4540896a213276fd180651 Open-Athena/scaling-law-analysis 3e0656ee3dce1a2c89aa67691920f5eb9d30f0fc data/isoflops/extract/isoflops.csv"
)

sha256() {
  if command -v sha256sum >/dev/null; then sha256sum "$1" | cut -d' ' -f1
  else shasum -a 256 "$1" | cut -d' ' -f1; fi
}

failed=0
for t in "${tables[@]}"; do
  read -r rel want repo commit path <<<"$t"
  dest="$here/$rel"
  if [ -e "$dest" ]; then
    got="$(sha256 "$dest")"
    if [ "$got" = "$want" ]; then
      echo "ok       data/$rel"
    else
      echo "MISMATCH data/$rel: sha256 $got, expected $want (remove it and fetch again)" >&2
      failed=1
    fi
    continue
  fi
  tmp="$dest.tmp"
  rm -f "$tmp"
  if [ -n "$from" ]; then
    src="$from/$rel"
    if ! cp "$src" "$tmp"; then
      echo "FAILED   data/$rel: cannot copy $src" >&2
      rm -f "$tmp"; failed=1; continue
    fi
    chmod u+w,a+r "$tmp"
  else
    url="https://raw.githubusercontent.com/$repo/$commit/$path"
    if ! curl -fsSL --retry 3 -o "$tmp" "$url"; then
      echo "FAILED   data/$rel: cannot download $url" >&2
      rm -f "$tmp"; failed=1; continue
    fi
    src="$url"
  fi
  got="$(sha256 "$tmp")"
  if [ "$got" != "$want" ]; then
    echo "MISMATCH data/$rel from $src: sha256 $got, expected $want (not kept)" >&2
    rm -f "$tmp"; failed=1; continue
  fi
  mv "$tmp" "$dest"
  echo "fetched  data/$rel"
done

if [ "$failed" -ne 0 ]; then
  echo "fetch.sh: some tables are missing or wrong (see above)" >&2
  exit 1
fi
