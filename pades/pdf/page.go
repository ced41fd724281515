package pdf

import (
	"errors"
	"fmt"
)

// Rect is a PDF rectangle [llx lly urx ury].
type Rect struct{ LLX, LLY, URX, URY float64 }

// Page is a leaf of the page tree with its inherited attributes resolved.
type Page struct {
	Ref       Ref   // the page object; zero for a direct (non-indirect) page dictionary
	Dict      *Dict // the page dictionary
	Parent    Ref   // the /Pages node holding the page (zero if that node is direct)
	Resources *Dict // /Resources, inherited; nil if none
	MediaBox  Rect  // /MediaBox, inherited; US Letter if missing
	CropBox   Rect  // /CropBox, inherited; defaults to MediaBox
	Rotate    int   // /Rotate, inherited, normalised to 0, 90, 180 or 270
}

type pageState struct {
	n     int
	err   error
	pages []pageLeaf // filled by the full walk
}

type pageLeaf struct {
	ref    Ref
	parent Ref
	dict   *Dict
	inh    inherited
}

type inherited struct {
	resources Object
	mediaBox  Object
	cropBox   Object
	rotate    Object
}

func (in inherited) from(d *Dict) inherited {
	if v := d.Get("Resources"); v != nil {
		in.resources = v
	}
	if v := d.Get("MediaBox"); v != nil {
		in.mediaBox = v
	}
	if v := d.Get("CropBox"); v != nil {
		in.cropBox = v
	}
	if v := d.Get("Rotate"); v != nil {
		in.rotate = v
	}
	return in
}

// pagesRoot returns the catalog's /Pages node.
func (r *Reader) pagesRoot() (Object, *Dict, error) {
	cat, err := r.Catalog()
	if err != nil {
		return nil, nil, err
	}
	ro := cat.Get("Pages")
	d, err := r.ResolveDict(ro)
	if err != nil {
		return nil, nil, fmt.Errorf("/Pages: %w", err)
	}
	if d == nil {
		return nil, nil, fmt.Errorf("%w: catalog /Pages is not a dictionary", ErrPageTree)
	}
	return ro, d, nil
}

// isPagesNode: /Type /Pages, or (no /Type and) a /Kids array.
func isPagesNode(d *Dict) bool {
	t, _ := d.Name("Type")
	if t == "Pages" {
		return true
	}
	if t == "Page" {
		return false
	}
	_, ok := d.Get("Kids").(Array)
	return ok || d.Has("Kids")
}

// walkPages visits every leaf of the page tree in order. It fails on loops
// (a node reached twice) and on trees deeper than Limits.MaxPageTreeDepth.
func (r *Reader) walkPages(visit func(pageLeaf) error) error {
	ro, root, err := r.pagesRoot()
	if err != nil {
		return err
	}
	seen := make(map[Ref]bool)
	if ref, ok := ro.(Ref); ok {
		seen[ref] = true
	}
	rootRef, _ := ro.(Ref)
	var walk func(node *Dict, nodeRef Ref, in inherited, depth int) error
	walk = func(node *Dict, nodeRef Ref, in inherited, depth int) error {
		if depth > r.opts.Limits.MaxPageTreeDepth {
			return fmt.Errorf("%w: deeper than %d levels", ErrPageTree, r.opts.Limits.MaxPageTreeDepth)
		}
		in = in.from(node)
		kidsObj, err := r.Resolve(node.Get("Kids"))
		if err != nil {
			return err
		}
		kids, _ := kidsObj.(Array)
		for i, k := range kids {
			var kref Ref
			var kd *Dict
			switch kv := k.(type) {
			case Ref:
				if seen[kv] {
					return fmt.Errorf("%w: node %v reached twice (loop or shared node)", ErrPageTree, kv)
				}
				seen[kv] = true
				kref = kv
				kd, err = r.ResolveDict(kv)
				if err != nil {
					return fmt.Errorf("page tree kid %v: %w", kv, err)
				}
			case *Dict:
				r.note(fmt.Sprintf("page tree node %v: kid %d is a direct object", nodeRef, i))
				kd = kv
			}
			if kd == nil {
				r.note(fmt.Sprintf("page tree node %v: kid %d is not a dictionary; skipped", nodeRef, i))
				continue
			}
			if isPagesNode(kd) {
				if err := walk(kd, kref, in, depth+1); err != nil {
					return err
				}
				continue
			}
			if err := visit(pageLeaf{ref: kref, parent: nodeRef, dict: kd, inh: in.from(kd)}); err != nil {
				return err
			}
		}
		return nil
	}
	if !isPagesNode(root) {
		// A single page as the root of the tree: tolerated.
		r.note("catalog /Pages is a page, not a page tree node")
		return visit(pageLeaf{ref: rootRef, dict: root, inh: inherited{}.from(root)})
	}
	return walk(root, rootRef, inherited{}, 0)
}

// NumPages returns the number of pages, counted by walking the whole page
// tree (the /Count values are not trusted). The result is cached.
func (r *Reader) NumPages() (int, error) {
	st, err := r.pageList()
	if err != nil {
		return 0, err
	}
	return st.n, nil
}

