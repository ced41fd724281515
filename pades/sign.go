package pades

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/semnat/semnat/cms"
	"github.com/semnat/semnat/pades/pdf"
)

// Result describes a signed document.
type Result struct {
	Level     Level
	Field     string
	Size      int64    // bytes written
	ByteRange [4]int64 // of the signature
	// ContentsSize is the reserved /Contents size; SignatureSize the DER
	// CMS size that went in it.
	ContentsSize, SignatureSize int
	// TimestampTime is the time of the signature timestamp (B-T and up).
	TimestampTime time.Time `json:",omitempty"`
	// DocTimestampTime is the time of the document timestamp (B-LTA).
	DocTimestampTime time.Time `json:",omitempty"`
}

// document is the original input plus the updates appended so far: what
// the output will be, readable before it is written.
type document struct {
	in      io.ReaderAt
	size    int64
	updates [][]byte
}

func (d *document) Size() int64 {
	n := d.size
	for _, u := range d.updates {
		n += int64(len(u))
	}
	return n
}

// ReadAt reads across the original and the updates.
func (d *document) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("pades: negative offset")
	}
	n := 0
	for len(p) > 0 {
		if off < d.size {
			k := min(int64(len(p)), d.size-off)
			m, err := d.in.ReadAt(p[:k], off)
			n += m
			if int64(m) < k {
				if err == nil {
					err = io.ErrUnexpectedEOF
				}
				return n, err
			}
			p, off = p[k:], off+k
			continue
		}
		base := d.size
		found := false
		for _, u := range d.updates {
			if off < base+int64(len(u)) {
				m := copy(p, u[off-base:])
				n += m
				p, off = p[m:], off+int64(m)
				found = true
				break
			}
			base += int64(len(u))
		}
		if !found {
			return n, io.EOF
		}
	}
	return n, nil
}

// writeTo streams the document to w. The original's bytes are hashed on the
// way and compared with the digest the signature covers (prefix is the first
// update's part before /Contents): if the input changed since it was hashed
// the output is rejected with ErrOriginalChanged.
func (d *document) writeTo(ctx context.Context, w io.Writer, h crypto.Hash, want []byte, cOff, cWidth int) error {
	hh := h.New()
	if err := copyRange(ctx, io.MultiWriter(w, hh), d.in, 0, d.size); err != nil {
		return err
	}
	hashSkipping(hh, d.updates[0], cOff, cWidth)
	if got := hh.Sum(nil); string(got) != string(want) {
		return ErrOriginalChanged
	}
	for _, u := range d.updates {
		if _, err := w.Write(u); err != nil {
			return err
		}
	}
	return nil
}

