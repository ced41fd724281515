package pdf

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/md5"
	"crypto/rand"
	"crypto/rc4"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
)

// The standard security handler (ISO 32000-2 7.6.4): RC4 40 to 128 bits
// (V1, V2; R2, R3), crypt filters (V4: V2, AESV2, Identity) and AES-256
// (V5: AESV3, R5 and R6). Strings and streams of objects read from the
// file are decrypted as they are read; objects in object streams are
// decrypted with their object stream. Not encrypted, as the standard says:
// the /Encrypt dictionary, cross-reference streams, the trailer's /ID and
// the /Contents string of a signature dictionary.

// Permission is one of the user access permission bits of /P
// (ISO 32000-2 Table 22); bit n of the standard is 1<<(n-1).
type Permission uint32

const (
	PermPrint     Permission = 1 << 2  // bit 3: print
	PermModify    Permission = 1 << 3  // bit 4: modify the contents by other operations than 6, 9, 11
	PermCopy      Permission = 1 << 4  // bit 5: copy or extract text and graphics
	PermAnnotate  Permission = 1 << 5  // bit 6: add or modify annotations, fill in form fields
	PermFillForms Permission = 1 << 8  // bit 9: fill in form fields, including signature fields (R3+)
	PermExtract   Permission = 1 << 9  // bit 10: extract for accessibility
	PermAssemble  Permission = 1 << 10 // bit 11: assemble (insert, rotate, delete pages)
	PermPrintHigh Permission = 1 << 11 // bit 12: print in high quality
)

// cryptMethod is how one crypt filter encrypts.
type cryptMethod int

const (
	cryptIdentity cryptMethod = iota
	cryptRC4
	cryptAESV2
	cryptAESV3
)

// securityHandler holds the file key and the crypt filters of an
// encrypted file whose password was accepted.
type securityHandler struct {
	v, rev          int64
	key             []byte // file encryption key
	stm, str, eff   cryptMethod
	filters         map[Name]cryptMethod
	encryptMetadata bool
	encRef          Ref // the /Encrypt dictionary's object (never decrypted); zero if direct
	badStrings      atomic.Int64
}

// padding is the 32-byte string of Algorithm 2, step a.
var padding = []byte{
	0x28, 0xBF, 0x4E, 0x5E, 0x4E, 0x75, 0x8A, 0x41, 0x64, 0x00, 0x4E, 0x56, 0xFF, 0xFA, 0x01, 0x08,
	0x2E, 0x2E, 0x00, 0xB6, 0xD0, 0x68, 0x3E, 0x80, 0x2F, 0x0C, 0xA9, 0xFE, 0x64, 0x53, 0x69, 0x7A,
}

// encryptParams are the /Encrypt entries the key derivation needs.
type encryptParams struct {
	v, rev, keyLen  int64 // keyLen in bytes
	o, u, oe, ue    []byte
	perms           []byte
	p               int32
	id0             []byte
	encryptMetadata bool
}

