// Command httpfloor is the floor that bench/side-mpower.sh measures
// MPower's Code-True-One against: Go's net/http server answering every
// request with the bytes of a check's answer (the same status, headers
// and body as `semnat serve` sends for a code with no power), doing
// nothing else: no routing, no middleware, no cache, no audit log. What
// it manages on a machine, with the same load generator beside it, is the
// most any server built on net/http (as Echo is) can manage there.
//
// It listens on -addr (port 0: any free one) and prints "listening on
// http://HOST:PORT" once it does.
package main

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
)

// answer is the body of a Code-True-One answer of false.
var answer = []byte(`{"data":false,"success":true,"messages":[]}` + "\n")

// headers are those `semnat serve` sends with it (Date and Content-Length
// are net/http's own); the request id has the length of a real one.
var headers = [][2]string{
	{"Content-Security-Policy", "default-src 'self'"},
	{"Content-Type", "application/json"},
	{"Referrer-Policy", "no-referrer"},
	{"X-Content-Type-Options", "nosniff"},
	{"X-Frame-Options", "DENY"},
	{"X-Request-Id", "00000000000000000000000000000000"},
	{"X-Xss-Protection", "0"},
}

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on")
	flag.Parse()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "httpfloor:", err)
		os.Exit(1)
	}
	fmt.Printf("listening on http://%s\n", ln.Addr())
	err = http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		for _, kv := range headers {
			h.Set(kv[0], kv[1])
		}
		w.Write(answer)
	}))
	fmt.Fprintln(os.Stderr, "httpfloor:", err)
	os.Exit(1)
}
