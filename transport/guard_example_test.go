package transport_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/ringcast/ringcast/transport"
)

// A server for the open internet: tokens on both sides, connection limits,
// tight request limits. Without the subscribe token a subscription is
// refused before any stream starts; with it, the stream opens. (The tokens
// are literals here; take them from the environment in a real deployment,
// as `ringcast serve` does with RINGCAST_PUBLISH_TOKEN and
// RINGCAST_SUBSCRIBE_TOKEN.) docs/security.md explains each setting.
func ExampleConfig_internetFacing() {
	srv, err := transport.New(transport.Config{
		PublishToken:   "publisher-secret",
		SubscribeToken: "reader-secret",
		MaxConns:       10_000,
		MaxConnsPerIP:  20,
		MaxHeaderBytes: 4 << 10,
		MaxURLBytes:    2 << 10,
		ReadTimeout:    5 * time.Second,
		CORSOrigins:    []string{"https://app.example.com"},
		Logger:         slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		panic(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go srv.Serve(ln)
	url := "http://" + ln.Addr().String()

	resp, err := http.Get(url + "/events")
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	fmt.Println("without the token:", resp.Status)

	req, _ := http.NewRequest("GET", url+"/events", nil)
	req.Header.Set("Authorization", "Bearer reader-secret")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	fmt.Println("with it:", resp.Status, resp.Header.Get("Content-Type"))
	resp.Body.Close()

	resp, err = http.Post(url+"/publish", "application/json", strings.NewReader(`{"topic":"a"}`))
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	fmt.Println("publishing without the token:", resp.Status)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		panic(err)
	}
	// Output:
	// without the token: 401 Unauthorized
	// with it: 200 OK text/event-stream; charset=utf-8
	// publishing without the token: 401 Unauthorized
}
