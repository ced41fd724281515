package msign

import (
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/semnat/semnat/problem"
)

// uploadQuota bounds the bytes of documents one client (IP address) may
// keep waiting in anonymous sign requests: without it, a few clients fill
// the store with files kept for SignTTL. A request's bytes count until its
// files are dropped (signed and gone, cancelled, failed) or it expires.
// It is kept in memory: with several instances, each counts its own.
type uploadQuota struct {
	mu     sync.Mutex
	limit  int64
	client map[string][]pendingUpload
	owner  map[string]string // request id → client
}

type pendingUpload struct {
	id    string
	bytes int64
	until time.Time
}

func newUploadQuota(limit int64) *uploadQuota {
	return &uploadQuota{limit: limit, client: map[string][]pendingUpload{}, owner: map[string]string{}}
}

// usedLocked is what client holds now, forgetting expired requests.
func (q *uploadQuota) usedLocked(client string, now time.Time) int64 {
	var n int64
	kept := q.client[client][:0]
	for _, p := range q.client[client] {
		if now.Before(p.until) {
			kept = append(kept, p)
			n += p.bytes
		} else {
			delete(q.owner, p.id)
		}
	}
	if len(kept) == 0 {
		delete(q.client, client)
	} else {
		q.client[client] = kept
	}
	return n
}

// check is errQuota when client holds so much that a body of length
// bytes (its declared length, before it is read; -1 unknown) would go over
// the limit: its documents are at least length less the form's fields.
func (q *uploadQuota) check(client string, length int64) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if used := q.usedLocked(client, time.Now()); used >= q.limit || used+max(length-maxSmallBody, 0) > q.limit {
		return q.problem(used)
	}
	return nil
}

// reserve counts bytes for request id of client until until, unless that
// goes over the limit.
func (q *uploadQuota) reserve(client, id string, bytes int64, until time.Time) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if used := q.usedLocked(client, time.Now()); used+bytes > q.limit {
		return q.problem(used)
	}
	q.client[client] = append(q.client[client], pendingUpload{id: id, bytes: bytes, until: until})
	q.owner[id] = client
	return nil
}

// release stops counting request id (its files are gone).
func (q *uploadQuota) release(id string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	client, ok := q.owner[id]
	if !ok {
		return
	}
	delete(q.owner, id)
	kept := q.client[client][:0]
	for _, p := range q.client[client] {
		if p.id != id {
			kept = append(kept, p)
		}
	}
	if len(kept) == 0 {
		delete(q.client, client)
	} else {
		q.client[client] = kept
	}
}

// errQuota is the type of the problem of a client over its quota.
var errQuota = problem.New(http.StatusTooManyRequests, "upload-quota", "Too many documents waiting", "")

func (q *uploadQuota) problem(used int64) error {
	return problem.Newf(errQuota.Status, "upload-quota", errQuota.Title,
		"%s of your documents are waiting to be signed (at most %s at once); sign or cancel them, or wait until they expire",
		mib(used), mib(q.limit))
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
