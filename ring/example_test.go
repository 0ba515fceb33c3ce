package ring_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/ringcast/ringcast/ring"
)

// One writer, two readers: each reader sees every value, at its own pace.
func Example() {
	r, _ := ring.New[string](1024)
	a, b := r.Subscribe(), r.Subscribe()
	defer a.Close()
	defer b.Close()

	r.Publish("hello")
	r.Publish("world")
	r.Close() // readers drain what is left, then get ring.ErrClosed

	ctx := context.Background()
	for _, rd := range []*ring.Reader[string]{a, b} {
		for {
			v, err := rd.Next(ctx)
			if err != nil {
				fmt.Println(err)
				break
			}
			fmt.Println(v)
		}
	}
	// Output:
	// hello
	// world
	// ring: closed
	// hello
	// world
	// ring: closed
}

// A reader that falls more than Cap() values behind learns exactly how many
// it missed, then continues from the oldest value still held.
func ExampleLagError() {
	r, _ := ring.New[int](4)
	rd := r.Subscribe()
	defer rd.Close()
	for i := 1; i <= 10; i++ {
		r.Publish(i)
	}
	_, err := rd.TryNext()
	var lag *ring.LagError
	if errors.As(err, &lag) {
		fmt.Printf("missed %d, resuming at %d\n", lag.Missed, lag.Resume)
	}
	v, _ := rd.TryNext()
	fmt.Println(v)
	// Output:
	// missed 4, resuming at 5
	// 5
}

// With headroom an overrun reader skips further than the oldest value held
// (here 5..10 are held, and it resumes at 7), so that a writer that keeps
// outrunning it does not lap it again at once.
func ExampleWithLagHeadroom() {
	r, _ := ring.New[int](4, ring.WithLagHeadroom(2))
	rd := r.Subscribe()
	defer rd.Close()
	for i := 1; i <= 10; i++ {
		r.Publish(i)
	}
	_, err := rd.TryNext()
	fmt.Println(err)
	// Output: ring: reader lagged: missed 6 values, resuming at 7
}

// SubscribeFrom replays from a sequence while the ring still holds it: the
// basis of resuming a stream with Last-Event-ID.
func ExampleRing_SubscribeFrom() {
	r, _ := ring.New[string](4)
	for _, v := range []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"} {
		r.Publish(v)
	}
	rd, err := r.SubscribeFrom(8)
	if err != nil {
		panic(err)
	}
	defer rd.Close()
	buf := make([]string, 8)
	n, _ := rd.TryNextBatch(buf)
	fmt.Println(buf[:n])

	_, err = r.SubscribeFrom(1)
	fmt.Println(err, errors.Is(err, ring.ErrOutOfRange))
	// Output:
	// [h i j]
	// ring: sequence 1 no longer held (oldest is 5, newest 10) true
}

// NextBatch serves many values from one cursor load; Position tells their
// sequences.
func ExampleReader_NextBatch() {
	r, _ := ring.New[int](64)
	rd := r.Subscribe()
	defer rd.Close()
	r.PublishBatch([]int{10, 20, 30})

	buf := make([]int, 16)
	n, _ := rd.NextBatch(context.Background(), buf)
	first := rd.Position() - uint64(n)
	for i, v := range buf[:n] {
		fmt.Printf("seq %d: %d\n", first+uint64(i), v)
	}
	// Output:
	// seq 1: 10
	// seq 2: 20
	// seq 3: 30
}

// A reader owned by a dedicated core may busy-spin; the default, Adaptive,
// uses no CPU while idle and is the right choice on small machines.
func ExampleWithWaitStrategy() {
	r, _ := ring.New[int](64) // readers spin, yield, then park by default
	spinner := r.Subscribe(ring.WithWaitStrategy(ring.BusySpin))
	defer spinner.Close()
	r.Publish(1)
	v, _ := spinner.Next(context.Background())
	fmt.Println(v)
	// Output: 1
}
