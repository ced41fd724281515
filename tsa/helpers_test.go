package tsa

import (
	"crypto/x509/pkix"
	"encoding/asn1"
)

func pkixExt() pkix.Extension {
	return pkix.Extension{Id: asn1.ObjectIdentifier{1, 2, 3, 4}, Value: []byte{0x05, 0x00}}
}
