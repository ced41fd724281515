package browsertest

import (
	"errors"
	"testing"
)

func TestStaleNode(t *testing.T) {
	if !staleNode(errors.New("Could not find node with given id (-32000)")) {
		t.Error("DevTools' stale-node error not recognised")
	}
	if staleNode(errors.New("context deadline exceeded")) {
		t.Error("a time-out taken for a stale node")
	}
}
