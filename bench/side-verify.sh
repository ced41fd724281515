#!/usr/bin/env bash
# Side by side for issue 5: `semnat verify` against poppler's pdfsig and
# pdfcpu `signatures validate` on the same signed 1 MB file (per-file wall
# time, median of 5 runs: bench/runstat), and a signed 1 GB file (wall
# time, peak RSS; target <= 64 MB). Offline: revocation is not fetched by
# any tool. Each tool must call the file valid once before it is timed.
# Prints TSV rows: name metric ours peer ratio, ratio = peer / ours (above 1:
# we are faster or smaller).
# Short run: BIG_SIZE=20M bash bench/side-verify.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=auto
out=bench/out/verify
mkdir -p "$out"
go build -ldflags="${LDFLAGS:--s -w}" -o bin/semnat ./cmd/semnat  # as `make build`
go build -o "$out/runstat" ./bench/runstat
go build -o "$out/mkpdf" ./bench/mkpdf
[ -f "$out/pki/index.json" ] || bin/semnat testcerts generate -o "$out/pki" >/dev/null
key="--key $out/pki/person-p256/key.pem --cert $out/pki/person-p256/cert.pem --chain $out/pki/person-p256/chain.pem"
trust="$out/pki/trust-anchors.pem"
status=0 # a peer that could not run fails the script, after the other rows
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }

doc="$out/doc-1M.pdf"
[ -f "$doc" ] || "$out/mkpdf" -size 1M -o "$doc"
bin/semnat sign "$doc" -o "$out/signed-1M.pdf" --force $key >/dev/null
read -r ours_s _ < <("$out/runstat" -n 5 -- bin/semnat verify "$out/signed-1M.pdf" --trust "$trust" --revocation skip)
# Batch: 20 files in one run (how the portal and `semnat verify *.pdf` use
# it); per-file time = total / 20. The single-file time above is mostly
# process start-up.
batch=()
for i in $(seq 1 20); do
	[ -f "$out/batch-$i.pdf" ] || cp "$out/signed-1M.pdf" "$out/batch-$i.pdf"
	batch+=("$out/batch-$i.pdf")
done
read -r batch_s _ < <("$out/runstat" -n 5 -- bin/semnat verify "${batch[@]}" --trust "$trust" --revocation skip)
batch_s=$(awk -v t="$batch_s" 'BEGIN { printf "%.4f", t / 20 }')

if command -v pdfsig >/dev/null; then
	nss="$out/nss"
	if [ ! -d "$nss" ]; then
		mkdir -p "$nss"
		certutil -N -d "sql:$nss" --empty-password
		certutil -A -d "sql:$nss" -n semnat-root -t CT,C,C -i "$trust"
	fi
	o=$(pdfsig -no-ocsp -nssdir "sql:$nss" "$out/signed-1M.pdf" 2>&1) || true
	grep -q 'Signature is Valid.' <<<"$o" && grep -q 'Certificate is Trusted.' <<<"$o" ||
		{ echo "side-verify: pdfsig does not call the file valid and trusted:" >&2; echo "$o" >&2; exit 1; }
	read -r peer_s _ < <("$out/runstat" -n 5 -- pdfsig -no-ocsp -nssdir "sql:$nss" "$out/signed-1M.pdf")
	printf 'verify-1MB-vs-pdfsig\twall_s\t%s\t%s\t%s\n' "$ours_s" "$peer_s" "$(ratio "$peer_s" "$ours_s")"
	printf 'verify-1MB-batch-vs-pdfsig\twall_s_per_file\t%s\t%s\t%s\n' "$batch_s" "$peer_s" "$(ratio "$peer_s" "$batch_s")"
else
	printf 'verify-1MB-vs-pdfsig\twall_s\tnot run: pdfsig not installed (apt-get install poppler-utils)\t-\t-\n'
	status=1
fi

pdfcpu=$(command -v pdfcpu || echo "$(go env GOPATH)/bin/pdfcpu")
if [ -x "$pdfcpu" ]; then
	export XDG_CONFIG_HOME="$out/pdfcpu-config"
	[ -d "$XDG_CONFIG_HOME/pdfcpu/certs" ] || "$pdfcpu" certificates import "$trust" >/dev/null
	o=$("$pdfcpu" signatures validate -a -f "$out/signed-1M.pdf" 2>&1) || true
	grep -q 'Local Path: Status: ok' <<<"$o" && ! grep -q 'signature is invalid' <<<"$o" ||
		{ echo "side-verify: pdfcpu does not find the file intact and its chain trusted:" >&2; echo "$o" >&2; exit 1; }
	read -r peer_s _ < <("$out/runstat" -n 5 -- "$pdfcpu" signatures validate -a "$out/signed-1M.pdf")
	printf 'verify-1MB-vs-pdfcpu\twall_s\t%s\t%s\t%s\n' "$ours_s" "$peer_s" "$(ratio "$peer_s" "$ours_s")"
	printf 'verify-1MB-batch-vs-pdfcpu\twall_s_per_file\t%s\t%s\t%s\n' "$batch_s" "$peer_s" "$(ratio "$peer_s" "$batch_s")"
else
	printf 'verify-1MB-vs-pdfcpu\twall_s\tnot run: pdfcpu not installed (go install github.com/pdfcpu/pdfcpu/cmd/pdfcpu@v0.15.0)\t-\t-\n'
	status=1
fi

big="$out/big-${BIG_SIZE:-1G}.pdf"
[ -f "$big" ] || "$out/mkpdf" -size "${BIG_SIZE:-1G}" -o "$big"
[ -f "$out/big-signed.pdf" ] || bin/semnat sign "$big" -o "$out/big-signed.pdf" --force $key >/dev/null
cat "$out/big-signed.pdf" > /dev/null
read -r ours_s ours_rss < <("$out/runstat" -n 3 -- bin/semnat verify "$out/big-signed.pdf" --trust "$trust" --revocation skip)
read -r peer_s _ < <("$out/runstat" -n 3 -- sha256sum "$out/big-signed.pdf")
printf 'verify-%sB\twall_s\t%s\t%s\t%s\n' "${BIG_SIZE:-1G}" "$ours_s" "$peer_s (sha256sum)" "$(ratio "$peer_s" "$ours_s")"
printf 'verify-%sB\tpeak_rss_MB\t%s\t%s\t%s\n' "${BIG_SIZE:-1G}" "$ours_rss" "64 (target)" "$(ratio 64 "$ours_rss")"
exit $status
