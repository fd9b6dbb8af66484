package engine

import (
	"encoding/json"
	"sync"
	"time"

	"github.com/discoterm/discoterm/store"
)

// EventType enumerates everything the engine reports. Faces (TUI, batch)
// render these; they never poll the engine's internals.
type EventType int

// The event types; each has one payload type below.
const (
	EventLog       EventType = iota // *LogEvent: a free-form activity line
	EventHost                       // *HostEvent: a host record changed (added, learned, seen, untrusted, liveness, assigned)
	EventLock                       // *LockEvent: a branch was locked or unlocked
	EventStaged                     // *StagedEvent: the staged list of a branch changed
	EventJournal                    // *JournalEvent: a branch was created or entries were committed
	EventPlanHost                   // *PlanHostEvent: one host finished planning
	EventPlanDone                   // *PlanDoneEvent: a plan is complete
	EventPushHost                   // *PushHostEvent: a host's push status changed
	EventPushEntry                  // *PushEntryEvent: one entry on one host finished
	EventPushDone                   // *PushDoneEvent: a push finished
	EventScan                       // *ScanEvent: scanner state (started, round, stopped, error)
	EventJob                        // *JobEvent: a long job started or finished
	EventWave                       // *WaveEvent: a push's wave started, ended, paused or the push stopped between waves
	EventBoot                       // *BootEvent: a netboot request (DHCP, TFTP) and its answer
)

// EventVersion is the version of the events' JSON shapes ("v" of every
// JSON line): it changes when a field changes meaning or goes away.
const EventVersion = 1

var eventNames = [...]string{
	EventLog: "log", EventHost: "host", EventLock: "lock", EventStaged: "staged", EventJournal: "journal",
	EventPlanHost: "plan.host", EventPlanDone: "plan.done", EventPushHost: "push.host",
	EventPushEntry: "push.entry", EventPushDone: "push.done", EventScan: "scan", EventJob: "job",
	EventWave: "push.wave", EventBoot: "boot",
}

// String is the event's stable name, used as the JSON "type" field.
func (t EventType) String() string {
	if int(t) < len(eventNames) {
		return eventNames[t]
	}
	return "unknown"
}

// Level grades events.
type Level int

// The levels.
const (
	LevelInfo Level = iota
	LevelWarn
	LevelError
)

func (l Level) String() string {
	switch l {
	case LevelWarn:
		return "warn"
	case LevelError:
		return "error"
	}
	return "info"
}

// MarshalJSON writes the level's name.
func (l Level) MarshalJSON() ([]byte, error) { return json.Marshal(l.String()) }

// UnmarshalJSON reads a level's name back (a stored boot history); an
// unknown name is info.
func (l *Level) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	switch s {
	case "warn":
		*l = LevelWarn
	case "error":
		*l = LevelError
	default:
		*l = LevelInfo
	}
	return nil
}

// Event is one thing that happened: one of the *…Event types of this file.
// Faces switch on the concrete type.
type Event interface {
	Type() EventType
	Meta() *Header
}

// Header is what every event has.
type Header struct {
	Time    time.Time `json:"time"`
	Level   Level     `json:"level"`
	Message string    `json:"message,omitempty"` // one human line
}

// Meta returns the header, for the bus and the faces.
func (h *Header) Meta() *Header { return h }

// HostChange says what happened to a host.
type HostChange string

// The host changes.
const (
	HostAdded     HostChange = "added"     // add-host
	HostLearned   HostChange = "learned"   // a scanned host identified itself over SSH
	HostUntrusted HostChange = "untrusted" // a scanned host offers a key nobody trusted yet
	HostFailed    HostChange = "failed"    // a scanned host answers but SSH failed
	HostAlive     HostChange = "alive"     // liveness transitions (scanner)
	HostLost      HostChange = "lost"
	HostGone      HostChange = "gone"
	HostAssigned  HostChange = "assigned" // assign, migrate
	HostTrusted   HostChange = "trusted"  // an operator accepted its key
	HostUpdated   HostChange = "updated"  // anything else: state mirrored, result recorded
)

// HostEvent carries the host record as it is now, so faces need not read
// every host again.
type HostEvent struct {
	Header
	Change HostChange `json:"change"`
	Host   HostView   `json:"host"`
	// Fingerprint is the SSH host key offered (untrusted hosts).
	Fingerprint string `json:"fingerprint,omitempty"`
	Err         string `json:"error,omitempty"`
}

// LogEvent is a free-form activity line, with what it is about.
type LogEvent struct {
	Header
	Branch string `json:"branch,omitempty"`
	HostID string `json:"host_id,omitempty"`
	Host   string `json:"host,omitempty"`
	PlanID string `json:"plan,omitempty"`
	Err    string `json:"error,omitempty"`
}

