package disruptor

// The LMAX performance tests, each side by side with its channel equivalent
// in the same run: unicast 1P–1C, pipeline 1P–3C, multicast 1P–3C, diamond
// 1P–3C and sequencer 3P–1C, each with claims of 1 and 16 entries.
//
// One op is one event: produced once and processed by every consumer of the
// graph, so ns/op is the time per event end to end and allocs/op must be 0.
// The channel equivalents use buffered channels of the same capacity; with
// batch=16 they send [16]int64 arrays, which is how one batches with
// channels, so the comparison stays fair. Every run checks its result (sums,
// counts) so nothing can be optimised away or silently lost.
//
//	go test -run '^$' -bench . -benchtime 200ms -count 5 ./disruptor/ | tee bench.txt
//	go run golang.org/x/perf/cmd/benchstat -col /impl bench.txt
//
// benchstat then shows each disruptor variant next to its channel
// equivalent with the ratio. BenchmarkClaimCommit measures the producer's
// path alone.
//
// Variants (impl=): chan, disruptor (the default Blocking wait strategy)
// and disruptor-yielding (Yielding{}), the opt-in spinning strategy, to show
// what spinning costs when goroutines outnumber cores.

import (
	"fmt"
	"sync"
	"testing"
)

const benchRingSize = 1 << 16

type benchVariant struct {
	name string
	wait WaitStrategy // nil: the channel equivalent
}

var benchVariants = []benchVariant{
	{"chan", nil},
	{"disruptor", Blocking{}},
	{"disruptor-yielding", Yielding{}},
}

var benchBatches = []int{1, 16}

// valueEvent is LMAX's ValueEvent: one long.
type valueEvent struct{ Value int64 }

// functionEvent is LMAX's FunctionEvent for the pipeline: each stage reads
// what the stage before it wrote.
type functionEvent struct {
	OperandOne, OperandTwo int64
	StepOne, StepTwo       int64
}

// fizzBuzzEvent is LMAX's FizzBuzzEvent for the diamond.
type fizzBuzzEvent struct {
	Value      int64
	Fizz, Buzz bool
}

// finish counts down a WaitGroup when a handler at the end of the graph has
// processed the last event of the run.
type finish struct {
	last int64
	wg   *sync.WaitGroup
}

func (f finish) check(seq int64) {
	if seq == f.last {
		f.wg.Done()
	}
}

// publishFunc publishes k events with values v..v+k-1 (one Publish when
// k == 1, a Claim/Commit of k otherwise). Each benchmark writes its own, so
// entries are filled inline, as a real producer would.
type publishFunc[T any] func(d *Disruptor[T], v, k int64) error

