// Package team runs the parts of a parallel loop on goroutines that stay
// awake between loops.
//
// A U-Net call is about a thousand parallel loops (products, norms,
// attention jobs) with serial stretches of tens of microseconds between
// them. Started with `go`, each loop's helpers wait for the runtime to wake
// a parked thread: measured on a 2-core VM, 90-100 µs per loop, during
// which the caller works alone and after which it waits for the helper to
// catch up: 6% of a 256 px call. Team members instead spin for a while
// after each part, so the next loop finds them running; a member that has
// had no work for spinFor parks.
//
// Which part runs where changes nothing but the timing: the caller splits
// its loop into parts as before.
package team

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// spinFor is how long an idle member, or a caller waiting for its members,
// keeps checking for work before it blocks (in nanoseconds; atomic so that
// tests can make members park at once). Most gaps between a call's loops
// are shorter. Spinning longer gains nothing alone and costs where
// processes share the cores: three test packages at once on 2 cores took
// 1m14s without spinning, 1m16s with 50 µs, 1m27s with 500 µs.
var spinFor atomic.Int64

func init() { spinFor.Store(int64(50 * time.Microsecond)) }

// Run calls part(0), ..., part(n-1) and returns when all have returned:
// part(0) on the calling goroutine, the others on idle team members (or on
// new goroutines where there are too few, as when loops run concurrently).
// Members are kept only up to GOMAXPROCS-1: more could not all run at once,
// and a spinning member would then take a processor from a working one.
func Run(n int, part func(i int)) {
	if n <= 1 {
		if n == 1 {
			part(0)
		}
		return
	}
	r := &round{part: part, done: make(chan struct{}, 1)}
	r.pending.Store(int32(n - 1))
	for i := 1; i < n; i++ {
		if m := acquire(); m != nil {
			m.give(&assignment{r, i})
			continue
		}
		go func(i int) {
			part(i)
			r.finish()
		}(i)
	}
	part(0)
	r.wait()
}

// round is one call of Run.
type round struct {
	part    func(int)
	pending atomic.Int32  // parts other than 0 not yet returned
	done    chan struct{} // gets a value when pending reaches 0
}

func (r *round) finish() {
	if r.pending.Add(-1) == 0 {
		r.done <- struct{}{}
	}
}

// wait returns when every part but the caller's has returned, spinning
// first: the members usually finish within microseconds of the caller.
func (r *round) wait() {
	if spin(func() bool { return r.pending.Load() == 0 }) {
		return
	}
	<-r.done
}

type assignment struct {
	r *round
	i int
}

// member is a goroutine of the team. work is its mailbox; parked is set
// while it blocks on wake.
type member struct {
	work   atomic.Pointer[assignment]
	parked atomic.Bool
	wake   chan struct{}
}

var (
	mu      sync.Mutex
	idle    []*member
	members int // all started, idle or not
)

// acquire takes an idle member, starting one if the team is smaller than
// GOMAXPROCS-1, or returns nil.
func acquire() *member {
	mu.Lock()
	defer mu.Unlock()
	if k := len(idle); k > 0 {
		m := idle[k-1]
		idle = idle[:k-1]
		return m
	}
	if members >= runtime.GOMAXPROCS(0)-1 {
		return nil
	}
	members++
	m := &member{wake: make(chan struct{}, 1)}
	go m.loop()
	return m
}

func release(m *member) {
	mu.Lock()
	idle = append(idle, m)
	mu.Unlock()
}

// give hands m its next part. Either m sees the work before it parks, or
// this sees parked and wakes it: each checks after publishing its own
// store, and atomics are sequentially consistent.
func (m *member) give(a *assignment) {
	m.work.Store(a)
	if m.parked.Load() {
		select {
		case m.wake <- struct{}{}:
		default: // a wake is already pending
		}
	}
}

func (m *member) loop() {
	for {
		a := m.next()
		a.r.part(a.i)
		// Idle again before the round ends, so that the caller's next
		// loop finds this member free.
		release(m)
		a.r.finish()
	}
}

// next returns the member's next assignment, spinning for spinFor, then
// parking until woken.
func (m *member) next() *assignment {
	for {
		var a *assignment
		if spin(func() bool { a = m.work.Swap(nil); return a != nil }) {
			return a
		}
		m.parked.Store(true)
		if a = m.work.Swap(nil); a == nil {
			<-m.wake // a stale wake only sends it round the loop again
		}
		m.parked.Store(false)
		if a != nil {
			return a
		}
	}
}

// spin calls ready until it reports true (then spin does) or spinFor has
// passed (then false), yielding the processor now and then so that
// goroutines waiting for it run.
func spin(ready func() bool) bool {
	var start time.Time
	for i := 0; ; i++ {
		if ready() {
			return true
		}
		if i%64 == 63 {
			if start.IsZero() {
				start = time.Now()
			} else if time.Since(start) > time.Duration(spinFor.Load()) {
				return false
			}
			runtime.Gosched()
		}
	}
}
