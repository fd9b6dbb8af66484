package verbs

import "strings"

// Placeholders in examples that a caller replaces: a local file to stage
// and the id of a plan.
const (
	ExampleFile = "{{FILE}}"
	ExamplePlan = "{{PLAN}}"
)

// examples are one working command line per verb, shown by `help VERB` and
// run by the tests of both faces.
var examples = map[string]string{
	"hosts":           "hosts",
	"add-host":        "add-host root@[fd00:10::99]:2222 --name new1",
	"assign":          "assign web01 staging",
	"report":          "report web01",
	"scan":            "scan --iface br0",
	"trust":           "trust --all-scanned --yes",
	"branches":        "branches",
	"lock":            `lock main "ntp servers for the new site"`,
	"unlock":          "unlock main",
	"fork":            "fork hotfix --from main",
	"migrate":         "migrate web01 staging",
	"log":             "log main",
	"audit":           "audit main",
	"policy":          "policy main --catch-up on --max-age 24h",
	"snap":            "snap " + ExampleFile + " --to /etc/motd --mode 0644",
	"template":        "template " + ExampleFile + " --to /etc/ntp.conf",
	"exec":            `exec --creates /etc/ssh/banner -- echo 'authorised use only' > /etc/ssh/banner`,
	"reboot":          "reboot",
	"staged":          "staged main",
	"drop":            "drop 14",
	"plan":            "plan --branch main web01",
	"approve":         "approve " + ExamplePlan + " --keep-lock",
	"push":            "push " + ExamplePlan,
	"up":              "up --yes",
	"drift":           "drift web01",
	"repair":          "repair web01 --path /etc/motd",
	"adopt":           "adopt web01 --path /etc/motd",
	"revert":          "revert web01 web02 --to 3",
	"help":            "help exec",
	"cancel-prepared": "cancel-prepared --branch main",
	"collect":         "collect",
	"machine":         "machine add 52:54:00:12:34:56 --name web7 --ip 10.0.0.7 --branch main --boot debian",
	// The batch face's own verb (cmd/discoterm), not in Default.
	"store": "store migrate --from /root/.local/state/discoterm/discoterm.db --to nats://nats1.example.net:4222/site1",
	// Port 0: the tests of both faces run it.
	"serve-metrics": "serve-metrics --listen 127.0.0.1:0",
	"provision":     "provision --iface br-boot --boot-dir /srv/tftp",
}

// Example is a command line that uses the verb, with ExampleFile and
// ExamplePlan where a real file or plan id goes. A kind registered
// without an example gets one made from its arguments.
func (v *Verb) Example() string {
	if e, ok := examples[v.Name]; ok {
		return e
	}
	parts := []string{v.Name}
	for _, a := range v.Args {
		if a.Optional {
			break
		}
		if strings.Contains(a.Name, "FILE") {
			parts = append(parts, ExampleFile)
		} else {
			parts = append(parts, "/etc/discoterm-example")
		}
	}
	if _, ok := v.Flag("to"); ok {
		parts = append(parts, "--to", "/etc/discoterm-example")
	}
	if v.Command != "" {
		parts = append(parts, "--", "true")
	}
	return strings.Join(parts, " ")
}