// signWith signs digest with s, through SignContext when s has it.
func signWith(ctx context.Context, s crypto.Signer, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if cs, ok := s.(ContextSigner); ok {
		return cs.SignContext(ctx, digest, opts)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return s.Sign(rand.Reader, digest, opts)
}

// Sign signs the PDF in[0:size) with s and writes the signed document to
// out in one pass over the input: the original is copied to out and hashed
// at the same time, then the update follows. Nothing is held in memory but
// the update. On error, what was written to out must be discarded (SignFile
// does).
func Sign(ctx context.Context, in io.ReaderAt, size int64, out io.Writer, s Signer, opts *Options) (*Result, error) {
	if opts == nil {
		opts = &Options{}
	}
	remote := false
	if rs, ok := s.(RemoteSigner); ok {
		remote = rs.Remote()
	}
	o := *opts
	cert, chain := s.Certificate(), s.Chain()
	// Plan first: a file we refuse gets refused before anything is written.
	p, err := plan(in, size, cert, &o, remote, chain)
	if err != nil {
		return nil, err
	}
	h := o.hash().New()
	if err := copyRange(ctx, io.MultiWriter(out, h), in, 0, size); err != nil {
		return nil, err
	}
	orig, err := saveHash(h)
	if err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		hh, err := restoreHash(o.hash(), orig)
		if err != nil {
			return nil, err
		}
		hashSkipping(hh, p.Update, p.ContentsOffset, 2*p.ContentsSize+2)
		if err := p.setDigest(hh.Sum(nil), cert, chain, &o); err != nil {
			return nil, err
		}
		sig, err := signWith(ctx, s, p.DigestToSign(), p.SignerOpts())
		if err != nil {
			return nil, fmt.Errorf("pades: signing: %w", err)
		}
		doc, res, err := finish(ctx, in, size, p, sig, &o, orig)
		var tooSmall *placeholderError
		if errors.As(err, &tooSmall) && !remote && attempt == 0 && opts.ContentsSize == 0 {
			// Grow and sign again: cheap for a local key, and the original's
			// hash is kept, so the input is not read again.
			o.ContentsSize = (tooSmall.need + 4096 + 1023) / 1024 * 1024
			if p, err = plan(in, size, cert, &o, remote, chain); err != nil {
				return nil, err
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, u := range doc.updates {
			if _, err := out.Write(u); err != nil {
				return nil, err
			}
		}
		return res, nil
	}
}

// saveHash and restoreHash keep the state of a hash over the original so
// that later digests (a retry, the document timestamp) need not read it again.
func saveHash(h hash.Hash) ([]byte, error) {
	m, ok := h.(encoding.BinaryMarshaler)
	if !ok {
		return nil, errors.New("pades: hash state cannot be saved")
	}
	return m.MarshalBinary()
}

func restoreHash(alg crypto.Hash, state []byte) (hash.Hash, error) {
	h := alg.New()
	if err := h.(encoding.BinaryUnmarshaler).UnmarshalBinary(state); err != nil {
		return nil, fmt.Errorf("pades: restoring hash state: %w", err)
	}
	return h, nil
}

type placeholderError struct{ need, have int }

func (e *placeholderError) Error() string {
	return fmt.Sprintf("%v: need %d bytes, %d reserved", ErrPlaceholderSmall, e.need, e.have)
}
func (e *placeholderError) Unwrap() error { return ErrPlaceholderSmall }

// Complete finishes a prepared signature with the signature value sig
// (for ECDSA, DER or raw r||s): it checks the value, adds the timestamp
// (B-T), the DSS (B-LT) and the document timestamp (B-LTA) as opts ask, and
// writes the signed document to out. in must be the document Prepare saw:
// its bytes are hashed again on the way out and a difference is
// ErrOriginalChanged.
func Complete(ctx context.Context, in io.ReaderAt, size int64, prep *Prepared, sig []byte, out io.Writer, opts *Options) (*Result, error) {
	if opts == nil {
		opts = &Options{}
	}
	if err := opts.check(); err != nil {
		return nil, err
	}
	if size != prep.OriginalSize {
		return nil, fmt.Errorf("%w: %d bytes, prepared for %d", ErrOriginalChanged, size, prep.OriginalSize)
	}
	doc, res, err := finish(ctx, in, size, prep, sig, opts, nil)
	if err != nil {
		return nil, err
	}
	if err := doc.writeTo(ctx, out, prep.Pending.Hash, prep.ContentDigest, prep.ContentsOffset, 2*prep.ContentsSize+2); err != nil {
		return nil, err
	}
	return res, nil
}

// finish turns a prepared signature and its value into the updates to
// append: the signature (with its timestamp), then the DSS and the document
// timestamp when the level asks. orig, when set, is the saved hash state of
// the original bytes.
func finish(ctx context.Context, in io.ReaderAt, size int64, prep *Prepared, sig []byte, opts *Options, orig []byte) (*document, *Result, error) {
	sd, err := prep.Pending.Complete(sig)
	if err != nil {
		return nil, nil, fmt.Errorf("pades: %w", err)
	}
	res := &Result{Level: opts.level(), Field: prep.Field, ByteRange: prep.ByteRange, ContentsSize: prep.ContentsSize}
	if opts.level() >= LevelBT {
		h := prep.Pending.Hash.New()
		h.Write(sd.Signature)
		token, err := opts.Timestamper.Timestamp(ctx, h.Sum(nil), prep.Pending.Hash)
		if err != nil {
			return nil, nil, fmt.Errorf("pades: signature timestamp: %w", err)
		}
		if res.TimestampTime, err = tokenTime(token); err != nil {
			return nil, nil, fmt.Errorf("pades: signature timestamp: %w", err)
		}
		sd.AddTimestamp(token)
	}
	der, err := sd.Marshal()
	if err != nil {
		return nil, nil, err
	}
	res.SignatureSize = len(der)
	if len(der) > prep.ContentsSize {
		return nil, nil, &placeholderError{need: len(der), have: prep.ContentsSize}
	}
	upd := append([]byte(nil), prep.Update...)
	hexed, err := pdf.FormatContents(der, prep.ContentsSize)
	if err != nil {
		return nil, nil, err
	}
	copy(upd[prep.ContentsOffset:], hexed)
	doc := &document{in: in, size: size, updates: [][]byte{upd}}
	if opts.level() >= LevelBLT {
		cert, _ := prep.Pending.Certificate()
		chain := parseCerts(prep.Pending.Certs[1:])
		dss, err := addDSS(ctx, doc, cert, chain, sd, opts)
		if err != nil {
			return nil, nil, err
		}
		doc.updates = append(doc.updates, dss)
	}
	if opts.level() >= LevelBLTA {
		dts, t, err := addDocTimestamp(ctx, doc, opts, orig)
		if err != nil {
			return nil, nil, err
		}
		res.DocTimestampTime = t
		doc.updates = append(doc.updates, dts)
	}
	res.Size = doc.Size()
	return doc, res, nil
}

func parseCerts(ders [][]byte) []*x509.Certificate {
	var out []*x509.Certificate
	for _, d := range ders {
		if c, err := x509.ParseCertificate(d); err == nil {
			out = append(out, c)
		}
	}
	return out
}

// tokenTime reads genTime from a timestamp token.
func tokenTime(token []byte) (time.Time, error) {
	p, err := cms.Parse(token)
	if err != nil {
		return time.Time{}, err
	}
	info, err := cms.ParseTSTInfo(p.EContent)
	if err != nil {
		return time.Time{}, err
	}
	return info.GenTime, nil
}

// SignFile signs the file inPath into outPath ("-" for stdout). The output
// is written to a temporary file in the same folder and renamed into place
// only when complete: a failure never leaves a partial file.
func SignFile(ctx context.Context, inPath, outPath string, s Signer, opts *Options) (*Result, error) {
	in, err := os.Open(inPath)
	if err != nil {
		return nil, err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return nil, fmt.Errorf("pades: %s is a directory", inPath)
	}
	if outPath == "-" {
		return Sign(ctx, in, st.Size(), os.Stdout, s, opts)
	}
	return writeAtomically(outPath, func(w io.Writer) (*Result, error) {
		return Sign(ctx, in, st.Size(), w, s, opts)
	})
}

// writeAtomically runs write into a temporary file next to path and renames
// it to path on success; on failure the temporary file is removed.
func writeAtomically[T any](path string, write func(io.Writer) (T, error)) (T, error) {
	var zero T
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return zero, err
	}
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	res, err := write(tmp)
	if err != nil {
		return zero, err
	}
	if err := tmp.Sync(); err != nil {
		return zero, err
	}
	if err := tmp.Close(); err != nil {
		return zero, err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return zero, err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return zero, err
	}
	ok = true
	return res, nil
}
