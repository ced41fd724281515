package msign

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/semnat/semnat/internal/atomicfile"
	"github.com/semnat/semnat/store"
)

// docStore keeps the documents of sign requests (uploaded and signed)
// while their requests live. With a directory (the embedded SQLite
// default), each document is a file there, 0600, written atomically, and
// the store holds only a small reference to it: the database and its WAL
// do not grow by the documents' size. Without one (PostgreSQL), the
// documents are values in the store, so that every instance sharing the
// database can finish any request.
//
// A file's name carries its expiry (EXPIRY-HASH.doc, EXPIRY in Unix
// seconds, HASH naming the kind and key), so the sweep removes expired
// files without asking the database, and a file whose reference was
// never stored (a crash between the two) goes at its expiry too; at
// start, files without a live reference are removed at once.
type docStore struct {
	st  *store.Store
	dir string // "" → values in the store
}

// refKind is the store kind of the references to a kind's files.
func refKind(kind string) string { return kind + "@file" }

const docExt = ".doc"

// openDocStore makes dir (0700) and removes what no live reference
// names: temporary files of interrupted writes, expired files and
// orphans.
func openDocStore(ctx context.Context, st *store.Store, dir string) (*docStore, error) {
	d := &docStore{st: st, dir: dir}
	if dir == "" {
		return d, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("msign: documents directory: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil { // people's documents
		return nil, fmt.Errorf("msign: documents directory: %w", err)
	}
	live := map[string]bool{}
	for _, kind := range []string{kindSignIn, kindSignOut} {
		items, err := st.List(ctx, refKind(kind))
		if err != nil {
			return nil, fmt.Errorf("msign: documents directory: %w", err)
		}
		for _, it := range items {
			live[string(it.Value)] = true
		}
	}
	if _, err := d.sweepFiles(func(name string) bool { return !live[name] }); err != nil {
		return nil, err
	}
	return d, nil
}

// fileName is the name of (kind, key)'s file expiring at exp.
func fileName(kind, key string, exp time.Time) string {
	h := sha256.Sum256([]byte(kind + "\x00" + key))
	return strconv.FormatInt(exp.Unix()+1, 10) + "-" + hex.EncodeToString(h[:16]) + docExt
}

// put stores data under (kind, key) for ttl. A document is put once
// under a key (a file put again under the same key is left to the sweep).
func (d *docStore) put(ctx context.Context, kind, key string, data []byte, ttl time.Duration) error {
	return d.putWith(ctx, []store.ItemPut{{Kind: kind, ID: key, Value: data, TTL: ttl}})
}

// putWith stores documents (Kind, ID, Value: the document, TTL) and then,
// in one store transaction, their references (or, without a directory,
// the documents themselves) and the items of more: all or none.
func (d *docStore) putWith(ctx context.Context, docs []store.ItemPut, more ...store.ItemPut) error {
	if d.dir == "" {
		return d.st.PutMany(ctx, append(docs, more...))
	}
	items := make([]store.ItemPut, 0, len(docs)+len(more))
	var written []string
	fail := func(err error) error {
		for _, name := range written {
			os.Remove(filepath.Join(d.dir, name))
		}
		return err
	}
	for _, doc := range docs {
		name := fileName(doc.Kind, doc.ID, time.Now().Add(doc.TTL))
		if err := writeDoc(filepath.Join(d.dir, name), doc.Value); err != nil {
			return fail(fmt.Errorf("msign: keeping a document: %w", err))
		}
		written = append(written, name)
		items = append(items, store.ItemPut{Kind: refKind(doc.Kind), ID: doc.ID, Value: []byte(name), TTL: doc.TTL})
	}
	// In a transaction shared with other requests' (group commit): a
	// request's one small write costs less than a transaction of its own.
	all := append(items, more...)
	if err := d.st.InGroupTx(ctx, func(tx *store.Tx) error { return tx.PutMany(ctx, all) }); err != nil {
		return fail(err)
	}
	return nil
}

// writeDoc writes a document's file. The file is new (its name is its
// key's and its expiry's) and nothing names it before its reference is
// committed, which happens only once it is written and synced: it is
// written in place, without atomicfile's temporary file and rename (a
// third of a PostSignRequest's time went to creating, renaming and
// syncing in one directory). A write cut short leaves a file no
// reference names, which the sweep removes. A name already there (the
// same key put again within its second) is replaced atomically.
func writeDoc(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return atomicfile.WriteBytes(path, 0o600, data)
	}
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
	}
	return err
}

