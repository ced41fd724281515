// Command httpfloor is the floor that bench/side-mpower.sh measures
// MPower's Code-True-One against: Go's net/http server answering every
// request with the bytes of a check's answer (the same status, headers
// and body as `semnat serve` sends for a code with no power), doing
// nothing else: no routing, no middleware, no cache, no audit log. What
// it manages on a machine, with the same load generator beside it, is the
// most any server built on net/http (as Echo is) can manage there.
//
// It listens on -addr (port 0: any free one) and prints "listening on
// http://HOST:PORT" once it does. With -nginx it prints instead the
// directives of an nginx location that sends the same answer (the nginx
// floor of bench/side-mpower.sh).
package main

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
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
	nginx := flag.Bool("nginx", false, "print the directives of an nginx location that sends the same answer, and exit")
	flag.Parse()
	if *nginx {
		fmt.Print(nginxLocation())
		return
	}
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

// nginxLocation is the directives of an nginx location that sends the
// answer with the same headers (nginx adds Date, Content-Length, Server
// and Connection).
func nginxLocation() string {
	var b strings.Builder
	for _, kv := range headers {
		if kv[0] == "Content-Type" {
			fmt.Fprintf(&b, "default_type %s;\n", kv[1])
		} else {
			fmt.Fprintf(&b, "add_header %s %q;\n", kv[0], kv[1])
		}
	}
	fmt.Fprintf(&b, "return 200 '%s\\n';\n", strings.TrimSuffix(string(answer), "\n"))
	return b.String()
}