// LockEvent reports a branch lock taken, renewed, released or broken.
type LockEvent struct {
	Header
	Branch string      `json:"branch"`
	State  string      `json:"state"` // locked, unlocked, broken
	Lock   *store.Lock `json:"lock,omitempty"`
	Actor  string      `json:"actor"`
}

// StagedEvent reports a change of a branch's staged list.
type StagedEvent struct {
	Header
	Branch string `json:"branch"`
	Count  int    `json:"count"` // entries staged now
}

// JournalEvent reports a new branch or committed entries.
type JournalEvent struct {
	Header
	Branch string `json:"branch"`
	Head   uint64 `json:"head"`
	// First and Last are the committed range; both 0 when the branch was
	// only created.
	First uint64 `json:"first,omitempty"`
	Last  uint64 `json:"last,omitempty"`
}

// PlanHostEvent is one host's finished dry-run.
type PlanHostEvent struct {
	Header
	PlanID string   `json:"plan"`
	Branch string   `json:"branch"`
	Host   HostPlan `json:"host"`
}

// PlanDoneEvent ends a plan.
type PlanDoneEvent struct {
	Header
	PlanID  string `json:"plan"`
	Branch  string `json:"branch"`
	Hosts   int    `json:"hosts"`
	Entries int    `json:"entries"`
	Failed  int    `json:"failed"` // hosts that could not be planned
	// Duration is the plan's wall time, reading the store included.
	Duration time.Duration `json:"duration_ns"`
}

// PushHostEvent is a host's push status.
type PushHostEvent struct {
	Header
	PlanID   string     `json:"plan"`
	HostID   string     `json:"host_id"`
	Host     string     `json:"host"`
	Status   PushStatus `json:"status"`
	Step     int        `json:"step,omitempty"` // entry being applied (applying) or entries reported (final)
	Steps    int        `json:"steps,omitempty"`
	Position uint64     `json:"position"` // where the host stands (final statuses)
	Err      string     `json:"error,omitempty"`
}

// PushEntryEvent is one entry's outcome on one host.
type PushEntryEvent struct {
	Header
	PlanID   string `json:"plan"`
	HostID   string `json:"host_id"`
	Host     string `json:"host"`
	Seq      uint64 `json:"seq"`
	Result   string `json:"result"` // ok, skipped, failed, reboot-pending, rebooting, cancelled
	ExitCode int    `json:"exit_code"`
	Step     int    `json:"step"`
	Steps    int    `json:"steps"`
	Summary  string `json:"summary"`
	Output   string `json:"output,omitempty"` // tail of the output
	// Usage is what an exec entry's command used on the host.
	Usage *store.Usage `json:"usage,omitempty"`
}

// PushDoneEvent ends a push.
type PushDoneEvent struct {
	Header
	PlanID   string        `json:"plan"`
	Branch   string        `json:"branch"`
	Hosts    int           `json:"hosts"`
	Failed   int           `json:"failed"`
	Stale    int           `json:"stale"`
	Duration time.Duration `json:"duration_ns"`
}

// WaveState is where a wave of a push is.
type WaveState string

// The wave states.
const (
	WaveStarted WaveState = "started"
	WaveEnded   WaveState = "ended"
	WavePaused  WaveState = "paused"  // before Wave: waiting for --pause or a confirmation
	WaveStopped WaveState = "stopped" // the push stopped before Wave; NotStarted are untouched
)

// WaveEvent reports a push's waves (only for pushes with a rollout
// policy: canary, waves, threshold, pause, confirmation or alive window).
type WaveEvent struct {
	Header
	PlanID      string        `json:"plan"`
	Wave        int           `json:"wave"` // 1-based; the canary, if any, is wave 1
	Waves       int           `json:"waves"`
	Canary      bool          `json:"canary,omitempty"`
	State       WaveState     `json:"state"`
	Hosts       []string      `json:"hosts"`                 // the wave's hosts (paused: the next wave's)
	Failed      int           `json:"failed"`                // hosts of this wave that failed (ended)
	FailedTotal int           `json:"failed_total"`          // failed so far in the push
	MaxFail     int           `json:"max_fail"`              // failed hosts tolerated; -1: no threshold
	Wait        time.Duration `json:"wait_ns,omitempty"`     // paused by --pause
	NotStarted  []string      `json:"not_started,omitempty"` // stopped: hosts never touched
	Reason      string        `json:"reason,omitempty"`      // stopped: why
}