// read reads the file a reference names; a missing file is ErrNotFound.
func (d *docStore) read(kind, key string, ref []byte) ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(d.dir, string(ref)))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s/%s (its file is gone)", store.ErrNotFound, kind, key)
	}
	return b, err
}

// get returns the document under (kind, key): store.ErrNotFound or
// store.ErrExpired when there is none.
func (d *docStore) get(ctx context.Context, kind, key string) ([]byte, error) {
	if d.dir == "" {
		return d.st.Get(ctx, kind, key)
	}
	ref, err := d.st.Get(ctx, refKind(kind), key)
	if err != nil {
		return nil, err
	}
	return d.read(kind, key, ref)
}

// take returns the document under (kind, key) and removes it: of two
// concurrent takers only one gets it.
func (d *docStore) take(ctx context.Context, kind, key string) ([]byte, error) {
	if d.dir == "" {
		return d.st.Take(ctx, kind, key)
	}
	ref, err := d.st.Take(ctx, refKind(kind), key)
	if err != nil {
		if errors.Is(err, store.ErrExpired) {
			d.remove(ref)
		}
		return nil, err
	}
	defer d.remove(ref)
	return d.read(kind, key, ref)
}

// delete removes (kind, key); removing nothing is not an error.
func (d *docStore) delete(ctx context.Context, kind, key string) error {
	if d.dir == "" {
		return d.st.Delete(ctx, kind, key)
	}
	ref, err := d.st.Take(ctx, refKind(kind), key)
	if len(ref) > 0 {
		d.remove(ref)
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrExpired) {
		return err
	}
	return nil
}

// remove deletes a referenced file, if the reference is a file name of ours.
func (d *docStore) remove(ref []byte) {
	name := string(ref)
	if name == "" || strings.ContainsAny(name, `/\`) || !strings.HasSuffix(name, docExt) {
		return
	}
	os.Remove(filepath.Join(d.dir, name))
}

// sweep removes the expired files.
func (d *docStore) sweep() (int, error) {
	if d.dir == "" {
		return 0, nil
	}
	return d.sweepFiles(func(string) bool { return false })
}

// sweepFiles removes from the directory what is not a document file
// (temporary files of interrupted writes), expired files, and files for
// which orphan says so.
func (d *docStore) sweepFiles(orphan func(name string) bool) (int, error) {
	entries, err := os.ReadDir(d.dir)
	if err != nil {
		return 0, fmt.Errorf("msign: sweeping the documents directory: %w", err)
	}
	now := time.Now().Unix()
	n := 0
	for _, e := range entries {
		name := e.Name()
		exp, ok := fileExpiry(name)
		switch {
		case e.Type().IsRegular() && ok && exp > now && !orphan(name):
			continue
		case (!ok || exp > now) && time.Since(modTime(e)) < time.Minute:
			continue // a write in progress: a temporary file, or a file whose reference is being stored
		}
		if err := os.RemoveAll(filepath.Join(d.dir, name)); err != nil {
			return n, fmt.Errorf("msign: sweeping the documents directory: %w", err)
		}
		n++
	}
	return n, nil
}

// fileExpiry reads the expiry from a document file's name.
func fileExpiry(name string) (int64, bool) {
	stem, ok := strings.CutSuffix(name, docExt)
	if !ok || strings.HasPrefix(name, ".") {
		return 0, false
	}
	exp, _, ok := strings.Cut(stem, "-")
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseInt(exp, 10, 64)
	return v, err == nil
}

func modTime(e fs.DirEntry) time.Time {
	info, err := e.Info()
	if err != nil {
		return time.Time{}
	}
	return info.ModTime()
}
