package cms

import (
	"crypto"
	"encoding/asn1"
	"math/big"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// TSTInfo is the content of an RFC 3161 timestamp token (§2.4.2).
type TSTInfo struct {
	Policy        asn1.ObjectIdentifier
	HashAlg       crypto.Hash
	HashedMessage []byte
	Serial        *big.Int
	GenTime       time.Time
	Nonce         *big.Int // nil if absent
}

// ParseTSTInfo parses the DER TSTInfo carried as eContent of a token.
func ParseTSTInfo(der []byte) (*TSTInfo, error) {
	in := cryptobyte.String(der)
	var seq, imprint cryptobyte.String
	var version int64
	info := &TSTInfo{Serial: new(big.Int)}
	if !in.ReadASN1(&seq, cbasn1.SEQUENCE) || !seq.ReadASN1Integer(&version) || version != 1 ||
		!seq.ReadASN1ObjectIdentifier(&info.Policy) || !seq.ReadASN1(&imprint, cbasn1.SEQUENCE) {
		return nil, malformed("TSTInfo")
	}
	oid, _, err := readAlgorithm(&imprint)
	if err != nil {
		return nil, err
	}
	if info.HashAlg, err = HashFromOID(oid); err != nil {
		return nil, err
	}
	var hm cryptobyte.String
	if !imprint.ReadASN1(&hm, cbasn1.OCTET_STRING) || !imprint.Empty() {
		return nil, malformed("TSTInfo messageImprint")
	}
	info.HashedMessage = hm
	if !seq.ReadASN1Integer(info.Serial) || !seq.ReadASN1GeneralizedTime(&info.GenTime) {
		return nil, malformed("TSTInfo serial or genTime")
	}
	// accuracy, ordering: skipped; nonce read if present.
	if seq.PeekASN1Tag(cbasn1.SEQUENCE) {
		var acc cryptobyte.String
		seq.ReadASN1(&acc, cbasn1.SEQUENCE)
	}
	if seq.PeekASN1Tag(cbasn1.BOOLEAN) {
		var b bool
		if !seq.ReadASN1Boolean(&b) {
			return nil, malformed("TSTInfo ordering")
		}
	}
	if seq.PeekASN1Tag(cbasn1.INTEGER) {
		info.Nonce = new(big.Int)
		if !seq.ReadASN1Integer(info.Nonce) {
			return nil, malformed("TSTInfo nonce")
		}
	}
	return info, nil
}
