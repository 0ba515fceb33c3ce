package loadgen_test

import (
	"context"
	"fmt"
	"time"

	"github.com/ringcast/ringcast/internal/ssetest"
	"github.com/ringcast/ringcast/loadgen"
)

func ExampleParser() {
	p := loadgen.NewParser(func(ev *loadgen.Event) {
		fmt.Printf("%s %q id=%s\n", ev.Type, ev.Data, ev.ID)
	})
	// Pieces as a socket might return them: a CRLF split across reads.
	p.Feed([]byte(": hello\r"))
	p.Feed([]byte("\nid: e1-7\r\nevent: tick\r\ndata: a\r\ndata: b\r\n"))
	p.Feed([]byte("\r\ndata: no type, same id\n\n"))
	// Output:
	// tick "a\nb" id=e1-7
	// message "no type, same id" id=e1-7
}

func ExampleRun() {
	srv, err := ssetest.Start(ssetest.Options{})
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	res, err := loadgen.Run(context.Background(), loadgen.Config{
		URL:         srv.URL, // streams from /events, publishes to /publish
		Subscribers: 10,
		Rate:        200,
		Duration:    500 * time.Millisecond,
		ConnectRate: -1, // all at once
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Delivered, "of", res.Expected, "delivered; loss-free:", res.LossFree())
	// Output: 1000 of 1000 delivered; loss-free: true
}
