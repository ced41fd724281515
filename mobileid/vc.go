package mobileid

import "fmt"

// VerificationCode is the 4-digit code shown both on the relying party's page
// and on the phone for a hash (Mobile-ID, SK-EID/MID §2.4.1): 6 bits from the
// first byte and 7 bits from the last byte of the raw hash, printed "%04d".
// Hashes shorter than 20 bytes give "0000", as the reference Java client does.
// semnat shows this code on both protocol faces.
func VerificationCode(hash []byte) string {
	if len(hash) < 20 {
		return "0000"
	}
	v := int(hash[0]&0xFC)<<5 | int(hash[len(hash)-1]&0x7F)
	return fmt.Sprintf("%04d", v)
}
