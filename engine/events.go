package engine

import (
	"sync"
	"time"
)

// EventType enumerates everything the engine reports. Faces (TUI, batch)
// render these; they never poll the engine's internals.
type EventType int

// The event types.
const (
	EventLog           EventType = iota // free-form activity line
	EventHost                           // a host record changed (added, seen, state mirrored, result)
	EventHostLiveness                   // alive / lost / gone transition (from the scanner)
	EventHostUntrusted                  // a host answered whose key is not in known_hosts
	EventLock                           // a branch was locked or unlocked
	EventStaged                         // the staged list of a branch changed
	EventJournal                        // entries were committed to a branch
	EventPlanHost                       // one host finished planning
	EventPlanDone                       // a plan is complete
	EventPushHost                       // a host's push status changed (waiting, applying k/n, done, failed, stale)
	EventPushEntry                      // one entry on one host finished
	EventPushDone                       // a push finished
	EventScan                           // scanner state (started, round, stopped, error)
	EventJob                            // a long job started or finished
)

var eventNames = [...]string{
	EventLog: "log", EventHost: "host", EventHostLiveness: "liveness", EventHostUntrusted: "untrusted",
	EventLock: "lock", EventStaged: "staged", EventJournal: "journal", EventPlanHost: "plan.host",
	EventPlanDone: "plan.done", EventPushHost: "push.host", EventPushEntry: "push.entry",
	EventPushDone: "push.done", EventScan: "scan", EventJob: "job",
}

// String is the event's stable name, used as the JSON "type" field.
func (t EventType) String() string {
	if int(t) < len(eventNames) {
		return eventNames[t]
	}
	return "unknown"
}

// Level grades log events.
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

// Event is one thing that happened. Fields that do not apply are zero.
type Event struct {
	Type    EventType `json:"-"`
	Time    time.Time `json:"time"`
	Level   Level     `json:"-"`
	Branch  string    `json:"branch,omitempty"`
	HostID  string    `json:"host_id,omitempty"`
	Host    string    `json:"host,omitempty"` // display name
	PlanID  string    `json:"plan,omitempty"`
	JobID   string    `json:"job,omitempty"`
	Seq     uint64    `json:"seq,omitempty"`
	Step    int       `json:"step,omitempty"`  // k of Steps
	Steps   int       `json:"steps,omitempty"` //
	Status  string    `json:"status,omitempty"`
	Message string    `json:"message,omitempty"`
	Err     string    `json:"error,omitempty"`
	Output  string    `json:"output,omitempty"` // push.entry: tail of the remote output
	// Fingerprint is the SSH host key offered (untrusted hosts).
	Fingerprint string `json:"fingerprint,omitempty"`
	Done        bool   `json:"done,omitempty"` // for jobs: finished
}

// bus fans events out to subscribers. A slow subscriber never blocks the
// engine: its channel is buffered, and when full the oldest pending event is
// dropped and counted.
type bus struct {
	mu      sync.Mutex
	subs    map[int]chan Event
	next    int
	dropped int
}

func (b *bus) subscribe(buffer int) (<-chan Event, func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.subs == nil {
		b.subs = map[int]chan Event{}
	}
	id := b.next
	b.next++
	ch := make(chan Event, buffer)
	b.subs[id] = ch
	return ch, func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		if c, ok := b.subs[id]; ok {
			delete(b.subs, id)
			close(c)
		}
	}
}

func (b *bus) publish(ev Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, ch := range b.subs {
		select {
		case ch <- ev:
		default:
			// Full: drop the oldest so the newest state still arrives.
			select {
			case <-ch:
				b.dropped++
			default:
			}
			select {
			case ch <- ev:
			default:
			}
		}
	}
}
