package ring_test

// Benchmarks: the ring against the usual Go broadcast, a buffered channel per
// reader, with the same payload, readers and batch sizes, in the same run.
//
//	go test -run '^$' -bench . -benchtime 200000x -count 5 ./ring/
//
// BenchmarkFanout measures delivery: one op is one event received by every
// reader, and the clock stops when each reader has received b.N events.
// The ring's writer publishes flat out meanwhile and never waits, so slow
// readers are overrun: lost/event is the fraction of values they skipped and
// published/s the writer's rate. The channel fan-out blocks the writer on a
// full channel instead and loses nothing. deliveries/s counts values handed
// to readers, all readers together.

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringcast/ringcast/ring"
)

// payload is 64 bytes, one cache line: a sequence, a timestamp and a body.
type payload struct {
	seq  uint64
	at   int64
	body [48]byte
}

const benchCapacity = 4096

func BenchmarkPublish(b *testing.B) {
	r, _ := ring.New[payload](benchCapacity)
	for i := range 2 * benchCapacity { // first laps allocate the boxes
		r.Publish(payload{seq: uint64(i)})
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		r.Publish(payload{seq: uint64(i)})
	}
}

func BenchmarkPublishBatch64(b *testing.B) {
	r, _ := ring.New[payload](benchCapacity)
	batch := make([]payload, 64)
	for range 2 * benchCapacity / 64 {
		r.PublishBatch(batch)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += 64 {
		r.PublishBatch(batch)
	}
}

func BenchmarkFanout(b *testing.B) {
	for _, readers := range []int{1, 4, 16, 64} {
		for _, batch := range []int{1, 64} {
			name := fmt.Sprintf("readers=%d/batch=%d", readers, batch)
			b.Run("ring/"+name, func(b *testing.B) { benchRing(b, readers, batch) })
			b.Run("chan/"+name, func(b *testing.B) { benchChan(b, readers, batch) })
		}
	}
}

func benchRing(b *testing.B, readers, batch int) {
	r, _ := ring.New[payload](benchCapacity)
	warm := make([]payload, benchCapacity)
	r.PublishBatch(warm) // the first laps allocate the pages
	r.PublishBatch(warm)
	var wg sync.WaitGroup
	var done atomic.Int32
	delivered := make([]uint64, readers)
	lost := make([]uint64, readers)
	want := uint64(b.N)
	for i := range readers {
		rd := r.Subscribe()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer rd.Close()
			defer done.Add(1)
			buf := make([]payload, batch)
			var sum uint64
			for delivered[i] < want {
				if batch == 1 {
					v, err := rd.Next(context.Background())
					if err != nil {
						lost[i] += lagged(b, err)
						continue
					}
					sum += v.seq
					delivered[i]++
					continue
				}
				n, err := rd.NextBatch(context.Background(), buf[:min(uint64(batch), want-delivered[i])])
				if err != nil {
					lost[i] += lagged(b, err)
					continue
				}
				for j := range n {
					sum += buf[j].seq
				}
				delivered[i] += uint64(n)
			}
			_ = sum
		}()
	}
	vs := make([]payload, batch)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	var published uint64
	for done.Load() < int32(readers) {
		for range 64 / batch {
			if batch == 1 {
				r.Publish(payload{seq: published})
				published++
				continue
			}
			for j := range vs {
				vs[j].seq = published + uint64(j)
			}
			r.PublishBatch(vs)
			published += uint64(batch)
		}
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	r.Close()
	var d, l uint64
	for i := range readers {
		d += delivered[i]
		l += lost[i]
	}
	b.ReportMetric(float64(d)/elapsed.Seconds(), "deliveries/s")
	b.ReportMetric(float64(published)/elapsed.Seconds(), "published/s")
	b.ReportMetric(float64(l)/float64(d+l), "lost/event")
}

func lagged(b *testing.B, err error) uint64 {
	var le *ring.LagError
	if !errors.As(err, &le) {
		b.Fatal(err)
	}
	return le.Missed
}

// benchChan is the usual Go broadcast: a buffered channel per reader and a
// blocking send to each, batches sent as slices.
func benchChan(b *testing.B, readers, batch int) {
	chans := make([]chan []payload, readers)
	var wg sync.WaitGroup
	delivered := make([]uint64, readers)
	for i := range readers {
		ch := make(chan []payload, benchCapacity/batch)
		chans[i] = ch
		wg.Add(1)
		go func() {
			defer wg.Done()
			var sum uint64
			for vs := range ch {
				for j := range vs {
					sum += vs[j].seq
				}
				delivered[i] += uint64(len(vs))
			}
			_ = sum
		}()
	}
	// Batches are pre-built and shared read-only: the channel side pays for
	// no copy and no allocation, where the ring copies each value out.
	batches := make([][]payload, benchCapacity/batch+1)
	for k := range batches {
		batches[k] = make([]payload, batch)
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i, k := 0, 0; i < b.N; i, k = i+batch, k+1 {
		vs := batches[k%len(batches)][:min(batch, b.N-i)]
		for _, ch := range chans {
			ch <- vs
		}
	}
	for _, ch := range chans {
		close(ch)
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	var d uint64
	for _, n := range delivered {
		d += n
	}
	if d != uint64(b.N)*uint64(readers) {
		b.Fatalf("channel fan-out delivered %d, want %d", d, b.N*readers)
	}
	b.ReportMetric(float64(d)/elapsed.Seconds(), "deliveries/s")
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "published/s")
	b.ReportMetric(0, "lost/event")
}

// BenchmarkWakeup is a ping-pong between two goroutines over two rings: one op
// is one round trip, i.e. two publishes that each wake a waiting reader. It
// shows what a value costs to reach a reader that was idle, per wait
// strategy, against the same ping-pong over two buffered channels.
func BenchmarkWakeup(b *testing.B) {
	for _, ws := range []ring.WaitStrategy{ring.Adaptive, ring.Sleeping, ring.Blocking, ring.Yielding} {
		b.Run("ring/"+ws.String(), func(b *testing.B) {
			ping, _ := ring.New[int](64, ring.WithWaitStrategy(ws))
			pong, _ := ring.New[int](64, ring.WithWaitStrategy(ws))
			in, out := ping.Subscribe(), pong.Subscribe()
			defer out.Close()
			go func() {
				defer in.Close()
				for {
					v, err := in.Next(context.Background())
					if err != nil {
						pong.Close()
						return
					}
					pong.Publish(v)
				}
			}()
			b.ResetTimer()
			for i := range b.N {
				ping.Publish(i)
				if _, err := out.Next(context.Background()); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			ping.Close()
		})
	}
	b.Run("chan", func(b *testing.B) {
		ping, pong := make(chan int, 64), make(chan int, 64)
		go func() {
			for v := range ping {
				pong <- v
			}
			close(pong)
		}()
		for i := range b.N {
			ping <- i
			<-pong
		}
		close(ping)
	})
}

// BenchmarkRead is the reader's own cost, without contention: one goroutine
// publishes a page's worth of values, then reads them back. ns/op is per
// value read (and includes its publish).
func BenchmarkRead(b *testing.B) {
	for _, style := range []string{"Next", "NextBatch64"} {
		b.Run(style, func(b *testing.B) {
			r, _ := ring.New[payload](benchCapacity)
			rd := r.Subscribe()
			defer rd.Close()
			vs := make([]payload, 64)
			buf := make([]payload, 64)
			ctx := context.Background()
			for range 2 * benchCapacity / 64 { // the first laps allocate the pages
				r.PublishBatch(vs)
				for range 64 {
					rd.Next(ctx)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i += 64 {
				r.PublishBatch(vs)
				if style == "Next" {
					for range 64 {
						if _, err := rd.Next(ctx); err != nil {
							b.Fatal(err)
						}
					}
					continue
				}
				if n, err := rd.NextBatch(ctx, buf); n != 64 || err != nil {
					b.Fatal(n, err)
				}
			}
		})
	}
}