// setupCrypt reads the standard security handler of an encrypted file and
// authenticates with the caller's password (or the empty one). It leaves
// r.crypt nil for security handlers it does not implement (the file can
// then be inspected but not decrypted: ErrEncrypted) and returns an error
// wrapping ErrPassword when no password opens the file.
func (r *Reader) setupCrypt() error {
	r.crypt = nil
	info := r.encrypt
	if info == nil || info.Dict == nil {
		return nil
	}
	d := info.Dict
	if info.Filter != "Standard" {
		return nil // public-key or other handlers: not implemented
	}
	ep := encryptParams{v: info.V, rev: info.R, encryptMetadata: true}
	ep.o = r.encString(d, "O")
	ep.u = r.encString(d, "U")
	ep.oe = r.encString(d, "OE")
	ep.ue = r.encString(d, "UE")
	ep.perms = r.encString(d, "Perms")
	if p, ok := d.Int("P"); ok {
		ep.p = int32(uint32(p)) // written signed or unsigned by different writers
	}
	if b, ok := d.Get("EncryptMetadata").(Bool); ok {
		ep.encryptMetadata = bool(b)
	}
	if a, ok := r.trailerID().(Array); ok && len(a) > 0 {
		if s, ok := a[0].(String); ok {
			ep.id0 = s.Value
		}
	}
	h := &securityHandler{v: ep.v, rev: ep.rev, encryptMetadata: ep.encryptMetadata, filters: map[Name]cryptMethod{"Identity": cryptIdentity}}
	if ref, ok := r.Trailer().Get("Encrypt").(Ref); ok {
		h.encRef = ref
	}
	switch ep.v {
	case 1:
		ep.keyLen = 5
		h.stm, h.str, h.eff = cryptRC4, cryptRC4, cryptRC4
	case 2:
		ep.keyLen = 5
		if l, ok := d.Int("Length"); ok {
			ep.keyLen = l / 8
		}
		h.stm, h.str, h.eff = cryptRC4, cryptRC4, cryptRC4
	case 4, 5:
		ep.keyLen = 16
		if ep.v == 5 {
			ep.keyLen = 32
		} else if l, ok := d.Int("Length"); ok && l >= 40 && l <= 128 {
			ep.keyLen = l / 8
		}
		cf, _ := r.ResolveDict(d.Get("CF"))
		if cf != nil {
			for _, e := range cf.Entries() {
				fd, _ := r.ResolveDict(e.Value)
				if fd == nil {
					continue
				}
				cfm, _ := fd.Name("CFM")
				switch cfm {
				case "V2":
					h.filters[e.Key] = cryptRC4
				case "AESV2":
					h.filters[e.Key] = cryptAESV2
				case "AESV3":
					h.filters[e.Key] = cryptAESV3
				case "None", "":
					h.filters[e.Key] = cryptIdentity
				default:
					return fmt.Errorf("%w: crypt filter /%s uses /CFM /%s, which is not implemented", ErrEncrypted, e.Key, cfm)
				}
			}
		}
		pick := func(k Name) (cryptMethod, error) {
			n, ok := d.Name(k)
			if !ok {
				n = "Identity"
			}
			m, ok := h.filters[n]
			if !ok {
				return 0, fmt.Errorf("%w: /%s names crypt filter /%s, which /CF does not define", ErrEncrypted, k, n)
			}
			return m, nil
		}
		var err error
		if h.stm, err = pick("StmF"); err != nil {
			return err
		}
		if h.str, err = pick("StrF"); err != nil {
			return err
		}
		h.eff = h.stm
		if d.Has("EFF") {
			if h.eff, err = pick("EFF"); err != nil {
				return err
			}
		}
	default:
		return nil // V0, V3 (unpublished) or unknown: not implemented
	}
	if ep.v == 4 {
		for _, m := range h.filters {
			if m == cryptAESV2 || m == cryptAESV3 {
				ep.keyLen = 16 // AES-128, whatever /Length says
			}
		}
	}
	if ep.keyLen < 5 || ep.keyLen > 32 || (ep.v < 5 && ep.keyLen > 16) {
		return fmt.Errorf("%w: key length %d bits is not valid", ErrEncrypted, ep.keyLen*8)
	}
	key, owner, err := authenticate(&ep, r.opts.Password)
	if err != nil {
		return err
	}
	h.key = key
	info.Permissions = Permission(uint32(ep.p))
	info.owner = owner
	info.EncryptMetadata = ep.encryptMetadata
	if ep.rev >= 5 && !permsMatch(key, ep.perms, ep.p) {
		r.note("the /Perms entry of the /Encrypt dictionary does not match /P")
	}
	r.crypt = h
	return nil
}

// encString returns the bytes of a string entry of the /Encrypt dictionary.
func (r *Reader) encString(d *Dict, k Name) []byte {
	o, _ := r.Resolve(d.Get(k))
	if s, ok := o.(String); ok {
		return s.Value
	}
	return nil
}

// trailerID is the /ID of the trailer, looking in older sections when the
// newest one has none.
func (r *Reader) trailerID() Object {
	if id := r.Trailer().Get("ID"); id != nil {
		return id
	}
	for _, s := range r.chain {
		if id := s.trailer.Get("ID"); id != nil {
			return id
		}
	}
	return nil
}

