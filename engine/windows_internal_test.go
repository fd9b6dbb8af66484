package engine

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/discoterm/discoterm/engine/journal"
	"github.com/discoterm/discoterm/store"
)

// TestWindowsGateAutomaticPushes: with a window set, catch-up and Up leave
// the branch's hosts alone outside it (no SSH attempt at all), push inside
// it, and Up with IgnoreWindows pushes any time. The hosts view and the
// log show the next window; a bad window set is refused whole.
func TestWindowsGateAutomaticPushes(t *testing.T) {
	st, err := store.Open(filepath.Join(t.TempDir(), "s.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// Wednesday 2026-12-02 05:00 UTC; the window opens Saturday 02:00.
	now := time.Date(2026, 12, 2, 5, 0, 0, 0, time.UTC)
	fr := &failingRemote{}
	key, allowed := testSigner(t, "cron")
	e, err := New(Options{Store: st, Remote: fr, Operator: "cron", Clock: func() time.Time { return now }, Signer: key, AllowedSigners: allowed})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Lock("main", "one entry"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Stage("main", StageRequest{Kind: journal.KindExec, Command: "true"}); err != nil {
		t.Fatal(err)
	}
	p, err := e.Plan(context.Background(), PlanRequest{Branch: "main"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Approve(p.ID, false); err != nil {
		t.Fatal(err)
	}
	h := store.Host{ID: "mid:1", Name: "web1", Addr: "fe80::1%br0", MAC: "02:00:00:00:00:01", Trusted: true, Branch: "main", Liveness: "alive"}
	if err := st.Update(func(tx store.Tx) error { return tx.PutHost(h) }); err != nil {
		t.Fatal(err)
	}
	if err := e.SetCatchUp("main", store.CatchUp{Enabled: true, Parallel: 1}); err != nil {
		t.Fatal(err)
	}
	if err := e.SetWindows("main", []string{"Sat 02:00-04:00 UTC", "Sun  02:00-03:00   Europe/Berlin"}); err != nil {
		t.Fatal(err)
	}
	// Overlapping windows: refused, the stored ones kept.
	err = e.SetWindows("main", []string{"Sat 02:00-04:00 UTC", "Sat 03:00-05:00 UTC"})
	if !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), "overlap") {
		t.Fatalf("overlapping windows: %v", err)
	}
	if err := e.SetWindows("main", []string{"Sat 02:00-04:00 UTX"}); err == nil || !strings.Contains(err.Error(), "column 17") {
		t.Fatalf("bad zone: %v", err)
	}
	lv, err := e.Log("main")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(lv.Branch.Windows, "; "); got != "Sat 02:00-04:00 UTC; Sun 02:00-03:00 Europe/Berlin" {
		t.Fatalf("stored windows after refused changes: %q", got)
	}
	if lv.NextWindow == nil || !lv.NextWindow.Start.Equal(time.Date(2026, 12, 5, 2, 0, 0, 0, time.UTC)) || lv.NextWindow.Open {
		t.Fatalf("log's next window: %+v", lv.NextWindow)
	}
	views, err := e.Hosts(context.Background())
	if err != nil || len(views) != 1 || views[0].NextWindow == nil || views[0].NextWindow.Window != "Sat 02:00-04:00 UTC" {
		t.Fatalf("hosts view: %+v %v", views, err)
	}

	d := &discovery{e: e, opts: DiscoverOptions{BackoffMin: time.Minute, BackoffMax: 3 * time.Minute},
		running: map[string]bool{}, backoff: map[string]time.Time{}, fails: map[string]int{}, slots: make(chan struct{}, 4)}
	round := func() int {
		before := fr.count()
		d.catchUp(context.Background(), map[string]store.Host{h.MAC: h})
		d.wg.Wait()
		return fr.count() - before
	}
	if n := round(); n != 0 {
		t.Fatalf("catch-up outside the window: %d SSH attempts, want none", n)
	}
	_, _, err = e.Up(context.Background(), PlanRequest{Branch: "main"}, PushOptions{})
	if !errors.Is(err, ErrOutsideWindow) || !strings.Contains(err.Error(), "Sat 2026-12-05 02:00 UTC") || !strings.Contains(err.Error(), "--now") || fr.count() != 0 {
		t.Fatalf("up outside the window: %v (%d attempts)", err, fr.count())
	}
	if _, _, err = e.Up(context.Background(), PlanRequest{Branch: "main"}, PushOptions{IgnoreWindows: true}); errors.Is(err, ErrOutsideWindow) || fr.count() != 1 {
		t.Fatalf("up --now: %v (%d attempts, want 1)", err, fr.count())
	}
	now = time.Date(2026, 12, 5, 2, 30, 0, 0, time.UTC) // inside
	if n := round(); n != 1 {
		t.Fatalf("catch-up inside the window: %d attempts, want 1", n)
	}
	if views, _ := e.Hosts(context.Background()); views[0].NextWindow == nil || !views[0].NextWindow.Open {
		t.Fatalf("inside the window, the view says %+v", views[0].NextWindow)
	}
	now = time.Date(2026, 12, 6, 1, 30, 0, 0, time.UTC) // Sunday 02:30 in Berlin (CET): the second window
	if _, _, err = e.Up(context.Background(), PlanRequest{Branch: "main"}, PushOptions{}); errors.Is(err, ErrOutsideWindow) {
		t.Fatalf("up inside the Berlin window: %v", err)
	}
	if err := e.SetWindows("main", nil); err != nil {
		t.Fatal(err)
	}
	if views, _ := e.Hosts(context.Background()); views[0].NextWindow != nil {
		t.Fatalf("windows cleared, the view still says %+v", views[0].NextWindow)
	}
}
