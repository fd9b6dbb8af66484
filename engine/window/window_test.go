package window

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestParseAndNext(t *testing.T) {
	for _, tc := range []struct {
		window, now string
		open        bool
		start, end  string
	}{
		// 2026-12-05 is a Saturday.
		{"Sat 02:00-04:00 UTC", "2026-12-02T05:00:00Z", false, "2026-12-05T02:00:00Z", "2026-12-05T04:00:00Z"},
		{"Sat 02:00-04:00 UTC", "2026-12-05T02:00:00Z", true, "2026-12-05T02:00:00Z", "2026-12-05T04:00:00Z"},
		{"Sat 02:00-04:00 UTC", "2026-12-05T03:59:59Z", true, "2026-12-05T02:00:00Z", "2026-12-05T04:00:00Z"},
		{"Sat 02:00-04:00 UTC", "2026-12-05T04:00:00Z", false, "2026-12-12T02:00:00Z", "2026-12-12T04:00:00Z"},
		{"saturday 02:00-04:00 utc", "2026-12-05T01:00:00Z", false, "2026-12-05T02:00:00Z", "2026-12-05T04:00:00Z"},
		// Past midnight: Friday 23:00 to Saturday 01:00, open on Saturday.
		{"Fri 23:00-01:00 UTC", "2026-12-05T00:30:00Z", true, "2026-12-04T23:00:00Z", "2026-12-05T01:00:00Z"},
		{"Mon-Fri 22:30-23:00 UTC", "2026-12-05T12:00:00Z", false, "2026-12-07T22:30:00Z", "2026-12-07T23:00:00Z"},
		{"Fri-Mon 10:00-11:00 UTC", "2026-12-06T10:30:00Z", true, "2026-12-06T10:00:00Z", "2026-12-06T11:00:00Z"},
		{"Sat,Sun 03:00-05:00 UTC", "2026-12-05T06:00:00Z", false, "2026-12-06T03:00:00Z", "2026-12-06T05:00:00Z"},
		{"* 04:00-04:30 UTC", "2026-12-02T05:00:00Z", false, "2026-12-03T04:00:00Z", "2026-12-03T04:30:00Z"},
		{"Sat 22:00-24:00 UTC", "2026-12-05T23:00:00Z", true, "2026-12-05T22:00:00Z", "2026-12-06T00:00:00Z"},
		// Wall-clock time in the zone: Berlin is UTC+1 in December, +2 in July.
		{"Sat 02:00-04:00 Europe/Berlin", "2026-12-02T00:00:00Z", false, "2026-12-05T01:00:00Z", "2026-12-05T03:00:00Z"},
		{"Sat 02:00-04:00 Europe/Berlin", "2026-07-01T00:00:00Z", false, "2026-07-04T00:00:00Z", "2026-07-04T02:00:00Z"},
		// cron: minute hour dom month dow.
		{"cron 0 2 * * 6 2h UTC", "2026-12-02T05:00:00Z", false, "2026-12-05T02:00:00Z", "2026-12-05T04:00:00Z"},
		{"cron 30 1 1 * * 90m UTC", "2026-12-02T05:00:00Z", false, "2027-01-01T01:30:00Z", "2027-01-01T03:00:00Z"},
		{"cron 0 */6 * * * 1h UTC", "2026-12-02T06:30:00Z", true, "2026-12-02T06:00:00Z", "2026-12-02T07:00:00Z"},
		{"cron 0 3 29 2 * 1h UTC", "2026-12-02T00:00:00Z", false, "2028-02-29T03:00:00Z", "2028-02-29T04:00:00Z"},
		{"cron 0 3 * * 7 1h UTC", "2026-12-02T00:00:00Z", false, "2026-12-06T03:00:00Z", "2026-12-06T04:00:00Z"},
	} {
		w, err := Parse(tc.window)
		if err != nil {
			t.Errorf("%q: %v", tc.window, err)
			continue
		}
		now := at(tc.now)
		o, ok := w.Next(now)
		if !ok {
			t.Errorf("%q at %s: no next opening", tc.window, tc.now)
			continue
		}
		if !o.Start.Equal(at(tc.start)) || !o.End.Equal(at(tc.end)) || o.Open(now) != tc.open {
			t.Errorf("%q at %s: got %s-%s open %v, want %s-%s open %v", tc.window, tc.now, o.Start.UTC(), o.End.UTC(), o.Open(now), tc.start, tc.end, tc.open)
		}
		if _, cur := w.Current(now); cur != tc.open {
			t.Errorf("%q at %s: Current %v, want %v", tc.window, tc.now, cur, tc.open)
		}
	}
}

