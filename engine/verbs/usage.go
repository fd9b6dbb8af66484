package verbs

import (
	"bufio"
	"os"
	"strings"
)

// UsageCase is one line of a usage-errors file: a command line the table
// refuses and the error it gives.
type UsageCase struct{ Line, Err string }

// ReadUsageErrors reads a usage-errors file (testdata/usage-errors.txt):
// "LINE<TAB>ERROR" per line, "#" comments. The faces' tests run it.
func ReadUsageErrors(path string) ([]UsageCase, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []UsageCase
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := sc.Text()
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		line, msg, _ := strings.Cut(l, "\t")
		out = append(out, UsageCase{Line: line, Err: msg})
	}
	return out, sc.Err()
}
