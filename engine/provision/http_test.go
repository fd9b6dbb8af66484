package provision

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/discoterm/discoterm/engine/machines"
)

func profileDir(t *testing.T) string {
	dir := t.TempDir()
	p := filepath.Join(dir, "debian")
	os.MkdirAll(p, 0o755)
	os.WriteFile(filepath.Join(p, ProfileKernel), []byte("KERNEL"), 0o644)
	os.WriteFile(filepath.Join(p, ProfileInitrd), []byte("INITRD"), 0o644)
	os.WriteFile(filepath.Join(p, ProfileCmdline), []byte("console=ttyS0 hostname={{.Name}}\n ip={{.IP}} discoterm={{.Server}}\n"), 0o644)
	return dir
}

func TestHTTPBootScriptOnlyToItsMachine(t *testing.T) {
	profiles := profileDir(t)
	mc := machine(t, "52:54:00:00:00:07", "web7", "10.0.0.7")
	mc.Boot = "debian"
	other := machine(t, "52:54:00:00:00:08", "web8", "10.0.0.8")
	var reqs []HTTPRequest
	h := NewHTTPHandler(HTTPOptions{Profiles: profiles, Server: "10.0.0.1:8080",
		Machines:  func() ([]machines.Machine, error) { return []machines.Machine{mc, other}, nil },
		OnRequest: func(r HTTPRequest) { reqs = append(reqs, r) }})
	get := func(from, path string) (int, string) {
		r := httptest.NewRequest("GET", path, nil)
		r.RemoteAddr = from + ":40000"
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code, w.Body.String()
	}
	code, body := get("10.0.0.7", "/boot/web7.ipxe")
	want := "#!ipxe\nkernel http://10.0.0.1:8080/profile/debian/kernel console=ttyS0 hostname=web7 ip=10.0.0.7 discoterm=10.0.0.1\ninitrd http://10.0.0.1:8080/profile/debian/initrd\nboot\n"
	if code != 200 || body != want {
		t.Errorf("script: %d %q, want %q", code, body, want)
	}
	if code, body := get("10.0.0.7", "/profile/debian/kernel"); code != 200 || body != "KERNEL" {
		t.Errorf("kernel: %d %q", code, body)
	}
	for _, c := range []struct {
		from, path string
		want       int
	}{
		{"10.0.0.9", "/boot/web7.ipxe", http.StatusForbidden}, // no machine's address
		{"10.0.0.8", "/boot/web7.ipxe", http.StatusNotFound},  // web8 has no profile
		{"10.0.0.7", "/boot/web8.ipxe", http.StatusNotFound},  // another machine's script
		{"10.0.0.7", "/profile/debian/cmdline", http.StatusNotFound},
		{"10.0.0.7", "/profile/debian/../../etc/passwd", http.StatusNotFound},
	} {
		if code, _ := get(c.from, c.path); code != c.want {
			t.Errorf("%s %s: %d, want %d", c.from, c.path, code, c.want)
		}
	}
	if len(reqs) != 7 || reqs[0].Machine != "web7" || reqs[2].Status != http.StatusForbidden {
		t.Errorf("requests reported: %+v", reqs)
	}
}

func TestProfileMissingKernel(t *testing.T) {
	profiles := profileDir(t)
	os.Remove(filepath.Join(profiles, "debian", ProfileKernel))
	err := CheckProfile(filepath.Join(profiles, "debian"))
	if err == nil || !strings.Contains(err.Error(), "has no kernel file; put the kernel (vmlinuz) there") {
		t.Fatalf("missing kernel: %v", err)
	}
}

// TestHTTPHostKeyHandedOverOnce: the boot script carries a one-time
// token; the key is served once, to the machine's own address.
func TestHTTPHostKeyHandedOverOnce(t *testing.T) {
	profiles := profileDir(t)
	os.WriteFile(filepath.Join(profiles, "debian", ProfileCmdline), []byte("key={{.KeyURL}}"), 0o644)
	keys := t.TempDir()
	mc := machine(t, "52:54:00:00:00:07", "web7", "10.0.0.7")
	mc.Boot = "debian"
	want, err := EnsureHostKey(keys, "web7")
	if err != nil {
		t.Fatal(err)
	}
	h := NewHTTPHandler(HTTPOptions{Profiles: profiles, Server: "10.0.0.1:80", KeyDir: keys, Tokens: &Tokens{},
		Machines: func() ([]machines.Machine, error) { return []machines.Machine{mc}, nil }})
	get := func(from, path string) (int, string) {
		r := httptest.NewRequest("GET", path, nil)
		r.RemoteAddr = from + ":40000"
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code, w.Body.String()
	}
	if code, _ := get("10.0.0.7", "/key/web7/"); code != http.StatusGone {
		t.Errorf("key without a token: %d", code)
	}
	_, script := get("10.0.0.7", "/boot/web7.ipxe")
	_, url, ok := strings.Cut(script, "key=http://10.0.0.1:80")
	if !ok {
		t.Fatalf("script has no key URL: %q", script)
	}
	url = strings.Fields(url)[0]
	if code, _ := get("10.0.0.9", url); code != http.StatusForbidden {
		t.Errorf("key from another address: %d", code)
	}
	if code, body := get("10.0.0.7", url); code != 200 || body != string(want.Private) {
		t.Errorf("key: %d, %d bytes", code, len(body))
	}
	if code, _ := get("10.0.0.7", url); code != http.StatusGone {
		t.Errorf("key fetched twice: %d", code)
	}
	again, err := EnsureHostKey(keys, "web7")
	if err != nil || again.Public != want.Public || !strings.HasPrefix(want.Public, "ssh-ed25519 ") {
		t.Errorf("key not kept: %q %q %v", again.Public, want.Public, err)
	}
	if st, _ := os.Stat(filepath.Join(keys, "web7")); st.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v", st.Mode())
	}
}
