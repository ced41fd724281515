package agent_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net"
	"net/http"

	"github.com/semnat/semnat/agent"
	"github.com/semnat/semnat/agent/wire"
	"github.com/semnat/semnat/pkcs11"
)

// A browser test of a signing page runs the agent in-process next to the
// server, with a consent hook that answers for the person. The page then
// calls http://127.0.0.1:PORT/v1/... with its own origin. (The example
// opens SoftHSM2: it runs where SoftHSM2 is installed, as in CI.)
func ExampleNew() {
	mod, err := pkcs11.Open("") // $SEMNAT_PKCS11_MODULE, else SoftHSM2/OpenSC
	if err != nil {
		log.Fatal(err)
	}
	defer mod.Close()
	const page = "http://127.0.0.1:8480" // the origin of `semnat serve`
	a, err := agent.New(agent.Options{
		Module:  mod,
		Token:   pkcs11.TokenSelector{Label: "citizen"},
		Origins: []string{page},
		Consent: func(ctx context.Context, p agent.Prompt) ([]byte, error) {
			if p.Document == "" {
				return nil, agent.ErrRefused
			}
			return []byte("1234"), nil // the agent zeroes it after use
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go a.Serve(ctx, ln) // or httptest.NewServer(a.Handler())
	// What the page does first: ask the agent who it is, from its origin.
	req, _ := http.NewRequest(http.MethodGet, "http://"+ln.Addr().String()+"/v1/info", nil)
	req.Header.Set("Origin", page)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	var info wire.Info
	if err := json.NewDecoder(resp.Body).Decode(&info); err != nil {
		log.Fatal(err)
	}
	fmt.Println(resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"), info.Name, info.Protocol)
	// Output: 200 http://127.0.0.1:8480 semnat-agent 1
}
