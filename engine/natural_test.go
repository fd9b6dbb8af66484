package engine

import (
	"slices"
	"testing"
)

func TestNaturalCompare(t *testing.T) {
	got := []string{"h10", "h2", "web10", "h1", "web9", "h02", "db", "h", "web10a", "10.0.0.2", "10.0.0.10"}
	slices.SortFunc(got, NaturalCompare)
	want := []string{"10.0.0.2", "10.0.0.10", "db", "h", "h1", "h02", "h2", "h10", "web9", "web10", "web10a"}
	if !slices.Equal(got, want) {
		t.Fatalf("sorted %q\nwant   %q", got, want)
	}
	for _, c := range [][2]string{{"a", "a"}, {"x07", "x07"}} {
		if NaturalCompare(c[0], c[1]) != 0 {
			t.Errorf("%q vs %q not equal", c[0], c[1])
		}
	}
	if NaturalCompare("h02", "h2") == 0 {
		t.Error("h02 and h2 compare equal: the order would not be total")
	}
}

func FuzzNaturalCompare(f *testing.F) {
	f.Add("h2", "h10")
	f.Add("a01", "a1")
	f.Fuzz(func(t *testing.T, a, b string) {
		ab, ba := NaturalCompare(a, b), NaturalCompare(b, a)
		if ab != -ba {
			t.Fatalf("not antisymmetric: %q %q: %d %d", a, b, ab, ba)
		}
		if (ab == 0) != (a == b) {
			t.Fatalf("%q %q compare %d", a, b, ab)
		}
	})
}
