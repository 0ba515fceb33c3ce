package disruptor_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/ringcast/ringcast/disruptor"
)

// A Trade is the entry type: the ring holds 1024 of them, allocated once and
// reused; producers fill them in place.
type Trade struct {
	ID    int64
	Price int64
	Qty   int64
	// Written by handlers for the ones downstream of them.
	Notional int64
	Risky    bool
}

// The simplest pipeline: one handler, one producer goroutine.
func Example() {
	d, err := disruptor.New[Trade](1024)
	if err != nil {
		panic(err)
	}
	d.HandleEventsWith(disruptor.HandlerFunc[Trade](func(t *Trade, seq int64, endOfBatch bool) error {
		fmt.Printf("seq %d: trade %d, %d @ %d\n", seq, t.ID, t.Qty, t.Price)
		return nil
	}))
	if err := d.Start(); err != nil {
		panic(err)
	}
	for i := int64(1); i <= 3; i++ {
		err := d.Publish(func(t *Trade) { t.ID, t.Price, t.Qty = i, 100+i, 10*i })
		if err != nil {
			panic(err)
		}
	}
	// Shutdown drains: every published trade is handled before it returns.
	if err := d.Shutdown(context.Background()); err != nil {
		panic(err)
	}
	// Output:
	// seq 0: trade 1, 10 @ 101
	// seq 1: trade 2, 20 @ 102
	// seq 2: trade 3, 30 @ 103
}

// A diamond: two handlers work on every trade in parallel, each writing its
// own field, and a third runs after both and reads what they wrote.
func Example_diamond() {
	d, _ := disruptor.New[Trade](1024)
	notional := disruptor.HandlerFunc[Trade](func(t *Trade, _ int64, _ bool) error {
		t.Notional = t.Price * t.Qty
		return nil
	})
	risk := disruptor.HandlerFunc[Trade](func(t *Trade, _ int64, _ bool) error {
		t.Risky = t.Qty > 15
		return nil
	})
	var report []string // only the last handler touches it
	settle := disruptor.HandlerFunc[Trade](func(t *Trade, _ int64, _ bool) error {
		report = append(report, fmt.Sprintf("trade %d: notional %d, risky %v", t.ID, t.Notional, t.Risky))
		return nil
	})
	d.HandleEventsWith(notional, risk).Then(settle)
	_ = d.Start()
	for i := int64(1); i <= 2; i++ {
		_ = d.Publish(func(t *Trade) { t.ID, t.Price, t.Qty = i, 50, 10*i })
	}
	_ = d.Shutdown(context.Background())
	for _, line := range report {
		fmt.Println(line)
	}
	// Output:
	// trade 1: notional 500, risky false
	// trade 2: notional 1000, risky true
}

// A pipeline of three stages, each reading what the one before it wrote;
// every stage runs on its own goroutine, so they overlap on different
// entries.
func Example_pipeline() {
	type job struct{ In, Parsed, Scored int }
	d, _ := disruptor.New[job](64)
	var out []int
	d.HandleEventsWith(disruptor.HandlerFunc[job](func(j *job, _ int64, _ bool) error {
		j.Parsed = j.In * 2
		return nil
	})).Then(disruptor.HandlerFunc[job](func(j *job, _ int64, _ bool) error {
		j.Scored = j.Parsed + 1
		return nil
	})).Then(disruptor.HandlerFunc[job](func(j *job, _ int64, _ bool) error {
		out = append(out, j.Scored)
		return nil
	}))
	_ = d.Start()
	for i := range 5 {
		_ = d.Publish(func(j *job) { j.In = i })
	}
	_ = d.Shutdown(context.Background())
	fmt.Println(out)
	// Output: [1 3 5 7 9]
}

// Several goroutines publish into one disruptor (the default sequencer is
// multi-producer); the handler sees every entry exactly once.
func Example_multiProducer() {
	d, _ := disruptor.New[Trade](256)
	var count, sum int64
	d.HandleEventsWith(disruptor.HandlerFunc[Trade](func(t *Trade, _ int64, _ bool) error {
		count++
		sum += t.Qty
		return nil
	}))
	_ = d.Start()
	var wg sync.WaitGroup
	for p := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 1000 {
				_ = d.Publish(func(t *Trade) { t.ID, t.Qty = int64(p*1000+i), 1 })
			}
		}()
	}
	wg.Wait()
	_ = d.Shutdown(context.Background())
	fmt.Println(count, sum)
	// Output: 4000 4000
}

