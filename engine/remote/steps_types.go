package remote

import "time"

// Target is how to reach one host.
type Target struct {
	Addr string // IPv4, IPv6 (link-local with %zone), or a name
	Port int    // 0: from ssh config, else 22
	User string // "": from ssh config, else root
	Name string // for messages
	// Named says the operator named this address (add-host): only then
	// may Options.AcceptNew accept an unknown host key, and only for this
	// connection — the engine records it (TrustHostKey) once the host's
	// identity checks out (PresentedKey says it is new).
	Named bool
	// HostKey binds the target to a host identity: the SHA256 fingerprint
	// of the key it was trusted with. The host must present that key at
	// whatever address it answers; any other key is refused as changed
	// (with both fingerprints), known_hosts notwithstanding. "": verify
	// against known_hosts for the address.
	HostKey string
	// HostKeyType is the bound key's algorithm (ssh-ed25519 …), offered so
	// that a host with several keys presents the bound one.
	HostKeyType string
}

// PathInfo is what a probe learned about one path.
type PathInfo struct {
	Path   string
	Exists bool
	Type   string // "file", "dir", "other" when it exists
	Hash   string // sha256 hex of a regular file
	Size   int64
	Mode   uint32 // permission bits
	Owner  string // user name
	Group  string // group name
}

// ProbeRequest asks a host for its state and the paths a plan touches.
type ProbeRequest struct {
	StateDir string   // e.g. /var/lib/discoterm
	Paths    []string // stat + sha256 each
	// NoClock leaves the host's clock out (Facts.Time stays zero): one
	// process less on the host, for probes that show no clock skew.
	NoClock bool
}

// Facts identify a host.
type Facts struct {
	Hostname  string
	MachineID string
	OS        string    // PRETTY_NAME from /etc/os-release
	Time      time.Time // the host's clock when it answered (seconds); zero: unknown
	// RevertArmed: a push that must come back awaits its confirmation on
	// the host, or was never confirmed and is reverted by the next push.
	RevertArmed bool
}

// StateFile is the host's own record of what it applied.
type StateFile struct {
	Present  bool
	Branch   string
	Position uint64
	Hash     string
	Applied  []AppliedEntry // from ParseState of the whole file; a probe reads only the header
}

// AppliedEntry is one line of a host's applied history.
type AppliedEntry struct {
	Seq      uint64
	Hash     string
	Time     time.Time
	Duration time.Duration
	Result   string
}

// ProbeResult is one round trip's answer.
type ProbeResult struct {
	Facts    Facts
	State    StateFile
	StateErr string // state file present but unreadable/corrupt: the reason
	Paths    map[string]PathInfo
	HostKey  string // SHA256 fingerprint of the key the host presented
	// Answered is when the probe's reply was whole, when the session
	// went on to other work (the sandbox); zero: when the call returned.
	Answered time.Time
}

// Op is what an apply does for one entry on the host: the operations
// apply.sh knows. Entry kinds (engine/kinds) map onto them.
type Op string

// The host operations.
const (
	OpFile   Op = "file"   // install Content at Path with Mode, Owner, Group
	OpExec   Op = "exec"   // run Command unless Creates exists or Unless exits 0
	OpRemove Op = "remove" // delete the file or empty directory at Path
	OpReboot Op = "reboot" // order a reboot (when the bundle allows it)
)

// BundleEntry is one entry to apply, with everything it needs inline.
type BundleEntry struct {
	Seq     uint64
	Hash    string // the journal entry's hash, recorded in the state file
	Op      Op
	Path    string
	Content []byte // OpFile
	// Repair re-installs an entry the host applied already (a drift
	// repair, OpFile and OpRemove): the position and history stay.
	Repair bool
	// AllowUserDir (OpFile): the entry was staged to be written even where
	// a non-root user can change the target's directory (refused
	// otherwise: such a user could redirect the write). It is written
	// from a private directory there (ufile in apply.sh).
	AllowUserDir bool
	Mode         uint32
	Owner        string
	Group        string
	Command      string
	Creates      string
	Unless       string
	// SavePaths are the paths an exec entry changed in the plan's
	// sandbox: a push that must come back keeps what they hold first.
	SavePaths []string
}

// Bundle is everything one host needs for a push, uploaded in one transfer.
type Bundle struct {
	StateDir string
	Branch   string // the branch the host records after the push
	// ExpectBranch is the branch the host's state file must name ("" for a
	// host that never had one).
	ExpectBranch string
	// Expected is the fingerprint the plan saw; the remote step refuses to
	// change anything when the host no longer matches it.
	ExpectPosition uint64
	ExpectHash     string
	ExpectPaths    []PathInfo
	Entries        []BundleEntry
	AllowReboot    bool
	RebootCommand  string // "": shutdown -r now
	// Env are the host's variables, exported to exec entries and their
	// guards (as the plan's probe did).
	Env map[string]string
	// ComeBack > 0: the host keeps what each entry overwrites and arms a
	// revert that runs by itself unless confirmed (Steps.Confirm, over a
	// fresh connection) within ComeBack.
	ComeBack time.Duration
}

// EntryReport is one entry's outcome on the host.
type EntryReport struct {
	Seq      uint64
	Result   string // ok, skipped, failed, reboot-pending, cancelled
	ExitCode int
	Duration time.Duration
	Output   string
	Usage    *Usage // what an exec entry's command used; nil for other entries
}

// Usage is what one command used on the host, measured by the apply
// program from its own counters around the command (usage.sh): CPU of
// the command and every process it waited for, and their IO. A counter
// the host does not provide is -1. Peak memory is not measurable from
// sh (it is only in wait4's rusage).
type Usage struct {
	UserCPU    time.Duration `json:"user_cpu_ns"`
	SysCPU     time.Duration `json:"sys_cpu_ns"`
	ReadChars  int64         `json:"read_chars"`  // bytes read by system calls (rchar)
	WriteChars int64         `json:"write_chars"` // bytes written by system calls (wchar)
	ReadBytes  int64         `json:"read_bytes"`  // bytes fetched from storage (read_bytes)
	WriteBytes int64         `json:"write_bytes"` // bytes sent to storage (write_bytes; 0 on tmpfs)
	// PeakMem is the command's peak memory in bytes (memory.peak of its
	// own cgroup v2, page cache it dirtied included); -1 where the host
	// cannot measure it (no writable cgroup v2 with the memory controller).
	PeakMem int64 `json:"peak_mem_bytes"`
}

// ApplyResult is the whole remote step's outcome.
type ApplyResult struct {
	Stale     string // non-empty: fingerprint mismatch, nothing changed; the reason
	Entries   []EntryReport
	Position  uint64 // position recorded on the host at the end
	Hash      string
	BytesSent int64
	// Token names the push's revert record on the host (ComeBack > 0);
	// Armed says the host armed a revert (something changed).
	Token string
	Armed bool
}