// authenticate finds the file key from the password: tried as the owner
// password first, then as the user password. The empty password, the
// usual case of a file anyone may open, is tried as the user password
// first, and whether it is also the owner's is found out only when asked
// (owner): for AES-256 each check costs a hundred rounds of AES and SHA-2,
// which verifying does not need.
func authenticate(ep *encryptParams, pw []byte) (key []byte, owner func() bool, err error) {
	yes := func() bool { return true }
	if ep.rev >= 5 {
		if len(pw) > 127 {
			pw = pw[:127]
		}
		if len(ep.o) < 48 || len(ep.u) < 48 || len(ep.oe) < 32 || len(ep.ue) < 32 {
			return nil, nil, fmt.Errorf("%w: /O, /U, /OE or /UE of the /Encrypt dictionary is too short", ErrEncrypted)
		}
		isOwner := func() bool { return bytes.Equal(hashR6(ep.rev, pw, ep.o[32:40], ep.u[:48]), ep.o[:32]) }
		ownerKey := func() []byte { return aesNoIV(hashR6(ep.rev, pw, ep.o[40:48], ep.u[:48]), ep.oe[:32]) }
		if len(pw) > 0 && isOwner() {
			return ownerKey(), yes, nil
		}
		if bytes.Equal(hashR6(ep.rev, pw, ep.u[32:40], nil), ep.u[:32]) {
			k := hashR6(ep.rev, pw, ep.u[40:48], nil)
			if len(pw) > 0 {
				return aesNoIV(k, ep.ue[:32]), func() bool { return false }, nil
			}
			return aesNoIV(k, ep.ue[:32]), isOwner, nil
		}
		if len(pw) == 0 && isOwner() {
			return ownerKey(), yes, nil
		}
		return nil, nil, passwordErr(pw)
	}
	if ep.rev < 2 || ep.rev > 4 {
		return nil, nil, fmt.Errorf("%w: standard security handler revision %d is not implemented", ErrEncrypted, ep.rev)
	}
	if len(ep.o) < 32 || len(ep.u) < 32 && ep.rev == 2 || len(ep.u) < 16 {
		return nil, nil, fmt.Errorf("%w: /O or /U of the /Encrypt dictionary is too short", ErrEncrypted)
	}
	// Owner password (Algorithm 7): decrypt /O to get the user password.
	if upw := userFromOwner(ep, pw); upw != nil {
		if k := checkUser(ep, upw); k != nil {
			return k, yes, nil
		}
	}
	if k := checkUser(ep, pw); k != nil {
		return k, func() bool { return false }, nil
	}
	return nil, nil, passwordErr(pw)
}

func passwordErr(pw []byte) error {
	if len(pw) == 0 {
		return fmt.Errorf("%w: the file is protected by a user password; give it (or the owner password) to open the file", ErrPasswordRequired)
	}
	return fmt.Errorf("%w: the password given is neither the user nor the owner password of this file", ErrWrongPassword)
}

// padPassword is Algorithm 2 step a.
func padPassword(pw []byte) []byte {
	out := make([]byte, 32)
	n := copy(out, pw)
	copy(out[n:], padding)
	return out
}

// fileKeyR4 is Algorithm 2 (R2 to R4).
func fileKeyR4(ep *encryptParams, pw []byte) []byte {
	h := md5.New()
	h.Write(padPassword(pw))
	h.Write(ep.o[:32])
	var p [4]byte
	binary.LittleEndian.PutUint32(p[:], uint32(ep.p))
	h.Write(p[:])
	h.Write(ep.id0)
	if ep.rev >= 4 && !ep.encryptMetadata {
		h.Write([]byte{0xff, 0xff, 0xff, 0xff})
	}
	sum := h.Sum(nil)
	n := int(ep.keyLen)
	if ep.rev == 2 {
		n = 5
	}
	if ep.rev >= 3 {
		for range 50 {
			s := md5.Sum(sum[:n])
			sum = s[:]
		}
	}
	return sum[:n]
}

// checkUser is Algorithms 4 and 5 (check the user password); it returns
// the file key if pw is the user password.
func checkUser(ep *encryptParams, pw []byte) []byte {
	key := fileKeyR4(ep, pw)
	if ep.rev == 2 {
		u := rc4Crypt(key, padding)
		if bytes.Equal(u, ep.u[:32]) {
			return key
		}
		return nil
	}
	h := md5.New()
	h.Write(padding)
	h.Write(ep.id0)
	x := h.Sum(nil)
	x = rc4Crypt(key, x)
	k := make([]byte, len(key))
	for i := byte(1); i <= 19; i++ {
		for j := range key {
			k[j] = key[j] ^ i
		}
		x = rc4Crypt(k, x)
	}
	if bytes.Equal(x[:16], ep.u[:16]) {
		return key
	}
	return nil
}

