#!/usr/bin/env bash
# Fetch NIST's public-domain reference data used by the standards tests into
# DIR (default testdata/nist), laid out as the tests expect:
#   DIR/drbgvectors/{no_reseed,pr_false,pr_true}_CTR_DRBG_AES-256_{no_df,use_df}.rsp
#   DIR/sp800-90b/*.bin  (sample files of SP800-90B_EntropyAssessment)
# The expected outputs of NIST's ea_non_iid/ea_iid (*.noniid.json, *.iid.json)
# are not published by NIST: produce them with the tool itself (make it from
# the repository below and run `ea_non_iid -vv -o X.noniid.json X.bin`).
# Needs curl, unzip and git, and internet access. Not used by CI.
set -euo pipefail
dir=${1:-testdata/nist}
mkdir -p "$dir/drbgvectors" "$dir/sp800-90b"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

# SP 800-90A CAVP vectors (CAVS 14.3), from
# https://csrc.nist.gov/projects/cryptographic-algorithm-validation-program/random-number-generators
curl -fsSL -o "$tmp/drbg.zip" \
  https://csrc.nist.gov/CSRC/media/Projects/Cryptographic-Algorithm-Validation-Program/documents/drbg/drbgtestvectors.zip
unzip -q -o "$tmp/drbg.zip" -d "$tmp/drbg"
# Split the CTR_DRBG files into the [AES-256 no df] and [AES-256 use df] sections.
for flow in no_reseed pr_false pr_true; do
  src=$(find "$tmp/drbg" -path "*${flow}*" -name 'CTR_DRBG.rsp' | head -n 1)
  [ -n "$src" ] || { echo "CTR_DRBG.rsp for $flow not found in the archive" >&2; exit 1; }
  for df in no_df use_df; do
    sect="AES-256 ${df/_/ }"
    tr -d '\r' <"$src" | awk -v s="[$sect]" '
      /^\[AES-|^\[3KeyTDEA|^\[2KeyTDEA/ { on = ($0 == s) }
      on' >"$dir/drbgvectors/${flow}_CTR_DRBG_AES-256_${df}.rsp"
  done
done

# SP 800-90B sample data from the NIST tool's repository.
git clone -q --depth 1 https://github.com/usnistgov/SP800-90B_EntropyAssessment "$tmp/ea"
cp "$tmp/ea"/bin/*.bin "$dir/sp800-90b/"
echo "reference data in $dir"