// runDisruptor starts d (already wired), publishes n events from producers
// goroutines in claims of batch, and returns once every end-of-graph handler
// has seen the last event (wg). Timing starts after Start and stops before
// Shutdown.
func runDisruptor[T any](b *testing.B, d *Disruptor[T], wg *sync.WaitGroup, producers, batch int, n int64, publish publishFunc[T]) {
	if err := d.Start(); err != nil {
		b.Fatal(err)
	}
	var pwg sync.WaitGroup
	b.ResetTimer()
	for p := range producers {
		pwg.Add(1)
		go func() {
			defer pwg.Done()
			// Producer p publishes its share, n/producers events (+ remainder).
			share := n / int64(producers)
			if p == 0 {
				share += n % int64(producers)
			}
			base := int64(p) << 40 // distinct values per producer
			for i := int64(0); i < share; {
				k := min(int64(batch), share-i)
				if err := publish(d, base+i, k); err != nil {
					b.Error(err)
					return
				}
				i += k
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	pwg.Wait()
	if err := d.Shutdown(b.Context()); err != nil {
		b.Fatal(err)
	}
}

func publishValues(d *Disruptor[valueEvent], v, k int64) error {
	if k == 1 {
		return d.Publish(func(e *valueEvent) { e.Value = v })
	}
	lo, hi, err := d.Claim(int(k))
	if err != nil {
		return err
	}
	for s := lo; s <= hi; s++ {
		d.Entry(s).Value = v + s - lo
	}
	return d.Commit(lo, hi)
}

func publishFunctions(d *Disruptor[functionEvent], v, k int64) error {
	if k == 1 {
		return d.Publish(func(e *functionEvent) { e.OperandOne, e.OperandTwo = v, v+1 })
	}
	lo, hi, err := d.Claim(int(k))
	if err != nil {
		return err
	}
	for s := lo; s <= hi; s++ {
		e := d.Entry(s)
		e.OperandOne, e.OperandTwo = v+s-lo, v+s-lo+1
	}
	return d.Commit(lo, hi)
}

func publishFizzBuzz(d *Disruptor[fizzBuzzEvent], v, k int64) error {
	if k == 1 {
		return d.Publish(func(e *fizzBuzzEvent) { e.Value = v })
	}
	lo, hi, err := d.Claim(int(k))
	if err != nil {
		return err
	}
	for s := lo; s <= hi; s++ {
		d.Entry(s).Value = v + s - lo
	}
	return d.Commit(lo, hi)
}

// newBenchRun returns the disruptor of one benchmark run, the finish its
// end-of-graph handlers call, and the WaitGroup that finish counts down:
// ends is the number of handlers at the end of the graph.
func newBenchRun[T any](b *testing.B, ws WaitStrategy, pt ProducerType, n int64, ends int) (*Disruptor[T], finish, *sync.WaitGroup) {
	d, err := New[T](benchRingSize, WithWaitStrategy(ws), WithProducerType(pt))
	if err != nil {
		b.Fatal(err)
	}
	wg := new(sync.WaitGroup)
	wg.Add(ends)
	return d, finish{n - 1, wg}, wg
}

// expectedSum is the sum of the values one producer publishes: 0..share-1
// plus its base.
func expectedSum(n int64, producers int) int64 {
	var sum int64
	for p := range producers {
		share := n / int64(producers)
		if p == 0 {
			share += n % int64(producers)
		}
		sum += share*(share-1)/2 + share*(int64(p)<<40)
	}
	return sum
}

func forEachVariant(b *testing.B, run func(b *testing.B, v benchVariant, batch int)) {
	for _, batch := range benchBatches {
		for _, v := range benchVariants {
			b.Run(fmt.Sprintf("impl=%s/batch=%d", v.name, batch), func(b *testing.B) {
				b.ReportAllocs()
				run(b, v, batch)
			})
		}
	}
}

// BenchmarkUnicast1P1C is LMAX's OneToOneSequencedThroughputTest: one
// producer, one consumer summing values.
func BenchmarkUnicast1P1C(b *testing.B) {
	forEachVariant(b, func(b *testing.B, v benchVariant, batch int) {
		n := int64(b.N)
		var sum int64
		if v.wait == nil {
			chanUnicast(b, batch, n, &sum)
		} else {
			sum = disruptorSum(b, v.wait, SingleProducer, 1, batch, n)
		}
		if want := expectedSum(n, 1); sum != want {
			b.Fatalf("sum %d, want %d", sum, want)
		}
	})
}

// disruptorSum is the disruptor side of unicast and sequencer: producers
// publish n values into one handler that sums them.
func disruptorSum(b *testing.B, ws WaitStrategy, pt ProducerType, producers, batch int, n int64) int64 {
	d, f, wg := newBenchRun[valueEvent](b, ws, pt, n, 1)
	var sum int64
	d.HandleEventsWith(HandlerFunc[valueEvent](func(e *valueEvent, seq int64, _ bool) error {
		sum += e.Value
		f.check(seq)
		return nil
	}))
	runDisruptor(b, d, wg, producers, batch, n, publishValues)
	return sum
}

func chanUnicast(b *testing.B, batch int, n int64, sum *int64) {
	done := make(chan struct{})
	if batch == 1 {
		ch := make(chan int64, benchRingSize)
		go func() {
			for i := int64(0); i < n; i++ {
				*sum += <-ch
			}
			close(done)
		}()
		b.ResetTimer()
		for i := int64(0); i < n; i++ {
			ch <- i
		}
	} else {
		ch := make(chan [16]int64, benchRingSize/16)
		go func() {
			for i := int64(0); i < n; i += 16 {
				vs := <-ch
				for j := int64(0); j < min(16, n-i); j++ {
					*sum += vs[j]
				}
			}
			close(done)
		}()
		b.ResetTimer()
		for i := int64(0); i < n; i += 16 {
			var vs [16]int64
			for j := int64(0); j < 16 && i+j < n; j++ {
				vs[j] = i + j
			}
			ch <- vs
		}
	}
	<-done
	b.StopTimer()
}

// BenchmarkMulticast1P3C is LMAX's OneToThreeSequencedThroughputTest: three
// consumers each see every event and fold it differently.
func BenchmarkMulticast1P3C(b *testing.B) {
	forEachVariant(b, func(b *testing.B, v benchVariant, batch int) {
		n := int64(b.N)
		var add, sub, and int64
		and = -1
		if v.wait == nil {
			chanMulticast(b, batch, n, &add, &sub, &and)
		} else {
			d, f, wg := newBenchRun[valueEvent](b, v.wait, SingleProducer, n, 3)
			d.HandleEventsWith(
				HandlerFunc[valueEvent](func(e *valueEvent, seq int64, _ bool) error { add += e.Value; f.check(seq); return nil }),
				HandlerFunc[valueEvent](func(e *valueEvent, seq int64, _ bool) error { sub -= e.Value; f.check(seq); return nil }),
				HandlerFunc[valueEvent](func(e *valueEvent, seq int64, _ bool) error { and &= e.Value; f.check(seq); return nil }),
			)
			runDisruptor(b, d, wg, 1, batch, n, publishValues)
		}
		want := expectedSum(n, 1)
		wantAnd := int64(-1)
		for i := int64(0); i < min(n, 2); i++ {
			wantAnd &= i
		}
		if add != want || sub != -want || and != wantAnd {
			b.Fatalf("add %d sub %d and %d, want %d %d %d", add, sub, and, want, -want, wantAnd)
		}
	})
}

func chanMulticast(b *testing.B, batch int, n int64, add, sub, and *int64) {
	var wg sync.WaitGroup
	folds := []func(int64){
		func(v int64) { *add += v },
		func(v int64) { *sub -= v },
		func(v int64) { *and &= v },
	}
	if batch == 1 {
		chs := make([]chan int64, 3)
		for i, fold := range folds {
			chs[i] = make(chan int64, benchRingSize)
			wg.Add(1)
			go func(ch chan int64) {
				defer wg.Done()
				for j := int64(0); j < n; j++ {
					fold(<-ch)
				}
			}(chs[i])
		}
		b.ResetTimer()
		for i := int64(0); i < n; i++ {
			chs[0] <- i
			chs[1] <- i
			chs[2] <- i
		}
	} else {
		chs := make([]chan [16]int64, 3)
		for i, fold := range folds {
			chs[i] = make(chan [16]int64, benchRingSize/16)
			wg.Add(1)
			go func(ch chan [16]int64) {
				defer wg.Done()
				for j := int64(0); j < n; j += 16 {
					vs := <-ch
					for k := int64(0); k < min(16, n-j); k++ {
						fold(vs[k])
					}
				}
			}(chs[i])
		}
		b.ResetTimer()
		for i := int64(0); i < n; i += 16 {
			var vs [16]int64
			for j := int64(0); j < 16 && i+j < n; j++ {
				vs[j] = i + j
			}
			chs[0] <- vs
			chs[1] <- vs
			chs[2] <- vs
		}
	}
	wg.Wait()
	b.StopTimer()
}

// BenchmarkPipeline1P3C is LMAX's OneToThreePipelineSequencedThroughputTest:
// three stages, each computing from what the one before it wrote.
func BenchmarkPipeline1P3C(b *testing.B) {
	forEachVariant(b, func(b *testing.B, v benchVariant, batch int) {
		n := int64(b.N)
		var result int64
		if v.wait == nil {
			chanPipeline(b, batch, n, &result)
		} else {
			d, f, wg := newBenchRun[functionEvent](b, v.wait, SingleProducer, n, 1)
			d.HandleEventsWith(HandlerFunc[functionEvent](func(e *functionEvent, _ int64, _ bool) error {
				e.StepOne = e.OperandOne + e.OperandTwo
				return nil
			})).Then(HandlerFunc[functionEvent](func(e *functionEvent, _ int64, _ bool) error {
				e.StepTwo = e.StepOne + 3
				return nil
			})).Then(HandlerFunc[functionEvent](func(e *functionEvent, seq int64, _ bool) error {
				if e.StepTwo&4 == 4 {
					result++
				}
				f.check(seq)
				return nil
			}))
			runDisruptor(b, d, wg, 1, batch, n, publishFunctions)
		}
		var want int64
		for i := int64(0); i < n; i++ {
			if (i+i+1+3)&4 == 4 {
				want++
			}
		}
		if result != want {
			b.Fatalf("result %d, want %d", result, want)
		}
	})
}

func chanPipeline(b *testing.B, batch int, n int64, result *int64) {
	done := make(chan struct{})
	if batch == 1 {
		c1 := make(chan functionEvent, benchRingSize)
		c2 := make(chan functionEvent, benchRingSize)
		c3 := make(chan functionEvent, benchRingSize)
		go func() {
			for i := int64(0); i < n; i++ {
				e := <-c1
				e.StepOne = e.OperandOne + e.OperandTwo
				c2 <- e
			}
		}()
		go func() {
			for i := int64(0); i < n; i++ {
				e := <-c2
				e.StepTwo = e.StepOne + 3
				c3 <- e
			}
		}()
		go func() {
			for i := int64(0); i < n; i++ {
				if e := <-c3; e.StepTwo&4 == 4 {
					*result++
				}
			}
			close(done)
		}()
		b.ResetTimer()
		for i := int64(0); i < n; i++ {
			c1 <- functionEvent{OperandOne: i, OperandTwo: i + 1}
		}
	} else {
		type batchOf [16]functionEvent
		c1 := make(chan batchOf, benchRingSize/16)
		c2 := make(chan batchOf, benchRingSize/16)
		c3 := make(chan batchOf, benchRingSize/16)
		go func() {
			for i := int64(0); i < n; i += 16 {
				es := <-c1
				for k := range es {
					es[k].StepOne = es[k].OperandOne + es[k].OperandTwo
				}
				c2 <- es
			}
		}()
		go func() {
			for i := int64(0); i < n; i += 16 {
				es := <-c2
				for k := range es {
					es[k].StepTwo = es[k].StepOne + 3
				}
				c3 <- es
			}
		}()
		go func() {
			for i := int64(0); i < n; i += 16 {
				es := <-c3
				for k := int64(0); k < min(16, n-i); k++ {
					if es[k].StepTwo&4 == 4 {
						*result++
					}
				}
			}
			close(done)
		}()
		b.ResetTimer()
		for i := int64(0); i < n; i += 16 {
			var es batchOf
			for j := int64(0); j < 16 && i+j < n; j++ {
				es[j] = functionEvent{OperandOne: i + j, OperandTwo: i + j + 1}
			}
			c1 <- es
		}
	}
	<-done
	b.StopTimer()
}

// BenchmarkDiamond1P3C is LMAX's OneToThreeDiamondSequencedThroughputTest:
// fizz and buzz run in parallel, fizzbuzz after both.
func BenchmarkDiamond1P3C(b *testing.B) {
	forEachVariant(b, func(b *testing.B, v benchVariant, batch int) {
		n := int64(b.N)
		var fizzBuzz int64
		if v.wait == nil {
			chanDiamond(b, batch, n, &fizzBuzz)
		} else {
			d, f, wg := newBenchRun[fizzBuzzEvent](b, v.wait, SingleProducer, n, 1)
			d.HandleEventsWith(
				HandlerFunc[fizzBuzzEvent](func(e *fizzBuzzEvent, _ int64, _ bool) error { e.Fizz = e.Value%3 == 0; return nil }),
				HandlerFunc[fizzBuzzEvent](func(e *fizzBuzzEvent, _ int64, _ bool) error { e.Buzz = e.Value%5 == 0; return nil }),
			).Then(HandlerFunc[fizzBuzzEvent](func(e *fizzBuzzEvent, seq int64, _ bool) error {
				if e.Fizz && e.Buzz {
					fizzBuzz++
				}
				f.check(seq)
				return nil
			}))
			runDisruptor(b, d, wg, 1, batch, n, publishFizzBuzz)
		}
		if want := (n + 14) / 15; fizzBuzz != want {
			b.Fatalf("fizzbuzz %d, want %d", fizzBuzz, want)
		}
	})
}

func chanDiamond(b *testing.B, batch int, n int64, fizzBuzz *int64) {
	done := make(chan struct{})
	step := int64(1)
	if batch > 1 {
		step = 16
	}
	// With batch=16 every message carries 16 values (flags); the fizz and
	// buzz stages send their verdicts for all 16.
	type msg [16]int64
	type verdict [16]bool
	size := benchRingSize / int(step)
	inFizz, inBuzz := make(chan msg, size), make(chan msg, size)
	outFizz, outBuzz := make(chan verdict, size), make(chan verdict, size)
	stage := func(in chan msg, out chan verdict, mod int64) {
		for i := int64(0); i < n; i += step {
			m := <-in
			var v verdict
			for k := int64(0); k < step; k++ {
				v[k] = m[k]%mod == 0
			}
			out <- v
		}
	}
	go stage(inFizz, outFizz, 3)
	go stage(inBuzz, outBuzz, 5)
	go func() {
		for i := int64(0); i < n; i += step {
			f, bz := <-outFizz, <-outBuzz
			for k := int64(0); k < min(step, n-i); k++ {
				if f[k] && bz[k] {
					*fizzBuzz++
				}
			}
		}
		close(done)
	}()
	b.ResetTimer()
	for i := int64(0); i < n; i += step {
		var m msg
		for k := int64(0); k < step; k++ {
			m[k] = i + k
		}
		inFizz <- m
		inBuzz <- m
	}
	<-done
	b.StopTimer()
}

// BenchmarkSequencer3P1C is LMAX's ThreeToOneSequencedThroughputTest: three
// producers publish into one consumer (the multi-producer sequencer).
func BenchmarkSequencer3P1C(b *testing.B) {
	forEachVariant(b, func(b *testing.B, v benchVariant, batch int) {
		n := int64(b.N)
		var sum int64
		if v.wait == nil {
			chanSequencer(b, batch, n, &sum)
		} else {
			sum = disruptorSum(b, v.wait, MultiProducer, 3, batch, n)
		}
		if want := expectedSum(n, 3); sum != want {
			b.Fatalf("sum %d, want %d", sum, want)
		}
	})
}

func chanSequencer(b *testing.B, batch int, n int64, sum *int64) {
	done := make(chan struct{})
	var pwg sync.WaitGroup
	shares := func(p int) (share, base int64) {
		share = n / 3
		if p == 0 {
			share += n % 3
		}
		return share, int64(p) << 40
	}
	if batch == 1 {
		ch := make(chan int64, benchRingSize)
		go func() {
			for i := int64(0); i < n; i++ {
				*sum += <-ch
			}
			close(done)
		}()
		b.ResetTimer()
		for p := range 3 {
			pwg.Add(1)
			go func() {
				defer pwg.Done()
				share, base := shares(p)
				for i := int64(0); i < share; i++ {
					ch <- base + i
				}
			}()
		}
	} else {
		type msg struct {
			n  int
			vs [16]int64
		}
		ch := make(chan msg, benchRingSize/16)
		go func() {
			for got := int64(0); got < n; {
				m := <-ch
				for k := 0; k < m.n; k++ {
					*sum += m.vs[k]
				}
				got += int64(m.n)
			}
			close(done)
		}()
		b.ResetTimer()
		for p := range 3 {
			pwg.Add(1)
			go func() {
				defer pwg.Done()
				share, base := shares(p)
				for i := int64(0); i < share; i += 16 {
					var m msg
					for ; m.n < 16 && i+int64(m.n) < share; m.n++ {
						m.vs[m.n] = base + i + int64(m.n)
					}
					ch <- m
				}
			}()
		}
	}
	<-done
	b.StopTimer()
	pwg.Wait()
}

// BenchmarkClaimCommit is the sequencer alone, as in smarty's go-disruptor
// "reserve one / reserve many" figures: one goroutine claims, writes and
// commits, with no handler running (the gating sequence is advanced by the
// benchmark itself every 4096 events), so it measures the producer's path
// without cross-core traffic. ns/op is per event.
func BenchmarkClaimCommit(b *testing.B) {
	for _, pt := range []ProducerType{SingleProducer, MultiProducer} {
		for _, batch := range benchBatches {
			b.Run(fmt.Sprintf("producer=%v/batch=%d", pt, batch), func(b *testing.B) {
				b.ReportAllocs()
				d, err := New[valueEvent](benchRingSize, WithProducerType(pt))
				if err != nil {
					b.Fatal(err)
				}
				gate := newSequence()
				d.seq.gating = []*sequence{gate}
				d.seq.capacity = Blocking{}.NewWaiter()
				d.seq.setState(stateRunning)
				b.ResetTimer()
				for i := int64(0); i < int64(b.N); i += int64(batch) {
					if i&4095 < int64(batch) {
						gate.v.Store(i - 1) // everything before i is "processed"
					}
					if err := publishValues(d, i, int64(batch)); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
