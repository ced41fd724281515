package pades

import (
	"crypto"
	"encoding"
	"hash"
	"sort"
)

// Digests of the signed bytes in one pass.
//
// The /ByteRange of every signature and document timestamp starts at 0,
// and a later revision's range runs through the earlier ones: they share
// the prefix [0, a) of the one with the smallest a. Before the checks, the
// verifier notes every range's a (marks); hashing [0, a) saves the hash
// state at each mark it passes, and a later digest with the same algorithm
// starts from the longest saved prefix instead of from 0. With N
// signatures the file is hashed about once instead of N times (the bytes
// after each gap, up to the end of that revision, are hashed per
// signature). The search for signature dictionaries that the fields do not
// reach rides on the same pass.

type prefixState struct {
	off   int64
	state []byte
}

// markPrefix notes the end a of the first range of a signature to come.
func (v *verifier) markPrefix(a int64) {
	if a <= 0 {
		return
	}
	i := sort.Search(len(v.marks), func(i int) bool { return v.marks[i] >= a })
	if i < len(v.marks) && v.marks[i] == a {
		return
	}
	v.marks = append(v.marks, 0)
	copy(v.marks[i+1:], v.marks[i:])
	v.marks[i] = a
}

// hashRanges writes the two ranges of br into d, a fresh hash of algorithm
// h, reusing and saving prefix states.
func (v *verifier) hashRanges(d hash.Hash, h crypto.Hash, br [4]int64) error {
	end := br[0] + br[1]
	pos := br[0]
	shared := br[0] == 0
	if shared {
		if st := v.bestPrefix(h, end); st != nil {
			if u, ok := d.(encoding.BinaryUnmarshaler); ok && u.UnmarshalBinary(st.state) == nil {
				pos = st.off
			} else {
				d.Reset()
			}
		}
	}
	if shared {
		for _, m := range v.marks {
			if m <= pos || m > end {
				continue
			}
			if err := v.hashSegment(d, pos, m); err != nil {
				return err
			}
			pos = m
			v.savePrefix(h, d, m)
		}
	}
	if err := v.hashSegment(d, pos, end); err != nil {
		return err
	}
	return v.hashSegment(d, br[2], br[2]+br[3])
}

// bestPrefix returns the longest saved state of [0, off') with off' <= end.
func (v *verifier) bestPrefix(h crypto.Hash, end int64) *prefixState {
	var best *prefixState
	for i := range v.prefixes[h] {
		st := &v.prefixes[h][i]
		if st.off <= end && (best == nil || st.off > best.off) {
			best = st
		}
	}
	return best
}

func (v *verifier) savePrefix(h crypto.Hash, d hash.Hash, off int64) {
	for _, st := range v.prefixes[h] {
		if st.off == off {
			return
		}
	}
	m, ok := d.(encoding.BinaryMarshaler)
	if !ok {
		return
	}
	state, err := m.MarshalBinary()
	if err != nil {
		return
	}
	if v.prefixes == nil {
		v.prefixes = map[crypto.Hash][]prefixState{}
	}
	v.prefixes[h] = append(v.prefixes[h], prefixState{off, state})
}

// hashSegment writes in[from, to) into d, searching it for signature
// dictionaries unless done before.
func (v *verifier) hashSegment(d hash.Hash, from, to int64) error {
	if to <= from {
		return nil
	}
	v.hashed += to - from
	if v.scan.covered(from, to) {
		return copyRange(v.ctx, d, v.in, from, to-from)
	}
	if err := copyRange(v.ctx, &scanWriter{w: d, sc: &v.scan, off: from}, v.in, from, to-from); err != nil {
		return err
	}
	v.scan.done = append(v.scan.done, span{from, to})
	return nil
}
