package transport_test

import (
	"bufio"
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

// Embed the server: serve on a listener, publish from Go, read the stream as
// any HTTP client would, and shut down.
func Example() {
	srv, err := transport.New(transport.Config{
		Epoch:  "demo", // fixed here so that the output is stable; random by default
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		panic(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go srv.Serve(ln)

	resp, err := http.Get("http://" + ln.Addr().String() + "/events?topic=greetings")
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	stream := bufio.NewReader(resp.Body)
	readFrame := func() string {
		var frame strings.Builder
		for {
			line, err := stream.ReadString('\n')
			if err != nil || line == "\n" {
				return frame.String()
			}
			frame.WriteString(line)
		}
	}
	fmt.Print(readFrame()) // the stream opens with the reconnection delay

	ids, err := srv.Publish(transport.Event{Topic: "greetings", Event: "hello", Data: []byte("hi\nthere")})
	if err != nil {
		panic(err)
	}
	fmt.Println(ids)
	fmt.Print(readFrame())

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		panic(err)
	}
	rest, _ := io.ReadAll(stream)
	fmt.Printf("after shutdown: %q\n", rest)
	// Output:
	// retry: 3000
	// [demo-1/greetings]
	// id: demo-1/greetings
	// event: hello
	// data: hi
	// data: there
	// after shutdown: ""
}