// userFromOwner is Algorithm 7 steps a-b: the padded user password that
// /O hides if pw is the owner password (garbage otherwise).
func userFromOwner(ep *encryptParams, pw []byte) []byte {
	sum := md5.Sum(padPassword(pw))
	h := sum[:]
	n := int(ep.keyLen)
	if ep.rev == 2 {
		n = 5
	}
	if ep.rev >= 3 {
		for range 50 {
			s := md5.Sum(h)
			h = s[:]
		}
	}
	key := h[:n]
	if ep.rev == 2 {
		return rc4Crypt(key, ep.o[:32])
	}
	x := append([]byte(nil), ep.o[:32]...)
	k := make([]byte, n)
	for i := 19; i >= 0; i-- {
		for j := range key {
			k[j] = key[j] ^ byte(i)
		}
		x = rc4Crypt(k, x)
	}
	return x
}

// hashR6 is the password hash of R5 (SHA-256) and R6 (Algorithm 2.B).
func hashR6(rev int64, pw, salt, udata []byte) []byte {
	h := sha256.New()
	h.Write(pw)
	h.Write(salt)
	h.Write(udata)
	k := h.Sum(nil)
	if rev == 5 {
		return k
	}
	// K1 and E are at most 64 * (127 + 64 + 48) bytes: allocated once.
	k1 := make([]byte, 0, 64*(len(pw)+64+len(udata)))
	e := make([]byte, cap(k1))
	for i := 0; ; i++ {
		k1 = k1[:0]
		for range 64 {
			k1 = append(k1, pw...)
			k1 = append(k1, k...)
			k1 = append(k1, udata...)
		}
		blk, _ := aes.NewCipher(k[:16]) // 16-byte key: cannot fail
		e = e[:len(k1)]
		cipher.NewCBCEncrypter(blk, k[16:32]).CryptBlocks(e, k1)
		sum := 0
		for _, b := range e[:16] {
			sum += int(b)
		}
		switch sum % 3 {
		case 0:
			s := sha256.Sum256(e)
			k = s[:]
		case 1:
			s := sha512.Sum384(e)
			k = s[:]
		case 2:
			s := sha512.Sum512(e)
			k = s[:]
		}
		if i >= 63 && int(e[len(e)-1]) <= i+1-32 {
			break
		}
	}
	return k[:32]
}

// aesNoIV decrypts the 32-byte /OE or /UE with AES-256 in CBC mode and a
// zero IV, without padding.
func aesNoIV(key, data []byte) []byte {
	blk, _ := aes.NewCipher(key) // 32-byte key: cannot fail
	out := make([]byte, len(data))
	cipher.NewCBCDecrypter(blk, make([]byte, 16)).CryptBlocks(out, data)
	return out
}

// permsMatch checks /Perms (Algorithm 13): AES-256 ECB of P and "adb".
func permsMatch(key, perms []byte, p int32) bool {
	if len(perms) < 16 {
		return false
	}
	blk, _ := aes.NewCipher(key)
	var out [16]byte
	blk.Decrypt(out[:], perms[:16])
	return string(out[9:12]) == "adb" && binary.LittleEndian.Uint32(out[:4]) == uint32(p)
}

func rc4Crypt(key, data []byte) []byte {
	c, err := rc4.NewCipher(key)
	if err != nil {
		return nil
	}
	out := make([]byte, len(data))
	c.XORKeyStream(out, data)
	return out
}

// objectKey is Algorithm 1: the key for the strings and streams of object
// ref (AES-256 uses the file key itself).
func (h *securityHandler) objectKey(m cryptMethod, ref Ref) []byte {
	if m == cryptAESV3 {
		return h.key
	}
	b := make([]byte, 0, len(h.key)+9)
	b = append(b, h.key...)
	b = append(b, byte(ref.Num), byte(ref.Num>>8), byte(ref.Num>>16), byte(ref.Gen), byte(ref.Gen>>8))
	if m == cryptAESV2 {
		b = append(b, "sAlT"...)
	}
	sum := md5.Sum(b)
	return sum[:min(len(h.key)+5, 16)]
}