func TestParseErrorsNameTheColumn(t *testing.T) {
	for _, tc := range []struct {
		window string
		col    int
		says   string
	}{
		{"Sat 02:00-04:00 UTX", 17, "unknown time zone"},
		{"Sta 02:00-04:00 UTC", 1, "not a weekday"},
		{"Mon-Fry 02:00-04:00 UTC", 5, "not a weekday"},
		{"Sat,Sux 02:00-04:00 UTC", 5, "not a weekday"},
		{"Sat 2:00-25:00 UTC", 10, "not a time of day"},
		{"Sat 02:00 UTC", 5, "not a time range"},
		{"Sat 02:00-04:00", 16, "missing a time zone"},
		{"Sat", 4, "missing a time range"},
		{"Sat 02:00-02:00 UTC", 5, "never opens"},
		{"Sat 02:00-04:00 UTC extra", 21, "unexpected"},
		{"Sat 02:00-04:00 Local", 17, "name the zone"},
		{"Sat 02:00-04:00 ../../etc/passwd", 17, "not a time zone name"},
		{"cron 0 2 * * 6 UTC", 19, "a cron window is"},
		{"cron 61 2 * * 6 2h UTC", 6, "minute field"},
		{"cron 0 2 * 13 * 2h UTC", 12, "month field"},
		{"cron 0 2 * * 6 2x UTC", 16, "not a length"},
		{"cron 0 2 31 2 * 1h UTC", 0, "never opens"},
		{"Sat 02:00-04:00\tUTC\x1b", 20, "control character"},
	} {
		_, err := Parse(tc.window)
		if err == nil {
			t.Errorf("%q: accepted", tc.window)
			continue
		}
		pe, ok := err.(*Error)
		if !ok || pe.Column != tc.col || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%q: %v (column %d), want column %d saying %q", tc.window, err, pe.Column, tc.col, tc.says)
		}
	}
}

func TestOverlaps(t *testing.T) {
	now := at("2026-12-02T00:00:00Z")
	for _, tc := range []struct {
		windows []string
		says    string
	}{
		{[]string{"Sat 02:00-04:00 UTC", "Sat 03:00-05:00 UTC"}, "overlap"},
		{[]string{"Sat 02:00-04:00 UTC", "* 03:30-03:45 UTC"}, "overlap"},
		{[]string{"Sat 02:00-04:00 UTC", "Sat 03:00-05:00 Europe/Berlin"}, "overlap"}, // 02:00-04:00 UTC in winter
		{[]string{"Fri 23:00-02:00 UTC", "Sat 01:00-03:00 UTC"}, "overlap"},
		{[]string{"cron */30 * * * * 1h UTC"}, "overlaps itself"},
		{[]string{"Sat 02:00-04:00 UTC", "Sat 04:00-05:00 UTC"}, ""}, // adjacent
		{[]string{"Sat 02:00-04:00 UTC", "Sun 02:00-04:00 UTC"}, ""},
	} {
		_, err := ParseAll(tc.windows, now)
		switch {
		case tc.says == "" && err != nil:
			t.Errorf("%q: %v", tc.windows, err)
		case tc.says != "" && (err == nil || !strings.Contains(err.Error(), tc.says)):
			t.Errorf("%q: %v, want %q", tc.windows, err, tc.says)
		}
	}
	ws, err := ParseAll([]string{"Sun 02:00-04:00 UTC", "Sat 02:00-04:00 UTC"}, now)
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := Next(ws, now); !o.Start.Equal(at("2026-12-05T02:00:00Z")) || o.Window != "Sat 02:00-04:00 UTC" {
		t.Errorf("next of two windows: %+v", o)
	}
}

// FuzzParse: any input either parses into a window that opens, whose
// opening contains its start and ends after it, or fails with an error
// naming a column inside (or just after) the input; never a panic or a
// search without end.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"Sat 02:00-04:00 UTC", "Mon-Fri 22:30-01:00 Europe/Berlin", "* 04:00-04:30 UTC",
		"cron 0 2 * * 6 2h UTC", "cron */15 1-5 1,15 * * 10m America/New_York", "cron 0 3 29 2 * 1h UTC", "Sat 02:00-02:00 UTC"} {
		f.Add(s)
	}
	now := at("2026-12-02T00:00:00Z")
	f.Fuzz(func(t *testing.T, s string) {
		w, err := Parse(s)
		if err != nil {
			pe, ok := err.(*Error)
			if !ok {
				t.Fatalf("%q: error of type %T", s, err)
			}
			if pe.Column < 0 || pe.Column > utf8.RuneCountInString(s)+1 {
				t.Fatalf("%q: column %d outside the input", s, pe.Column)
			}
			return
		}
		if w.Length < time.Minute || w.Loc == nil {
			t.Fatalf("%q: length %s zone %v", s, w.Length, w.Loc)
		}
		o, ok := w.Next(now)
		if !ok {
			return // opens only beyond the search (validated from 2024)
		}
		if !o.Open(o.Start) || !o.End.After(o.Start) || o.End.Before(now) {
			t.Fatalf("%q: opening %v–%v at %v", s, o.Start, o.End, now)
		}
		if _, err := Parse(w.Source); err != nil {
			t.Fatalf("%q: its normal form %q does not parse: %v", s, w.Source, err)
		}
	})
}

// BenchmarkNext: the next opening, as every hosts view and scrape asks.
func BenchmarkNext(b *testing.B) {
	now := at("2026-12-02T05:00:00Z")
	for _, s := range []string{"Sat 02:00-04:00 UTC", "Mon-Fri 22:30-01:00 Europe/Berlin", "cron 0 2 * * 6 2h UTC", "cron 0 3 29 2 * 1h UTC"} {
		b.Run(s, func(b *testing.B) {
			w, err := Parse(s)
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				w.Next(now)
			}
		})
	}
}
