package ui

import (
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/discoterm/discoterm/ui/uitest"
)

var _ Backend = (*uitest.Fake)(nil)

// testClock is a clock tests move by hand.
type testClock struct{ t time.Time }

func (c *testClock) Now() time.Time          { return c.t }
func (c *testClock) advance(d time.Duration) { c.t = c.t.Add(d) }

// driver runs the root model the way a tea.Program would, synchronously:
// it feeds a message to Update, runs the commands that come back, feeds
// their messages, and so on until nothing is left. Commands that wait —
// the event bridge and timers — are parked instead; pump runs the event
// bridge when events are queued.
type driver struct {
	t       testing.TB
	m       *Model
	f       *uitest.Fake
	clock   *testClock
	parked  []tea.Cmd
	pending []tea.Msg
	bursts  int  // event bursts delivered
	quit    bool // the model asked to quit
	// async runs commands whose function name contains one of these in a
	// goroutine; their messages arrive through late (see await).
	async []string
	late  chan tea.Msg
}

// waits reports whether cmd is one that blocks: the event bridge or a
// timer. They are recognised by the name of their function literal, which
// survives inlining ("ui.listen.func1", "ui.(*Model).Init.listen.func1").
func waits(cmd tea.Cmd) bool {
	return isListen(cmd) || strings.Contains(funcName(cmd), ".Tick.func")
}

func isListen(cmd tea.Cmd) bool { return strings.Contains(funcName(cmd), ".listen.func") }

func funcName(cmd tea.Cmd) string {
	return runtime.FuncForPC(reflect.ValueOf(cmd).Pointer()).Name()
}

func newDriver(t testing.TB, fo uitest.Options, w, h int) *driver {
	return newThemedDriver(t, fo, w, h, "dark")
}

func newThemedDriver(t testing.TB, fo uitest.Options, w, h int, theme string) *driver {
	t.Helper()
	clock := &testClock{t: uitest.Epoch}
	if fo.Clock == nil {
		fo.Clock = clock.Now
	}
	f := uitest.New(fo)
	m, err := NewModel(f, Options{Theme: theme, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	d := &driver{t: t, m: m, f: f, clock: clock, late: make(chan tea.Msg, 16)}
	d.send(tea.WindowSizeMsg{Width: w, Height: h})
	d.run(m.Init())
	d.settle()
	return d
}

// queue holds messages produced by commands, processed in order.
func (d *driver) settle() {
	for len(d.pending) > 0 {
		msg := d.pending[0]
		d.pending = d.pending[1:]
		switch msg.(type) {
		case eventsMsg:
			d.bursts++
		case tea.QuitMsg:
			d.quit = true
		}
		_, cmd := d.m.Update(msg)
		d.run(cmd)
	}
}

// send delivers one message and everything it leads to.
func (d *driver) send(msg tea.Msg) {
	d.pending = append(d.pending, msg)
	d.settle()
}

func (d *driver) run(cmd tea.Cmd) {
	if cmd == nil {
		return
	}
	if waits(cmd) {
		d.parked = append(d.parked, cmd)
		return
	}
	for _, a := range d.async {
		if strings.Contains(funcName(cmd), a) {
			go func() { d.late <- cmd() }()
			return
		}
	}
	switch msg := cmd().(type) {
	case nil:
	case tea.BatchMsg:
		for _, c := range msg {
			d.run(c)
		}
	default:
		d.pending = append(d.pending, msg)
	}
}

// pump delivers the engine events queued so far, burst by burst.
func (d *driver) pump() {
	for len(d.m.events) > 0 {
		i := d.parkedListen()
		if i < 0 {
			d.t.Fatal("events are queued but nobody listens")
		}
		cmd := d.parked[i]
		d.parked = append(d.parked[:i], d.parked[i+1:]...)
		d.send(cmd())
	}
}

// await delivers the next message of an async command.
func (d *driver) await() {
	d.t.Helper()
	select {
	case msg := <-d.late:
		d.send(msg)
	case <-time.After(10 * time.Second):
		d.t.Fatal("async command never finished")
	}
}

func (d *driver) parkedListen() int {
	for i, c := range d.parked {
		if isListen(c) {
			return i
		}
	}
	return -1
}

// key presses one key, by its name as tea spells it ("enter", "ctrl+c",
// "L", "space").
func (d *driver) key(k string) {
	d.send(keyMsg(k))
}

// keys presses several keys in turn.
func (d *driver) keys(ks ...string) {
	for _, k := range ks {
		d.key(k)
	}
}

// typeText types text one character at a time.
func (d *driver) typeText(s string) {
	for _, r := range s {
		d.send(tea.KeyPressMsg{Code: r, Text: string(r)})
	}
}

func keyMsg(k string) tea.KeyPressMsg {
	special := map[string]tea.Key{
		"enter": {Code: tea.KeyEnter}, "esc": {Code: tea.KeyEscape}, "tab": {Code: tea.KeyTab},
		"shift+tab": {Code: tea.KeyTab, Mod: tea.ModShift}, "space": {Code: tea.KeySpace, Text: " "},
		"up": {Code: tea.KeyUp}, "down": {Code: tea.KeyDown}, "backspace": {Code: tea.KeyBackspace},
		"ctrl+c": {Code: 'c', Mod: tea.ModCtrl}, "ctrl+s": {Code: 's', Mod: tea.ModCtrl},
		"ctrl+a": {Code: 'a', Mod: tea.ModCtrl},
	}
	if s, ok := special[k]; ok {
		return tea.KeyPressMsg(s)
	}
	r := []rune(k)[0]
	return tea.KeyPressMsg{Code: r, Text: k}
}

// screen is the current frame without styles.
func (d *driver) screen() string { return stripANSI(d.m.View().Content) }

func stripANSI(s string) string { return ansiStrip(s) }

// flashText is the flash message shown now, "" when none.
func (d *driver) flashText() string {
	if d.m.flashNow == nil {
		return ""
	}
	return d.m.flashNow.text
}

func (d *driver) wantCalls(want ...string) {
	d.t.Helper()
	got := d.f.Calls()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		d.t.Fatalf("backend calls:\n  got  %q\n  want %q", got, want)
	}
}

func (d *driver) wantScreen(fragments ...string) {
	d.t.Helper()
	s := d.screen()
	for _, f := range fragments {
		if !strings.Contains(s, f) {
			d.t.Fatalf("screen lacks %q:\n%s", f, s)
		}
	}
}
