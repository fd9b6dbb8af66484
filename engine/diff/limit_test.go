package diff

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestDiffTimeLimit: content from a host is untrusted, and a minimal line
// diff of two large files with nothing in common is quadratic. The diff
// gives up on minimality at Limit and still returns a correct diff (its
// old side is a, its new side is b).
func TestDiffTimeLimit(t *testing.T) {
	var a, b strings.Builder
	for i := 0; i < 60000; i++ {
		fmt.Fprintf(&a, "a%d\n", i)
		fmt.Fprintf(&b, "b%d\n", i)
		if i%7 == 0 {
			fmt.Fprintf(&a, "same%d\n", i)
			fmt.Fprintf(&b, "same%d\n", i)
		}
	}
	defer func(l time.Duration) { Limit = l }(Limit)
	Limit = 200 * time.Millisecond // the suite stays fast; the default is 2s
	done := make(chan []op, 1)
	start := time.Now()
	go func() { done <- edits(a.String(), b.String()) }()
	select {
	case ops := <-done:
		took := time.Since(start)
		var oldSide, newSide strings.Builder
		for _, o := range ops {
			if o.kind != '+' {
				oldSide.WriteString(o.text + "\n")
			}
			if o.kind != '-' {
				newSide.WriteString(o.text + "\n")
			}
		}
		if oldSide.String() != a.String() || newSide.String() != b.String() {
			t.Fatal("the time-limited diff does not turn a into b")
		}
		t.Logf("60k-line pathological diff: %v (limit %v)", took.Round(time.Millisecond), Limit)
	case <-time.After(Limit + 5*time.Second):
		t.Fatalf("diff still running after %v; Limit is %v", Limit+5*time.Second, Limit)
	}
}