// ScanEvent is the scanner's state.
type ScanEvent struct {
	Header
	State     string        `json:"state"` // started, round, stopped, error
	Round     uint64        `json:"round,omitempty"`
	Replies   int           `json:"replies,omitempty"`
	LastReply time.Duration `json:"last_reply_ns,omitempty"`
	// Duration is the whole round, listening included (State "round").
	Duration time.Duration `json:"duration_ns,omitempty"`
	Err      string        `json:"error,omitempty"`
}

// JobEvent is a long job starting or finishing.
type JobEvent struct {
	Header
	JobID string `json:"job"`
	Name  string `json:"name"`
	Done  bool   `json:"done"`
}

// Type methods tie each payload to its EventType.
func (*LogEvent) Type() EventType       { return EventLog }
func (*HostEvent) Type() EventType      { return EventHost }
func (*LockEvent) Type() EventType      { return EventLock }
func (*StagedEvent) Type() EventType    { return EventStaged }
func (*JournalEvent) Type() EventType   { return EventJournal }
func (*PlanHostEvent) Type() EventType  { return EventPlanHost }
func (*PlanDoneEvent) Type() EventType  { return EventPlanDone }
func (*PushHostEvent) Type() EventType  { return EventPushHost }
func (*PushEntryEvent) Type() EventType { return EventPushEntry }
func (*PushDoneEvent) Type() EventType  { return EventPushDone }
func (*ScanEvent) Type() EventType      { return EventScan }
func (*JobEvent) Type() EventType       { return EventJob }
func (*WaveEvent) Type() EventType      { return EventWave }
func (*BootEvent) Type() EventType      { return EventBoot }

// EventErr is the error an event carries, if its type has one: both faces
// show it after the event's message.
func EventErr(ev Event) string {
	switch ev := ev.(type) {
	case *LogEvent:
		return ev.Err
	case *HostEvent:
		return ev.Err
	case *PushHostEvent:
		return ev.Err
	case *ScanEvent:
		return ev.Err
	}
	return ""
}

// critical events are never dropped for a slow subscriber: they end an
// operation or change what an operator may do next.
func critical(ev Event) bool {
	switch ev.Type() {
	case EventPlanDone, EventPushDone, EventJob, EventLock, EventStaged, EventJournal, EventWave:
		return true
	case EventPushHost:
		s := ev.(*PushHostEvent).Status
		return s != PushApplying && s != PushWaiting
	}
	return false
}

// bus fans events out to subscribers. Publishing never blocks the engine:
// each subscriber has a queue drained by its own goroutine. When a queue
// holds more than its limit, the oldest non-critical event is dropped and
// counted; critical events are always delivered, in order.
type bus struct {
	mu   sync.Mutex
	subs map[int]*subscriber
	next int
}

type subscriber struct {
	out     chan Event
	mu      sync.Mutex
	queue   []Event
	limit   int
	wake    chan struct{}
	closed  bool
	dropped int
}

func (b *bus) subscribe(limit int) (<-chan Event, func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.subs == nil {
		b.subs = map[int]*subscriber{}
	}
	id := b.next
	b.next++
	s := &subscriber{out: make(chan Event, 64), limit: limit, wake: make(chan struct{}, 1)}
	b.subs[id] = s
	go s.pump()
	return s.out, func() {
		b.mu.Lock()
		delete(b.subs, id)
		b.mu.Unlock()
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		s.signal()
	}
}

func (s *subscriber) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// pump moves queued events to the subscriber's channel. After the
// subscription ends it delivers what was queued, then closes the channel,
// so a reader that drains to the close sees everything published before.
func (s *subscriber) pump() {
	for {
		s.mu.Lock()
		if len(s.queue) == 0 {
			closed := s.closed
			s.mu.Unlock()
			if closed {
				close(s.out)
				return
			}
			<-s.wake
			continue
		}
		ev := s.queue[0]
		s.queue[0] = nil
		s.queue = s.queue[1:]
		s.mu.Unlock()
		s.out <- ev
	}
}

func (s *subscriber) push(ev Event) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	if len(s.queue) >= s.limit {
		for i, old := range s.queue {
			if !critical(old) {
				s.queue = append(s.queue[:i], s.queue[i+1:]...)
				s.dropped++
				break
			}
		}
	}
	s.queue = append(s.queue, ev)
	s.mu.Unlock()
	s.signal()
}

func (b *bus) publish(ev Event) {
	b.mu.Lock()
	subs := make([]*subscriber, 0, len(b.subs))
	for _, s := range b.subs {
		subs = append(subs, s)
	}
	b.mu.Unlock()
	for _, s := range subs {
		s.push(ev)
	}
}