var errCryptData = errors.New("pdf: encrypted data is malformed")

// decryptBytes decrypts one string.
func (h *securityHandler) decryptBytes(m cryptMethod, ref Ref, data []byte) ([]byte, error) {
	switch m {
	case cryptRC4:
		return rc4Crypt(h.objectKey(m, ref), data), nil
	case cryptAESV2, cryptAESV3:
		if len(data) == 0 {
			return data, nil
		}
		if len(data) < 16 || len(data)%16 != 0 {
			return nil, fmt.Errorf("%w: AES data of %d bytes is not whole blocks after the IV", errCryptData, len(data))
		}
		blk, _ := aes.NewCipher(h.objectKey(m, ref))
		out := make([]byte, len(data)-16)
		cipher.NewCBCDecrypter(blk, data[:16]).CryptBlocks(out, data[16:])
		return unpad(out)
	}
	return data, nil
}

func unpad(b []byte) ([]byte, error) {
	if len(b) == 0 {
		return b, nil
	}
	n := int(b[len(b)-1])
	if n == 0 || n > 16 || n > len(b) {
		return nil, fmt.Errorf("%w: bad AES padding", errCryptData)
	}
	for _, c := range b[len(b)-n:] {
		if int(c) != n {
			return nil, fmt.Errorf("%w: bad AES padding", errCryptData)
		}
	}
	return b[:len(b)-n], nil
}

// encryptBytes encrypts one string or in-memory stream for object ref.
func (h *securityHandler) encryptBytes(m cryptMethod, ref Ref, data []byte) ([]byte, error) {
	switch m {
	case cryptRC4:
		return rc4Crypt(h.objectKey(m, ref), data), nil
	case cryptAESV2, cryptAESV3:
		blk, _ := aes.NewCipher(h.objectKey(m, ref))
		n := 16 - len(data)%16
		out := make([]byte, 16+len(data)+n)
		if _, err := rand.Read(out[:16]); err != nil {
			return nil, err
		}
		copy(out[16:], data)
		for i := 16 + len(data); i < len(out); i++ {
			out[i] = byte(n)
		}
		cipher.NewCBCEncrypter(blk, out[:16]).CryptBlocks(out[16:], out[16:])
		return out, nil
	}
	return data, nil
}

// isSigDict reports whether d is a signature dictionary, whose /Contents is
// never encrypted (ISO 32000-2 7.6.2).
func isSigDict(d *Dict) bool {
	if d.Has("ByteRange") {
		return true
	}
	t, _ := d.Name("Type")
	return t == "Sig" || t == "DocTimeStamp"
}