func (r *Reader) pageList() (*pageState, error) {
	r.mu.Lock()
	st := r.pages
	r.mu.Unlock()
	if st != nil {
		return st, st.err
	}
	st = &pageState{}
	st.err = r.walkPages(func(l pageLeaf) error {
		if int64(len(st.pages)) >= r.opts.Limits.MaxObjects {
			return limitErr("pages", r.opts.Limits.MaxObjects)
		}
		st.pages = append(st.pages, l)
		return nil
	})
	st.n = len(st.pages)
	if errors.Is(st.err, ErrEncrypted) {
		return st, st.err // not cached: nothing will change, but do not pin the error
	}
	r.mu.Lock()
	r.pages = st
	r.mu.Unlock()
	return st, st.err
}

// Page returns page i (0-based). Before the page list is built (NumPages),
// it descends the tree using the /Count of intermediate nodes, resolving
// only the nodes on the way; if a /Count is inconsistent it falls back to a
// full walk.
func (r *Reader) Page(i int) (*Page, error) {
	if i < 0 {
		return nil, fmt.Errorf("%w: %d", ErrNoSuchPage, i)
	}
	r.mu.Lock()
	st := r.pages
	r.mu.Unlock()
	if st == nil {
		if l, err := r.descend(i); err == nil {
			return r.makePage(l)
		} else if errors.Is(err, ErrNoSuchPage) || errors.Is(err, ErrEncrypted) {
			return nil, err
		}
	}
	st, err := r.pageList()
	if err != nil {
		return nil, err
	}
	if i >= len(st.pages) {
		return nil, fmt.Errorf("%w: %d (the document has %d)", ErrNoSuchPage, i, len(st.pages))
	}
	return r.makePage(st.pages[i])
}

var errInconsistent = errors.New("pdf: inconsistent page tree /Count")

// descend finds leaf i using /Count values.
func (r *Reader) descend(i int) (pageLeaf, error) {
	ro, node, err := r.pagesRoot()
	if err != nil {
		return pageLeaf{}, err
	}
	nodeRef, _ := ro.(Ref)
	if !isPagesNode(node) {
		return pageLeaf{}, errInconsistent
	}
	if c, ok := node.Int("Count"); ok && int64(i) >= c {
		return pageLeaf{}, fmt.Errorf("%w: %d (the document has %d)", ErrNoSuchPage, i, c)
	}
	seen := map[Ref]bool{nodeRef: true}
	in := inherited{}.from(node)
	for depth := 0; depth <= r.opts.Limits.MaxPageTreeDepth; depth++ {
		kidsObj, err := r.Resolve(node.Get("Kids"))
		if err != nil {
			return pageLeaf{}, err
		}
		kids, _ := kidsObj.(Array)
		found := false
		for _, k := range kids {
			kref, _ := k.(Ref)
			if kref.Num != 0 {
				if seen[kref] {
					return pageLeaf{}, errInconsistent
				}
				seen[kref] = true
			}
			kd, err := r.ResolveDict(k)
			if err != nil {
				return pageLeaf{}, err
			}
			if kd == nil {
				return pageLeaf{}, errInconsistent
			}
			if isPagesNode(kd) {
				c, ok := kd.Int("Count")
				if !ok || c < 0 {
					return pageLeaf{}, errInconsistent
				}
				if int64(i) < c {
					node, nodeRef, in = kd, kref, in.from(kd)
					found = true
					break
				}
				i -= int(c)
				continue
			}
			if i == 0 {
				return pageLeaf{ref: kref, parent: nodeRef, dict: kd, inh: in.from(kd)}, nil
			}
			i--
		}
		if !found {
			return pageLeaf{}, errInconsistent
		}
	}
	return pageLeaf{}, errInconsistent
}

func (r *Reader) makePage(l pageLeaf) (*Page, error) {
	p := &Page{Ref: l.ref, Parent: l.parent, Dict: l.dict}
	res, err := r.ResolveDict(l.inh.resources)
	if err != nil {
		return nil, fmt.Errorf("page %v /Resources: %w", l.ref, err)
	}
	p.Resources = res
	p.MediaBox = Rect{0, 0, 612, 792}
	if mb, ok := r.Rect(l.inh.mediaBox); ok {
		p.MediaBox = mb
	}
	p.CropBox = p.MediaBox
	if cb, ok := r.Rect(l.inh.cropBox); ok {
		p.CropBox = cb
	}
	if rv, err := r.Resolve(l.inh.rotate); err == nil {
		if n, ok := Int(rv); ok {
			p.Rotate = int(((n%360)+360)%360) / 90 * 90
		}
	}
	return p, nil
}

// Rect reads a rectangle (four numbers, in either corner order) and
// normalises it; false when o is not one.
func (r *Reader) Rect(o Object) (Rect, bool) {
	v, err := r.Resolve(o)
	if err != nil {
		return Rect{}, false
	}
	a, ok := v.(Array)
	if !ok || len(a) != 4 {
		return Rect{}, false
	}
	var f [4]float64
	for i, x := range a {
		x, err := r.Resolve(x)
		if err != nil {
			return Rect{}, false
		}
		n, ok := Number(x)
		if !ok {
			return Rect{}, false
		}
		f[i] = n
	}
	return Rect{min(f[0], f[2]), min(f[1], f[3]), max(f[0], f[2]), max(f[1], f[3])}, true
}
