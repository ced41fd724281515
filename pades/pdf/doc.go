// Package pdf is semnat's low-level PDF layer: an object model, a lazy
// reader over an io.ReaderAt, and a writer of incremental updates. It is the
// foundation of the PAdES signer and verifier and uses only the standard
// library.
//
// # Objects
//
// Null, Bool, Integer, Real, Name, String, Array, *Dict, Ref and *Stream
// implement Object. Real keeps its source text and Dict its key order, so
// re-serialising an object (Marshal) never changes number types or key
// order. String remembers whether it was written in hex. Placeholder is a
// writer-only object of fixed width (a signature's /Contents and /ByteRange)
// whose offsets the writer reports.
//
// # Reading
//
// Open reads the header, startxref and the cross-reference chain (tables,
// streams, hybrid files, linearized files) and nothing else. Objects are
// parsed when first resolved (Object, Resolve) and cached; object streams are
// decoded once. Reads go through a small block cache; raw stream data is read
// directly from the io.ReaderAt when decoded.
//
// Revisions lists the revisions oldest first; each knows its xref sections,
// trailer, the startxref that closes it and the offset just after its %%EOF
// line (Revision.End), and its entries. AsOf gives a view of the document as
// of an older revision.
//
// Damaged files (no startxref, an xref that does not parse, a bad /Prev, an
// entry pointing at garbage) are reconstructed by scanning the file; such a
// Reader reports Repaired() and must not be signed or trusted by a verifier.
// Options.NoRepair turns repair off. Tolerated defects that do not need
// repair are listed by Defects().
//
// Encrypted files: Encrypted() describes the /Encrypt dictionary. Files of
// the standard security handler (RC4 40 to 128 bits, crypt filters with
// AESV2, V2 and Identity, AES-256 R5/R6) are decrypted as they are read with
// Options.Password (empty: the files anyone may open; a wrong or missing
// one fails Open with ErrWrongPassword or ErrPasswordRequired): strings of
// objects read from the file, stream data, object streams. The /Encrypt
// dictionary, xref streams and a signature dictionary's /Contents are not
// encrypted and are returned as stored. EncryptInfo has the permission
// bits and whether the owner password was given. For other security
// handlers, stream data and objects in object streams are unavailable
// (ErrEncrypted) and strings are returned as stored.
//
// All sizes a hostile file controls are bounded by Limits. No input makes
// the package panic (see the fuzz tests).
//
// # Writing
//
// NewUpdate starts an incremental update: Add new objects, Set replaced
// ones, and Write the bytes to append to the original file. The update uses
// the xref form of the file's newest section (a classic table for table and
// hybrid files, without /XRefStm; an xref stream otherwise), chains /Prev to
// the previous section, keeps /Root, /Info and the first /ID element (an
// encrypted file: /Encrypt and the whole /ID, and the update's strings and
// streams are encrypted with the file's key). Rewrite writes a whole new
// file from a (repaired) reader's objects. The
// Result gives the absolute offsets of every placeholder so a signer can
// hash around /Contents and patch /ByteRange (FormatByteRange) and
// /Contents (FormatContents) in place.
package pdf