// Claim, fill and Commit a batch: one publication for many entries. The
// handler is told where each batch it receives ends.
func ExampleDisruptor_Claim() {
	d, _ := disruptor.New[Trade](64, disruptor.WithProducerType(disruptor.SingleProducer))
	var total int64
	d.HandleEventsWith(disruptor.HandlerFunc[Trade](func(t *Trade, _ int64, endOfBatch bool) error {
		total += t.Qty
		return nil
	}))
	_ = d.Start()
	lo, hi, err := d.Claim(16)
	if err != nil {
		panic(err)
	}
	for seq := lo; seq <= hi; seq++ {
		t := d.Entry(seq)
		t.ID, t.Qty = seq, 2
	}
	if err := d.Commit(lo, hi); err != nil {
		panic(err)
	}
	_ = d.Shutdown(context.Background())
	fmt.Println("claimed", lo, "to", hi, "total qty", total)
	// Output: claimed 0 to 15 total qty 32
}

// TryPublish never waits: on a full ring it returns ErrFull, and the caller
// decides what to do (count it, shed load, retry later).
func ExampleDisruptor_TryPublish() {
	d, _ := disruptor.New[Trade](2)
	release := make(chan struct{})
	d.HandleEventsWith(disruptor.HandlerFunc[Trade](func(*Trade, int64, bool) error {
		<-release // a slow handler
		return nil
	}))
	_ = d.Start()
	for range 3 {
		err := d.TryPublish(func(t *Trade) { t.Qty = 1 })
		switch {
		case errors.Is(err, disruptor.ErrFull):
			fmt.Println("ring full")
		case err != nil:
			panic(err)
		default:
			fmt.Println("accepted")
		}
	}
	close(release)
	_ = d.Shutdown(context.Background())
	fmt.Println("rejected:", d.Stats().Full)
	// Output:
	// accepted
	// accepted
	// ring full
	// rejected: 1
}

// A handler that fails does not stop the pipeline: the error handler hears
// about it (here it prints; by default it logs with log/slog), and the next
// entry is handled as usual.
func ExampleWithErrorHandler() {
	onError := func(e *disruptor.HandlerError) {
		fmt.Println("failed at", e.Sequence, "-", e.Err)
	}
	d, _ := disruptor.New[Trade](16, disruptor.WithErrorHandler(onError))
	d.HandleEventsWith(disruptor.HandlerFunc[Trade](func(t *Trade, _ int64, _ bool) error {
		if t.Qty <= 0 {
			return fmt.Errorf("trade %d: bad quantity %d", t.ID, t.Qty)
		}
		fmt.Println("handled trade", t.ID)
		return nil
	}))
	_ = d.Start()
	for i, qty := range []int64{5, 0, 7} {
		_ = d.Publish(func(t *Trade) { t.ID, t.Qty = int64(i+1), qty })
	}
	_ = d.Shutdown(context.Background())
	fmt.Println("errors:", d.Stats().HandlerErrors)
	// Output:
	// handled trade 1
	// failed at 1 - trade 2: bad quantity 0
	// handled trade 3
	// errors: 1
}

// Shutdown with a deadline: if the handlers cannot drain in time, it halts
// them and says how many accepted entries were not processed.
func ExampleDisruptor_Shutdown() {
	d, _ := disruptor.New[Trade](16)
	stuck := make(chan struct{})
	d.HandleEventsWith(disruptor.HandlerFunc[Trade](func(*Trade, int64, bool) error {
		<-stuck // e.g. a downstream service that hangs
		return nil
	}))
	_ = d.Start()
	for range 5 {
		_ = d.Publish(func(t *Trade) { t.Qty = 1 })
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	err := d.Shutdown(ctx)
	fmt.Println(errors.Is(err, context.DeadlineExceeded))
	fmt.Println(errors.Is(d.Publish(func(*Trade) {}), disruptor.ErrClosed))
	close(stuck)
	<-d.Done() // the halted handler has returned
	// Output:
	// true
	// true
}

// Choosing a wait strategy: Blocking (the default) costs no CPU while idle;
// Yielding and BusySpin trade a core per waiting goroutine for latency and
// are only for machines with cores to spare.
func ExampleWithWaitStrategy() {
	d, err := disruptor.New[Trade](1024,
		disruptor.WithWaitStrategy(disruptor.Sleeping{MaxSleep: 200 * time.Microsecond}),
		disruptor.WithProducerType(disruptor.SingleProducer))
	if err != nil {
		panic(err)
	}
	var n int
	d.HandleEventsWith(disruptor.HandlerFunc[Trade](func(*Trade, int64, bool) error { n++; return nil }))
	_ = d.Start()
	_ = d.PublishBatch(10, func(i int, t *Trade) { t.ID = int64(i) })
	_ = d.Shutdown(context.Background())
	fmt.Println(n)
	// Output: 10
}
