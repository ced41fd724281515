package testtool

import (
	"bytes"
	"sync"
)

// SyncBuffer is a buffer that a command's output goroutine (os/exec copies
// a child's stdout or stderr on its own goroutine) and the test may use at
// the same time.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
