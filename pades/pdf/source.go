package pdf

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
)

// source is a small block cache over an io.ReaderAt. Blocks are immutable
// once loaded, so lexers may keep a block slice after it has been evicted.
type source struct {
	ra        io.ReaderAt
	size      int64
	blockSize int64
	maxBlocks int

	mu     sync.Mutex
	blocks map[int64]*cblock
	tick   uint64

	// endstream search cache: the first "endstream" at or after from is
	// at at (-1: none up to the end of the file). Bounds the cost of many
	// streams with a wrong /Length to one pass over the file.
	endMu          sync.Mutex
	endFrom, endAt int64
	endValid       bool

	bytesRead atomic.Int64 // bytes read from ra (for benchmarks and tests)
	reads     atomic.Int64 // ReadAt calls
}

type cblock struct {
	data []byte
	used uint64
}

func newSource(ra io.ReaderAt, size int64, blockSize, maxBlocks int) *source {
	if blockSize <= 0 {
		blockSize = 8 << 10
	}
	if maxBlocks <= 0 {
		maxBlocks = 128
	}
	return &source{ra: ra, size: size, blockSize: int64(blockSize), maxBlocks: maxBlocks, blocks: make(map[int64]*cblock)}
}

// block returns the cached block holding offset off and the block's start.
func (s *source) block(off int64) ([]byte, int64, error) {
	if off < 0 || off >= s.size {
		return nil, 0, io.EOF
	}
	n := off / s.blockSize
	start := n * s.blockSize
	s.mu.Lock()
	s.tick++
	if b, ok := s.blocks[n]; ok {
		b.used = s.tick
		s.mu.Unlock()
		return b.data, start, nil
	}
	s.mu.Unlock()

	ln := s.blockSize
	if start+ln > s.size {
		ln = s.size - start
	}
	buf := make([]byte, ln)
	if err := s.readFull(buf, start); err != nil {
		return nil, 0, err
	}

	s.mu.Lock()
	if len(s.blocks) >= s.maxBlocks {
		var victim int64 = -1
		var oldest uint64 = ^uint64(0)
		for k, b := range s.blocks {
			if b.used < oldest {
				oldest, victim = b.used, k
			}
		}
		delete(s.blocks, victim)
	}
	s.blocks[n] = &cblock{data: buf, used: s.tick}
	s.mu.Unlock()
	return buf, start, nil
}

// readFull reads len(buf) bytes at off, bypassing the cache.
func (s *source) readFull(buf []byte, off int64) error {
	if off < 0 || off+int64(len(buf)) > s.size {
		return fmt.Errorf("pdf: read of %d bytes at %d past end of file (%d bytes): %w", len(buf), off, s.size, io.ErrUnexpectedEOF)
	}
	s.reads.Add(1)
	n, err := s.ra.ReadAt(buf, off)
	s.bytesRead.Add(int64(n))
	if n == len(buf) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("pdf: reading %d bytes at offset %d: %w", len(buf), off, err)
}

// readAt copies up to len(buf) bytes at off through the cache; it returns the
// number of bytes copied (short only at end of file).
func (s *source) readAt(buf []byte, off int64) (int, error) {
	n := 0
	for n < len(buf) {
		b, start, err := s.block(off + int64(n))
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		c := copy(buf[n:], b[off+int64(n)-start:])
		n += c
	}
	return n, nil
}

// section returns a reader over [off, off+n) of the underlying file that does
// not go through the cache (for large raw stream data).
func (s *source) section(off, n int64) *io.SectionReader {
	return io.NewSectionReader(countingReaderAt{s}, off, n)
}

type countingReaderAt struct{ s *source }

func (c countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	c.s.reads.Add(1)
	n, err := c.s.ra.ReadAt(p, off)
	c.s.bytesRead.Add(int64(n))
	return n, err
}

// cachedEndstream returns the cached result of searching "endstream" from
// pos, if the cache covers pos.
func (s *source) cachedEndstream(pos int64) (int64, bool) {
	s.endMu.Lock()
	defer s.endMu.Unlock()
	if !s.endValid || pos < s.endFrom {
		return 0, false
	}
	if s.endAt < 0 {
		return -1, true
	}
	if pos <= s.endAt {
		return s.endAt, true
	}
	return 0, false
}

func (s *source) storeEndstream(from, at int64) {
	s.endMu.Lock()
	s.endFrom, s.endAt, s.endValid = from, at, true
	s.endMu.Unlock()
}
