package provision

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"text/template"

	"github.com/discoterm/discoterm/engine/machines"
)

// A boot profile is a directory PROFILES/NAME holding a kernel, an
// initrd and cmdline, a kernel command-line template (text/template with
// .Name, .IP, .MAC, .Server and .KeyURL).
const (
	ProfileKernel  = "kernel"
	ProfileInitrd  = "initrd"
	ProfileCmdline = "cmdline"
)

// CheckProfile says what a profile directory lacks.
func CheckProfile(dir string) error {
	for _, f := range []string{ProfileKernel, ProfileInitrd, ProfileCmdline} {
		st, err := os.Stat(filepath.Join(dir, f))
		if err != nil || !st.Mode().IsRegular() {
			return fmt.Errorf("boot profile %s has no %s file; put the %s there", dir, f, map[string]string{ProfileKernel: "kernel (vmlinuz)", ProfileInitrd: "initrd", ProfileCmdline: "kernel command-line template"}[f])
		}
	}
	data, _ := os.ReadFile(filepath.Join(dir, ProfileCmdline))
	if _, err := template.New("cmdline").Option("missingkey=error").Parse(string(data)); err != nil {
		return fmt.Errorf("boot profile %s: cmdline: %v", dir, err)
	}
	return nil
}

// HTTPOptions configure the boot HTTP server.
type HTTPOptions struct {
	Profiles string // directory of boot profiles
	Server   string // host:port the iPXE script points back to
	Machines func() ([]machines.Machine, error)
	// KeyDir holds the machines' host keys (EnsureHostKey); Tokens the
	// one-time tokens that hand each over once. Without them no key is
	// served.
	KeyDir string
	Tokens *Tokens
	// Unknown, when set (provision --unknown), serves the discovery boot
	// to the addresses it leased to unknown MACs.
	Unknown *UnknownPool
	// OnRequest, when set, is called once per request.
	OnRequest func(HTTPRequest)
}

// HTTPRequest is one HTTP request and its answer.
type HTTPRequest struct {
	Client  netip.Addr
	Machine string
	Path    string
	Status  int
	Err     error
	MAC     string  // an unknown machine's (discovery boot)
	Report  *Report // what a discovery boot reported
}

// NewHTTPHandler serves /boot/NAME.ipxe (the machine's iPXE script) and
// /profile/PROFILE/kernel|initrd — each only to the registered machine
// whose address the request comes from.
func NewHTTPHandler(o HTTPOptions) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req := HTTPRequest{Path: r.URL.Path}
		if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
			req.Client = ap.Addr().Unmap()
		}
		fail := func(code int, err error) {
			req.Status, req.Err = code, err
			http.Error(w, err.Error(), code)
		}
		defer func() {
			if req.Status == 0 {
				req.Status = http.StatusOK
			}
			if o.OnRequest != nil {
				o.OnRequest(req)
			}
		}()
		ms, err := o.Machines()
		if err != nil {
			fail(http.StatusInternalServerError, err)
			return
		}
		var mc *machines.Machine
		for i := range ms {
			if ms[i].IP.IsValid() && ms[i].IP == req.Client {
				mc = &ms[i]
			}
		}
		if mc == nil && o.Unknown != nil {
			if mac, ok := o.Unknown.MACOf(req.Client); ok {
				serveDiscovery(o, w, r, &req, mac, fail)
				return
			}
		}
		if mc == nil {
			fail(http.StatusForbidden, fmt.Errorf("%s is no registered machine's address", req.Client))
			return
		}
		req.Machine = mc.Name
		if mc.Boot == "" {
			fail(http.StatusNotFound, fmt.Errorf("machine %s has no boot profile; give it one: machine edit %s --boot PROFILE", mc.Name, mc.Name))
			return
		}
		pdir := filepath.Join(o.Profiles, mc.Boot)
		switch p := r.URL.Path; {
		case strings.HasPrefix(p, "/key/"+mc.Name+"/") && o.Tokens != nil:
			if !o.Tokens.Spend(mc.Name, strings.TrimPrefix(p, "/key/"+mc.Name+"/")) {
				fail(http.StatusGone, fmt.Errorf("the host key of %s is handed over once, with the token of its boot script; boot it again for a new one", mc.Name))
				return
			}
			k, err := EnsureHostKey(o.KeyDir, mc.Name)
			if err != nil {
				fail(http.StatusInternalServerError, err)
				return
			}
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Write(k.Private)
		case p == "/boot/"+mc.Name+".ipxe":
			keyURL := ""
			if o.Tokens != nil {
				keyURL = "http://" + o.Server + "/key/" + mc.Name + "/" + o.Tokens.Issue(mc.Name)
			}
			script, err := IPXEScript(pdir, o.Server, *mc, keyURL)
			if err != nil {
				fail(http.StatusInternalServerError, err)
				return
			}
			w.Header().Set("Content-Type", "text/plain")
			w.Write(script)
		case p == "/profile/"+mc.Boot+"/"+ProfileKernel || p == "/profile/"+mc.Boot+"/"+ProfileInitrd:
			http.ServeFile(w, r, filepath.Join(pdir, filepath.Base(p)))
		default:
			fail(http.StatusNotFound, errors.New("not a boot file of "+mc.Name))
		}
	})
}

// cmdlineTemplate checks a boot profile and parses its kernel
// command-line template (a missing key is an error, never "<no value>").
func cmdlineTemplate(profile string) (*template.Template, error) {
	if err := CheckProfile(profile); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(filepath.Join(profile, ProfileCmdline))
	if err != nil {
		return nil, err
	}
	return template.New("cmdline").Option("missingkey=error").Parse(string(data))
}

// IPXEScript is the machine's iPXE script: its profile's kernel with the
// rendered command line, and its initrd.
// keyURL (.KeyURL in the template) is where the booted machine fetches
// its host key, once.
func IPXEScript(profile, server string, m machines.Machine, keyURL string) ([]byte, error) {
	tpl, err := cmdlineTemplate(profile)
	if err != nil {
		return nil, err
	}
	var cmdline bytes.Buffer
	host, _, _ := net.SplitHostPort(server)
	if err := tpl.Execute(&cmdline, map[string]string{"Name": m.Name, "IP": m.IP.String(), "MAC": m.MAC.String(), "Server": host, "KeyURL": keyURL}); err != nil {
		return nil, fmt.Errorf("boot profile %s: cmdline: %v", profile, err)
	}
	line := strings.Join(strings.Fields(cmdline.String()), " ")
	base := "http://" + server + "/profile/" + m.Boot + "/"
	return fmt.Appendf(nil, "#!ipxe\nkernel %s%s %s\ninitrd %s%s\nboot\n", base, ProfileKernel, line, base, ProfileInitrd), nil
}
