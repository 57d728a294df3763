// Package browsertest finds the headless Chromium that the tests of web
// pages (crew bench's report, the cluster's live view) drive.
package browsertest

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"
)

// Path is where Debian installs Chromium.
const Path = "/usr/bin/chromium"

// Chromium returns Debian's chromium, installing it with apt-get when it
// is missing and the test runs as root, and skips the test with a message
// that says why otherwise.
func Chromium(t testing.TB) string {
	t.Helper()
	if _, err := os.Stat(Path); err == nil {
		return Path
	}
	if os.Geteuid() != 0 {
		t.Skip("chromium is not installed (" + Path + ") and the test is not root, so it cannot apt-get install it: install Debian's chromium to check the page in a browser")
	}
	if _, err := exec.LookPath("apt-get"); err != nil {
		t.Skip("chromium is not installed (" + Path + ") and there is no apt-get to install it with")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	install := exec.CommandContext(ctx, "apt-get", "install", "-y", "--no-install-recommends", "chromium")
	install.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	if b, err := install.CombinedOutput(); err != nil {
		t.Skipf("chromium is not installed and apt-get install chromium failed (%v): %s", err, b[max(len(b)-500, 0):])
	}
	if _, err := os.Stat(Path); err != nil {
		t.Skipf("apt-get installed chromium, but not at %s", Path)
	}
	return Path
}
