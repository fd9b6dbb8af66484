package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Screen size of the screenshots, in cells.
const shotCols, shotRows = 160, 45

// tmuxConsole is the real binary in a real terminal.
type tmuxConsole struct {
	session string
	env     []string
}

func tmux(args ...string) (string, error) {
	out, err := exec.Command("tmux", args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("tmux %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

func (d *demo) startConsole(extra ...string) (*tmuxConsole, error) {
	bin, err := filepath.Abs(d.bin)
	if err != nil {
		return nil, err
	}
	c := &tmuxConsole{session: fmt.Sprintf("discoterm-shots-%d", os.Getpid())}
	var q []string
	for _, a := range append(append([]string{bin}, d.flags()...), extra...) {
		q = append(q, "'"+strings.ReplaceAll(a, "'", `'\''`)+"'")
	}
	cmdline := fmt.Sprintf("cd %s && HOME=%s SSH_AUTH_SOCK= TERM=xterm-256color COLORTERM=truecolor %s", d.dir, d.dir, strings.Join(q, " "))
	// The tmux server exits with its last session; a new session started
	// while it shuts down fails with "server exited unexpectedly": retry.
	for try := 0; ; try++ {
		_, err := tmux("new-session", "-d", "-s", c.session, "-x", fmt.Sprint(shotCols), "-y", fmt.Sprint(shotRows), cmdline)
		if err == nil {
			return c, nil
		}
		if try == 10 {
			return nil, err
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (c *tmuxConsole) stop() { _, _ = tmux("kill-session", "-t", c.session) }

func (c *tmuxConsole) keys(keys ...string) error {
	_, err := tmux(append([]string{"send-keys", "-t", c.session}, keys...)...)
	return err
}

func (c *tmuxConsole) screen(ansi bool) (string, error) {
	args := []string{"capture-pane", "-p", "-t", c.session}
	if ansi {
		args = append(args, "-e")
	}
	return tmux(args...)
}

// waitFor polls the screen until it shows text.
func (c *tmuxConsole) waitFor(text string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		s, err := c.screen(false)
		if err == nil && strings.Contains(s, text) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("screen never showed %q; it shows:\n%s", text, s)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// shoot renders the pane to PNG: capture-pane -e → aha → headless Chromium.
func (c *tmuxConsole) shoot(path string, light bool) error {
	ansi, err := c.screen(true)
	if err != nil {
		return err
	}
	bg, fg, flags := "#000", "#ddd", []string{"--no-header", "--black"}
	if light {
		bg, fg, flags = "#fff", "#222", []string{"--no-header"}
	}
	cmd := exec.Command("aha", flags...)
	cmd.Stdin = strings.NewReader(ansi)
	body, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("aha: %v", err)
	}
	page := `<!doctype html><html><head><meta charset="utf-8"><style>
body{margin:0;background:` + bg + `;color:` + fg + `}
pre{margin:8px;font-family:"DejaVu Sans Mono",monospace;font-size:14px;line-height:17px}
</style></head><body><pre>` + string(body) + `</pre></body></html>`
	tmp, err := os.MkdirTemp("", "shot")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	htmlPath := filepath.Join(tmp, "screen.html")
	if err := os.WriteFile(htmlPath, []byte(page), 0o644); err != nil {
		return err
	}
	abs, _ := filepath.Abs(path)
	w, h := shotCols*85/10+16, shotRows*17+16
	out, err := exec.Command("chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic", "--user-data-dir="+filepath.Join(tmp, "profile"),
		"--hide-scrollbars", "--force-device-scale-factor=1", fmt.Sprintf("--window-size=%d,%d", w, h),
		"--screenshot="+abs, "file://"+htmlPath).CombinedOutput()
	if err != nil {
		return fmt.Errorf("chromium: %v: %s", err, out)
	}
	fmt.Println("wrote", path)
	return nil
}

// screenshots drives the console through its views and renders each.
func (d *demo) screenshots(out string) error {
	for _, tool := range []string{"tmux", "aha", "chromium"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s is needed for screenshots (make deps installs it)", tool)
		}
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	_ = d.down() // a fresh fleet, so every run shows the same story
	if err := d.up(); err != nil {
		return err
	}
	defer func() {
		if err := d.down(); err != nil {
			fmt.Fprintln(os.Stderr, "demo: removing the practice fleet:", err)
		}
	}()
	// A slow entry so the push can be caught in progress.
	if _, err := d.batch("exec", "--", "sleep 8"); err != nil {
		return err
	}
	c, err := d.startConsole("--theme", "dark")
	if err != nil {
		return err
	}
	defer c.stop()
	steps := []struct {
		keys []string
		wait string
		file string
	}{
		{nil, "round 2:", "hosts.png"},
		{[]string{"2"}, "staged", "journal.png"},
		{[]string{"p"}, "would change", "plan.png"},
		{[]string{"a"}, "Approve", ""},
		{[]string{"y"}, "approved —", ""},
		{[]string{"P"}, "Push", ""},
		{[]string{"y"}, "applying", "push.png"},
		{[]string{"x"}, "Stop push", "stop.png"}, // asked, not stopped
		{[]string{"n"}, "· finished", ""},
		{[]string{"?"}, "global", "help.png"},
	}
	for _, s := range steps {
		if len(s.keys) > 0 {
			if err := c.keys(s.keys...); err != nil {
				return err
			}
		}
		if err := c.waitFor(s.wait, 30*time.Second); err != nil {
			return err
		}
		time.Sleep(300 * time.Millisecond) // let the frame settle
		if s.file != "" {
			if err := c.shoot(filepath.Join(out, s.file), false); err != nil {
				return err
			}
		}
	}
	c.stop()
	light, err := d.startConsole("--theme", "light", "--no-scan")
	if err != nil {
		return err
	}
	defer light.stop()
	if err := light.waitFor("Hosts", 30*time.Second); err != nil {
		return err
	}
	if err := light.keys("2"); err != nil {
		return err
	}
	time.Sleep(time.Second)
	return light.shoot(filepath.Join(out, "light.png"), true)
}
