package engine

import "strings"

// NaturalCompare orders names as people count: runs of digits compare by
// their value, so h2 sorts before h10 and web9 before web10. Text compares
// byte-wise; equal values with different zero padding fall back to
// byte order so the order is total.
func NaturalCompare(a, b string) int {
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		ca, cb := a[i], b[j]
		if isDigit(ca) && isDigit(cb) {
			si, sj := i, j
			for i < len(a) && isDigit(a[i]) {
				i++
			}
			for j < len(b) && isDigit(b[j]) {
				j++
			}
			na := strings.TrimLeft(a[si:i], "0")
			nb := strings.TrimLeft(b[sj:j], "0")
			if len(na) != len(nb) {
				if len(na) < len(nb) {
					return -1
				}
				return 1
			}
			if c := strings.Compare(na, nb); c != 0 {
				return c
			}
			continue
		}
		if ca != cb {
			if ca < cb {
				return -1
			}
			return 1
		}
		i++
		j++
	}
	switch {
	case len(a)-i < len(b)-j:
		return -1
	case len(a)-i > len(b)-j:
		return 1
	}
	return strings.Compare(a, b)
}

// NaturalLess is NaturalCompare(a, b) < 0.
func NaturalLess(a, b string) bool { return NaturalCompare(a, b) < 0 }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
