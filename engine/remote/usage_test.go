package remote

import (
	"strings"
	"testing"
	"time"
)

func TestUsageLines(t *testing.T) {
	b := &Bundle{}
	var res ApplyResult
	in := "M 1 31 3 10497924 10485854 0 -\nR 1 ok 0 40 -\nR 2 ok 0 0 -\nEND 2 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"
	if _, err := readApplyReply(strings.NewReader(in), Target{Name: "h"}, b, &res, nil); err != nil {
		t.Fatal(err)
	}
	u := res.Entries[0].Usage
	if u == nil || u.UserCPU != 310*time.Millisecond || u.SysCPU != 30*time.Millisecond || u.ReadChars != 10497924 || u.WriteChars != 10485854 ||
		u.ReadBytes != 0 || u.WriteBytes != -1 || res.Entries[1].Usage != nil {
		t.Fatalf("usage: %+v / %+v", u, res.Entries[1].Usage)
	}
	for _, in := range []string{
		"M 1 1 1 1 1 1\nR 1 ok 0 0 -\n",                      // a field short
		"M 1 - 1 1 1 1 1\nR 1 ok 0 0 -\n",                    // CPU is always known
		"M 1 1 1 -5 1 1 1\nR 1 ok 0 0 -\n",                   // negative
		"M 1 1 1 99999999999999999999 1 1 1\nR 1 ok 0 0 -\n", // beyond the cap
		"M 1 1 1 1 1 1 1\nR 2 ok 0 0 -\n",                    // usage of another entry
		"M 1 1 1 1 1 1 1\nM 1 1 1 1 1 1 1\nR 1 ok 0 0 -\n",   // two before one result
		"M x 1 1 1 1 1 1\nR 1 ok 0 0 -\n",
	} {
		var res ApplyResult
		if _, err := readApplyReply(strings.NewReader(in+"END 1 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"), Target{Name: "h"}, b, &res, nil); err == nil {
			t.Errorf("readApplyReply(%q): no error", in)
		}
	}
}
