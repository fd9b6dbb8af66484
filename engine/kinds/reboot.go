package kinds

import (
	"github.com/discoterm/discoterm/engine/journal"
	"github.com/discoterm/discoterm/engine/remote"
)

// reboot reboots the host; replay stops before it unless the push allows
// reboots, and continues past it once the host is back.
type reboot struct{}

func init() { Register(reboot{}) }

func (reboot) Name() journal.Kind { return journal.KindReboot }

func (reboot) Spec() Spec {
	return Spec{Verb: "reboot", Help: "stage a reboot (a push needs --allow-reboot to go past it)"}
}

func (reboot) Request(in Input) (Request, error) { return noArgs(journal.KindReboot, in) }

func (reboot) Stage(Request) (journal.Entry, error) {
	return journal.Entry{Kind: journal.KindReboot}, nil
}

func (reboot) Check(journal.Entry) error { return nil }

func (reboot) Content() ContentUse { return ContentNone }

func (reboot) Render(_ journal.Entry, src []byte, _ map[string]string) ([]byte, error) {
	return src, nil
}

func (reboot) Needs(journal.Entry) Needs { return Needs{} }

func (reboot) Fetch(journal.Entry, []byte, remote.PathInfo) bool { return false }

func (reboot) Simulate(journal.Entry, []byte, *Host) Change { return Change{Effect: EffectReboot} }

func (reboot) Op(journal.Entry, []byte) remote.BundleEntry {
	return remote.BundleEntry{Op: remote.OpReboot}
}

func (reboot) Summary(journal.Entry) string { return "reboot" }

func (reboot) Details(journal.Entry) string { return "" }
