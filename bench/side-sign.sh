#!/usr/bin/env bash
# Side by side for issue 4: signing a 1 GB PDF against `sha256sum` + `cp`
# of the same file (wall time, peak RSS), and semnat against @signpdf/signpdf
# (npm) on the same 1 MB and 20 MB files with the same RSA-2048 key, read by
# both from the same PKCS#12 file (3DES, which node-forge reads), so that
# each side pays the same key decoding. Both outputs must pass pdfsig
# (signature valid) or the row says "error".
# Prints TSV rows: name metric ours peer ratio, ratio = peer / ours (above 1:
# we are faster or smaller).
# Short run: BIG_SIZE=20M SIZES=1M bash bench/side-sign.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=auto
out=bench/out/sign
mkdir -p "$out"
go build -ldflags="${LDFLAGS:--s -w}" -o bin/semnat ./cmd/semnat  # as `make build`
go build -o "$out/runstat" ./bench/runstat
go build -o "$out/mkpdf" ./bench/mkpdf
[ -f "$out/pki/index.json" ] || bin/semnat testcerts generate -o "$out/pki" >/dev/null
key="--key $out/pki/person-rsa2048/key.pem --cert $out/pki/person-rsa2048/cert.pem --chain $out/pki/person-rsa2048/chain.pem"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
# valid FILE: pdfsig calls every signature of FILE valid (the digest and the
# CMS signature; -nocert: the chain is the verify tests' business).
valid() {
	local o
	o=$(pdfsig -nocert "$1" 2>&1) || return 1
	[ "$(grep -c 'Signature Validation: Signature is Valid.' <<<"$o")" -ge 1 ] &&
		[ "$(grep -c 'Signature Validation:' <<<"$o")" = "$(grep -c 'Signature is Valid.' <<<"$o")" ]
}
command -v pdfsig >/dev/null || { echo "side-sign: pdfsig (poppler-utils) is needed to check the outputs" >&2; exit 1; }

# --- 1 GB: wall time and peak RSS against sha256sum + cp -------------------
big="$out/big-${BIG_SIZE:-1G}.pdf"
[ -f "$big" ] || "$out/mkpdf" -size "${BIG_SIZE:-1G}" -o "$big"
cat "$big" > /dev/null # page cache warm for both sides
read -r ours_s ours_rss < <("$out/runstat" -n 3 -- bin/semnat sign "$big" -o "$out/big-signed.pdf" --force $key)
read -r peer_s peer_rss < <("$out/runstat" -n 3 -- sh -c "sha256sum '$big' >/dev/null && cp '$big' '$out/big-copy.pdf'")
big_name="sign-${BIG_SIZE:-1G}B-B-B"
if valid "$out/big-signed.pdf"; then
	printf '%s\twall_s\t%s\t%s\t%s\n' "$big_name" "$ours_s" "$peer_s (sha256sum+cp)" "$(ratio "$peer_s" "$ours_s")"
	printf '%s\tpeak_rss_MB\t%s\t%s\t%s\n' "$big_name" "$ours_rss" "64 (target)" "$(ratio 64 "$ours_rss")"
else
	printf '%s\twall_s\terror: output not valid for pdfsig\t-\t-\n' "$big_name"
fi
rm -f "$out/big-copy.pdf" "$out/big-signed.pdf"

# --- @signpdf/signpdf ----------------------------------------------------------
node_dir="$out/node"
if [ ! -d "$node_dir/node_modules/@signpdf/signpdf" ]; then
	mkdir -p "$node_dir"
	(cd "$node_dir" && npm init -y >/dev/null && npm install --silent --no-audit --no-fund \
		@signpdf/signpdf@3.3.0 @signpdf/signer-p12@3.3.0 @signpdf/placeholder-plain@3.3.0 >&2)
fi
cat > "$node_dir/sign.js" <<'JS'
const fs = require('fs');
const { SignPdf } = require('@signpdf/signpdf');
const { P12Signer } = require('@signpdf/signer-p12');
const { plainAddPlaceholder } = require('@signpdf/placeholder-plain');
(async () => {
  const [input, output, p12, pass] = process.argv.slice(2);
  const pdf = plainAddPlaceholder({ pdfBuffer: fs.readFileSync(input), reason: 'bench', contactInfo: 'x', name: 'x', location: 'x' });
  const signer = new P12Signer(fs.readFileSync(p12), { passphrase: pass });
  const signed = await new SignPdf().sign(pdf, signer);
  fs.writeFileSync(output, signed);
})().catch((e) => { console.error(e); process.exit(1); });
JS
# One key file for both sides: classic PKCS#12 (3DES), the one node-forge
# reads; semnat reads it too (--p12).
pass=bench
openssl pkcs12 -export -inkey "$out/pki/person-rsa2048/key.pem" -in "$out/pki/person-rsa2048/cert.pem" \
	-certfile "$out/pki/person-rsa2048/chain.pem" -keypbe PBE-SHA1-3DES -certpbe PBE-SHA1-3DES -macalg sha1 \
	-passout pass:$pass -out "$out/legacy.p12"
export SEMNAT_P12_PASSWORD=$pass
for size in ${SIZES:-1M 20M}; do
	f="$out/doc-$size.pdf"
	[ -f "$f" ] || "$out/mkpdf" -size "$size" -o "$f"
	rm -f "$out/ours-$size.pdf" "$out/peer-$size.pdf"
	read -r ours_s ours_rss < <("$out/runstat" -n 5 -- bin/semnat sign "$f" -o "$out/ours-$size.pdf" --force --p12 "$out/legacy.p12")
	read -r peer_s peer_rss < <("$out/runstat" -n 5 -- node "$node_dir/sign.js" "$f" "$out/peer-$size.pdf" "$out/legacy.p12" "$pass")
	for side in ours peer; do
		if ! valid "$out/$side-$size.pdf"; then
			printf 'sign-%s-vs-signpdf\twall_s\terror: %s output not valid for pdfsig\t-\t-\n' "$size" "$side"
			continue 2
		fi
	done
	printf 'sign-%s-vs-signpdf\twall_s\t%s\t%s\t%s\n' "$size" "$ours_s" "$peer_s" "$(ratio "$peer_s" "$ours_s")"
	printf 'sign-%s-vs-signpdf\tpeak_rss_MB\t%s\t%s\t%s\n' "$size" "$ours_rss" "$peer_rss" "$(ratio "$peer_rss" "$ours_rss")"
done