// cryptStrings decrypts (enc false) or encrypts the strings of o, the
// value of indirect object ref, in place for decryption, in a copy for
// encryption (the caller's objects are never changed).
func (h *securityHandler) cryptStrings(o Object, ref Ref, enc bool, depth int) (Object, error) {
	if depth > maxMarshalDepth {
		return nil, fmt.Errorf("%w: object nesting deeper than %d", ErrLimit, maxMarshalDepth)
	}
	switch v := o.(type) {
	case String:
		var b []byte
		var err error
		if enc {
			b, err = h.encryptBytes(h.str, ref, v.Value)
		} else if b, err = h.decryptBytes(h.str, ref, v.Value); err != nil {
			h.badStrings.Add(1) // kept as stored, as other readers do
			return v, nil
		}
		if err != nil {
			return nil, err
		}
		return String{Value: b, Hex: v.Hex}, nil
	case Array:
		out := v
		if enc {
			out = make(Array, len(v))
		}
		for i, x := range v {
			y, err := h.cryptStrings(x, ref, enc, depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = y
		}
		return out, nil
	case *Dict:
		out := v
		if enc {
			out = v.Clone()
		}
		sig := isSigDict(v)
		for i, e := range out.entries {
			if sig && e.Key == "Contents" {
				continue
			}
			y, err := h.cryptStrings(e.Value, ref, enc, depth+1)
			if err != nil {
				return nil, err
			}
			out.entries[i].Value = y
		}
		return out, nil
	case *Stream:
		d, err := h.cryptStrings(v.Dict, ref, enc, depth+1)
		if err != nil {
			return nil, err
		}
		if enc {
			s := *v
			s.Dict = d.(*Dict)
			return &s, nil
		}
		return v, nil
	}
	return o, nil
}

// decryptObject decrypts what object ref (as parsed from the file) holds
// and marks its streams for decryption.
func (r *Reader) decryptObject(ref Ref, o Object) (Object, error) {
	h := r.crypt
	if h == nil || (ref == h.encRef && !h.encRef.IsZero()) {
		return o, nil
	}
	if s, ok := o.(*Stream); ok {
		if t, _ := s.Dict.Name("Type"); t == "XRef" {
			return o, nil
		}
		s.cryptRef, s.encrypted = ref, true
	}
	if d, ok := o.(*Dict); ok && d == r.encryptDict() {
		return o, nil
	}
	bad := h.badStrings.Load()
	out, err := h.cryptStrings(o, ref, false, 0)
	if err != nil {
		return nil, fmt.Errorf("object %v: %w", ref, err)
	}
	if h.badStrings.Load() != bad {
		r.note(fmt.Sprintf("object %v: a string does not decrypt (kept as stored)", ref))
	}
	return out, nil
}

func (r *Reader) encryptDict() *Dict {
	if r.encrypt == nil {
		return nil
	}
	return r.encrypt.Dict
}

// streamMethod is the crypt filter that applies to stream s, and the
// filter specs left once a leading /Crypt filter is taken out.
func (h *securityHandler) streamMethod(s *Stream, specs []filterSpec) (cryptMethod, []filterSpec, error) {
	if len(specs) > 0 && specs[0].name == "Crypt" {
		n := Name("Identity")
		if specs[0].parms != nil {
			if pn, ok := specs[0].parms.Name("Name"); ok {
				n = pn
			}
		}
		m, ok := h.filters[n]
		if !ok {
			return 0, nil, fmt.Errorf("%w: stream names crypt filter /%s, which /CF does not define", ErrEncrypted, n)
		}
		return m, specs[1:], nil
	}
	switch t, _ := s.Dict.Name("Type"); t {
	case "Metadata":
		if !h.encryptMetadata {
			return cryptIdentity, specs, nil
		}
	case "EmbeddedFile":
		return h.eff, specs, nil
	}
	return h.stm, specs, nil
}

// decryptReader returns the decrypted data of raw, the data of a stream of
// object ref encrypted with method m.
func (h *securityHandler) decryptReader(m cryptMethod, ref Ref, raw io.Reader) io.Reader {
	switch m {
	case cryptRC4:
		c, _ := rc4.NewCipher(h.objectKey(m, ref)) // key of 5 to 16 bytes: cannot fail
		return &cipher.StreamReader{S: c, R: raw}
	case cryptAESV2, cryptAESV3:
		blk, _ := aes.NewCipher(h.objectKey(m, ref))
		return &aesCBCReader{src: raw, blk: blk}
	}
	return raw
}

// aesCBCReader decrypts a stream encrypted with AES-CBC (16-byte IV first,
// PKCS#5 padding last) as it is read, holding back the last block until the
// end of the data is seen.
type aesCBCReader struct {
	src  io.Reader
	blk  cipher.Block
	mode cipher.BlockMode
	in   []byte // raw bytes not yet decrypted
	out  []byte // decrypted bytes not yet returned
	done bool
	err  error
}

func (a *aesCBCReader) Read(p []byte) (int, error) {
	for len(a.out) == 0 {
		if a.done {
			if a.err != nil {
				return 0, a.err
			}
			return 0, io.EOF
		}
		a.fill()
	}
	n := copy(p, a.out)
	a.out = a.out[n:]
	return n, nil
}

func (a *aesCBCReader) fill() {
	if cap(a.in) == 0 {
		a.in = make([]byte, 0, 32<<10+32)
	}
	n, err := a.src.Read(a.in[len(a.in):cap(a.in)])
	a.in = a.in[:len(a.in)+n]
	if a.mode == nil && len(a.in) >= 16 {
		a.mode = cipher.NewCBCDecrypter(a.blk, a.in[:16])
		a.in = append(a.in[:0], a.in[16:]...)
	}
	if err != nil {
		a.done = true
		if err != io.EOF {
			a.err = err
			return
		}
		if a.mode == nil {
			if len(a.in) > 0 {
				a.err = fmt.Errorf("%w: AES stream shorter than its IV", errCryptData)
			}
			return
		}
		whole := len(a.in) / 16 * 16
		if whole != len(a.in) {
			a.err = fmt.Errorf("%w: AES stream data is not whole blocks", errCryptData)
		}
		out := make([]byte, whole)
		a.mode.CryptBlocks(out, a.in[:whole])
		a.in = a.in[:0]
		if a.err == nil {
			a.out, a.err = unpad(out)
		}
		return
	}
	if a.mode == nil || len(a.in) <= 16 {
		return
	}
	// Keep the last block (it may hold the padding) and any partial one.
	keep := len(a.in) % 16
	if keep == 0 {
		keep = 16
	}
	whole := len(a.in) - keep
	out := make([]byte, whole)
	a.mode.CryptBlocks(out, a.in[:whole])
	a.in = append(a.in[:0], a.in[whole:]...)
	a.out = out
}

// Owner reports whether the file was opened with its owner password
// (which permits everything).
func (e *EncryptInfo) Owner() bool {
	if e == nil || e.owner == nil {
		return false
	}
	e.ownerOnce.Do(func() { e.isOwner = e.owner() })
	return e.isOwner
}

// Allows reports whether the document's permissions allow p. With the
// owner password every operation is allowed; an unencrypted file allows
// everything.
func (e *EncryptInfo) Allows(p Permission) bool {
	if e == nil || e.Owner() {
		return true
	}
	return e.Permissions&p != 0
}

// AllowsSigning reports whether signature fields may be filled or added:
// bit 6 (annotations and forms) or, from R3 on, bit 9 (form filling).
func (e *EncryptInfo) AllowsSigning() bool {
	if e == nil || e.Owner() {
		return true
	}
	return e.Allows(PermAnnotate) || (e.R >= 3 && e.Allows(PermFillForms))
}

// Decrypting reports whether the reader decrypts the file: it is encrypted
// with the standard security handler and the password was accepted.
func (r *Reader) Decrypting() bool { return r.crypt != nil }

// EncodedStreamReader returns a reader of the data of s decrypted but
// still encoded with its filters (for an unencrypted file, the raw data):
// what two streams of different revisions compare on.
func (r *Reader) EncodedStreamReader(s *Stream) (io.Reader, error) {
	raw, err := r.RawStreamReader(s)
	if err != nil || !s.encrypted || r.crypt == nil {
		return raw, err
	}
	specs, err := r.filterSpecs(s.Dict)
	if err != nil {
		return nil, err
	}
	m, _, err := r.crypt.streamMethod(s, specs)
	if err != nil {
		return nil, err
	}
	return r.crypt.decryptReader(m, s.cryptRef, raw), nil
}

// encryptStream encrypts the (encoded) data of a new stream of object ref
// whose dictionary is d.
func (h *securityHandler) encryptStream(d *Dict, ref Ref, data []byte) ([]byte, error) {
	m := h.stm
	switch t, _ := d.Name("Type"); t {
	case "Metadata":
		if !h.encryptMetadata {
			return data, nil
		}
	case "EmbeddedFile":
		m = h.eff
	case "XRef":
		return data, nil
	}
	return h.encryptBytes(m, ref, data)
}

// reencryptStream returns the data of s, a stream of the file, encrypted
// for object ref (d is the dictionary it is written with).
func (r *Reader) reencryptStream(s *Stream, d *Dict, ref Ref) ([]byte, error) {
	rd, err := r.EncodedStreamReader(s)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if _, err := b.ReadFrom(&limitReader{r: rd, n: r.opts.Limits.MaxStreamSize}); err != nil {
		return nil, fmt.Errorf("re-encrypting stream %v: %w", s.cryptRef, err)
	}
	if len(d.Entries()) > 0 {
		if f, ok := d.Get("Filter").(Array); ok && len(f) > 0 && f[0] == Name("Crypt") {
			return nil, fmt.Errorf("%w: copying a stream with its own crypt filter to another object", ErrEncrypted)
		}
		if f, ok := d.Get("Filter").(Name); ok && f == "Crypt" {
			return nil, fmt.Errorf("%w: copying a stream with its own crypt filter to another object", ErrEncrypted)
		}
	}
	return r.crypt.encryptStream(d, ref, b.Bytes())
}
